#!/usr/bin/env bash
# Build (or reuse) the virtual environment that runs the Label Studio server.
#
# Label Studio is a separate service with its own (large, tightly pinned) dependency
# set, so it never goes into the project's venv. This script installs it into
#   ${ANNOTATOR_LABELSTUDIO_VENV:-$HOME/.cache/emo-annotator/labelstudio-1.23.2}
# and prints the path of the `label-studio` executable on stdout (progress goes to stderr).
#
# Idempotent: a marker file is written only after a successful install and import check;
# when it is present the script returns at once. A half-built venv (no marker) is
# removed and rebuilt. Concurrent callers are serialised with flock when available.
#
# Environment:
#   ANNOTATOR_LABELSTUDIO_VENV    venv directory (default above)
#   ANNOTATOR_LABELSTUDIO_PYTHON  interpreter to build it with (default: python3; needs >=3.10)
set -euo pipefail
source "$(dirname "$0")/lib/venv.sh"

LS_VERSION="1.23.2"
NAME="labelstudio-venv"
VENV="${ANNOTATOR_LABELSTUDIO_VENV:-$HOME/.cache/emo-annotator/labelstudio-${LS_VERSION}}"
PY="${ANNOTATOR_LABELSTUDIO_PYTHON:-python3}"
MARKER="$VENV/.emo-annotator-labelstudio-ok"
WANT="label-studio==${LS_VERSION}"
EXE="$VENV/bin/label-studio"

done_if_complete
lock_build
require_python 10 100

if [[ -e "$VENV" ]]; then
    # Only ever delete something that is recognisably a (partial) venv, or an empty dir.
    if [[ -f "$VENV/pyvenv.cfg" ]] || [[ -d "$VENV" && -z "$(ls -A "$VENV")" ]]; then
        log "removing incomplete venv at $VENV"
        rm -rf "$VENV"
    else
        log "$VENV exists and is not a venv; refusing to touch it"
        exit 1
    fi
fi

BUILD_START=$(date +%s)
log "creating venv at $VENV with $("$PY" -V 2>&1)"
"$PY" -m venv "$VENV"
log "installing label-studio==${LS_VERSION} (a few minutes on first build)"
pip_install --upgrade pip
pip_install "label-studio==${LS_VERSION}"

# Check the install before declaring it complete.
"$VENV/bin/python" - <<PYEOF >&2
from importlib.metadata import version
import label_studio, label_studio_sdk  # noqa: F401
v = version("label-studio")
assert v == "${LS_VERSION}", v
print("labelstudio-venv: label-studio", v, "label-studio-sdk", version("label-studio-sdk"))
PYEOF
[[ -x "$EXE" ]] || { log "$EXE missing after install"; exit 1; }
finish_build
