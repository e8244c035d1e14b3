#!/usr/bin/env bash
# Build (or reuse) the virtual environment that runs the Label Studio server and print the path of its
# `label-studio` executable (progress on stderr). The logic lives in annotator/correct/labelstudio/venv.py
# (standard library only, so any python3 runs it; `annotator labelstudio serve` uses the same code).
#
# Environment:
#   ANNOTATOR_LABELSTUDIO_VENV    venv directory (default ~/.cache/emo-annotator/labelstudio-1.23.2)
#   ANNOTATOR_LABELSTUDIO_PYTHON  interpreter to build it with (default: python3; needs 3.10-3.13)
set -euo pipefail
exec python3 "$(dirname "$0")/../annotator/correct/labelstudio/venv.py"
