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

LS_VERSION="1.23.2"
VENV="${ANNOTATOR_LABELSTUDIO_VENV:-$HOME/.cache/emo-annotator/labelstudio-${LS_VERSION}}"
PY="${ANNOTATOR_LABELSTUDIO_PYTHON:-python3}"
MARKER="$VENV/.emo-annotator-labelstudio-ok"
EXE="$VENV/bin/label-studio"

log() { echo "labelstudio-venv: $*" >&2; }

is_complete() {
    [[ -f "$MARKER" && -x "$EXE" && -x "$VENV/bin/python" ]] &&
        [[ "$(cat "$MARKER")" == "label-studio==${LS_VERSION}" ]]
}

if is_complete; then
    echo "$EXE"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"

# Serialise concurrent builds (two test sessions starting at once).
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
    log "interpreter '$PY' not found (set ANNOTATOR_LABELSTUDIO_PYTHON)"
    exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (4, 0) else 1)'; then
    log "label-studio ${LS_VERSION} needs Python >=3.10; '$PY' is $("$PY" -V 2>&1)"
    exit 1
fi

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

start=$(date +%s)
log "creating venv at $VENV with $("$PY" -V 2>&1)"
"$PY" -m venv "$VENV"
log "installing label-studio==${LS_VERSION} (a few minutes on first build)"
pip_install() {
    # Keep pip's own messages on stderr but drop the "Location ... is ignored" noise that a
    # find-links/extra-index entry pointing at a missing directory produces for every package,
    # so a real error is not buried. pipefail keeps pip's exit status.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 |
        { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2
}
pip_install --upgrade pip
pip_install "label-studio==${LS_VERSION}"

# Check the install before declaring it complete.
"$VENV/bin/python" - <<EOF >&2
from importlib.metadata import version
import label_studio, label_studio_sdk  # noqa: F401
v = version("label-studio")
assert v == "${LS_VERSION}", v
print("labelstudio-venv: label-studio", v, "label-studio-sdk", version("label-studio-sdk"))
EOF
[[ -x "$EXE" ]] || { log "$EXE missing after install"; exit 1; }

echo "label-studio==${LS_VERSION}" >"$MARKER"
log "done in $(($(date +%s) - start)) s"
echo "$EXE"
