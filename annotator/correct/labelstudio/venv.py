"""Build (or reuse) the virtual environment that runs the Label Studio server. Standard library only.

Label Studio is a separate service with its own large, tightly pinned dependency set, so it never goes
into our environment: it gets a venv of its own. Idempotent: a marker file is written only after a
successful install and import check, and when it is present this returns at once; a half-built venv
(no marker) is removed and rebuilt; concurrent builders wait for each other (``flock``).

Run as a script (``scripts/labelstudio-venv.sh`` does) it prints the ``label-studio`` executable's path
on stdout, progress on stderr; ``annotator labelstudio serve`` calls :func:`ensure_venv`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

LABEL_STUDIO_VERSION = "1.23.2"  # pins label-studio-sdk 2.1.2, the SDK we drive it with
WANT = f"label-studio=={LABEL_STUDIO_VERSION}"
MARKER = ".emo-annotator-labelstudio-ok"


class VenvError(RuntimeError):
    """The Label Studio venv cannot be built; the message says why."""


def default_venv_path() -> Path:
    """``~/.cache/emo-annotator/labelstudio-<version>``."""
    return Path.home() / ".cache" / "emo-annotator" / f"labelstudio-{LABEL_STUDIO_VERSION}"


def executable(venv: Path) -> Path:
    """The ``label-studio`` command inside ``venv``."""
    return venv / "bin" / "label-studio"


def is_complete(venv: Path) -> bool:
    """Whether ``venv`` holds a finished, checked install of the pinned Label Studio."""
    marker = venv / MARKER
    return (marker.is_file() and marker.read_text().strip() == WANT and os.access(executable(venv), os.X_OK)
            and os.access(venv / "bin" / "python", os.X_OK))


def ensure_venv(venv: Path | None = None, python: str | None = None,
                log: Callable[[str], None] = lambda m: print(f"labelstudio-venv: {m}", file=sys.stderr)) -> Path:
    """The venv directory, built first if needed (a few minutes and ~1 GB the first time)."""
    venv = Path(venv or default_venv_path()).expanduser()
    if is_complete(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # whoever waited finds it built
        if is_complete(venv):
            return venv
        _build(venv, python or "python3", log)
    return venv


def _build(venv: Path, python: str, log: Callable[[str], None]) -> None:
    interpreter = shutil.which(python)
    if interpreter is None:
        raise VenvError(f"interpreter {python!r} not found: set ANNOTATOR_LABELSTUDIO_PYTHON to a Python 3.10-3.13")
    probe = subprocess.run([interpreter, "-c", "import sys; print(sys.version_info[:2] >= (3, 10) and "
                            "sys.version_info[:2] < (3, 14))"], capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        raise VenvError(f"{WANT} needs Python 3.10 to 3.13; {interpreter} is not: set ANNOTATOR_LABELSTUDIO_PYTHON")
    if venv.exists():  # only ever delete what is recognisably a (partial) venv, or an empty folder
        if (venv / "pyvenv.cfg").is_file() or (venv.is_dir() and not any(venv.iterdir())):
            log(f"removing the incomplete venv at {venv}")
            shutil.rmtree(venv)
        else:
            raise VenvError(f"{venv} exists and is not a venv; refusing to touch it (set ANNOTATOR_LABELSTUDIO_VENV)")
    began = time.monotonic()
    log(f"creating a venv at {venv}")
    _run([interpreter, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--upgrade", "pip"])
    log(f"installing {WANT} (a few minutes on the first build)")
    _run([*pip, WANT])
    check = ("from importlib.metadata import version; import label_studio, label_studio_sdk; "
             f"assert version('label-studio') == '{LABEL_STUDIO_VERSION}', version('label-studio'); "
             "print(version('label-studio'), version('label-studio-sdk'))")
    versions = _run([str(venv / "bin" / "python"), "-c", check]).split()
    if not os.access(executable(venv), os.X_OK):
        raise VenvError(f"{executable(venv)} is missing after the install")
    (venv / MARKER).write_text(WANT + "\n")
    log(f"label-studio {versions[0]} (label-studio-sdk {versions[-1]}) ready in {time.monotonic() - began:.0f} s")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise VenvError(f"`{' '.join(cmd[:4])} ...` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


if __name__ == "__main__":
    try:
        built = ensure_venv(Path(os.environ["ANNOTATOR_LABELSTUDIO_VENV"]) if os.environ.get("ANNOTATOR_LABELSTUDIO_VENV")
                            else None, os.environ.get("ANNOTATOR_LABELSTUDIO_PYTHON"))
    except VenvError as exc:
        print(f"labelstudio-venv: {exc}", file=sys.stderr)
        sys.exit(1)
    print(executable(built))
