# Shared by the scripts that set up virtual environments (sourced, never run on its own).
#
# pip_quiet CMD...   run a pip command, keeping its errors on stderr but dropping the "Location ... is
#                    ignored" warning that a find-links/extra-index entry pointing at a missing directory
#                    prints for every package, and setuptools' boxed notice about editable installs, so a
#                    real error is not buried (pipefail keeps pip's status).
#
# For a service's own venv, the caller sets NAME (log prefix), VENV, PY, MARKER, WANT (what the marker
# file must hold once the venv is complete) and EXE (what the script prints), then calls
#   done_if_complete; lock_build; require_python MIN MAX_EXCLUSIVE
# and, after installing and checking, finish_build.

pip_quiet() {
    "$@" 2>&1 | { grep -v -E "^WARNING: Location '.*' is ignored|BuildBackendWarning: Editable installation|^ *!!$|^ *\*{20,}$|Please be careful with folders|name as your package as they may take|with strategy, WheelFile|^ *$" || true; } >&2
}

log() { echo "$NAME: $*" >&2; }

is_complete() {
    [[ -f "$MARKER" && -x "$EXE" && -x "$VENV/bin/python" ]] && [[ "$(cat "$MARKER")" == "$WANT" ]]
}

# Print EXE and stop the script when the venv is already built.
done_if_complete() {
    if is_complete; then
        echo "$EXE"
        exit 0
    fi
}

# Serialise concurrent builds (two test sessions starting at once) with flock when available; whoever
# waited finds the venv built and stops there.
lock_build() {
    mkdir -p "$(dirname "$VENV")"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$VENV.lock"
        if ! flock -w 1800 9; then
            log "timed out waiting for another build holding $VENV.lock"
            exit 1
        fi
        done_if_complete
    fi
}

# require_python 10 14: PY must exist and be 3.10 <= version < 3.14.
require_python() {
    if ! command -v "$PY" >/dev/null 2>&1; then
        log "interpreter '$PY' not found"
        exit 1
    fi
    if ! "$PY" -c "import sys; sys.exit(0 if (3, $1) <= sys.version_info[:2] < (3, $2) else 1)"; then
        log "$WANT needs Python 3.$1 to 3.$(($2 - 1)); '$PY' is $("$PY" -V 2>&1)"
        exit 1
    fi
}

pip_install() {
    pip_quiet "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# Write the marker (the venv is complete from now on) and print EXE.
finish_build() {
    echo "$WANT" >"$MARKER"
    log "done in $(($(date +%s) - BUILD_START)) s"
    echo "$EXE"
}
