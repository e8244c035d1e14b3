#!/usr/bin/env bash
# Set up (a virtual environment in .venv) and run the main job on the embedded default: SQLite, no server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/annotator demo "$@"
