"""`annotator labelstudio serve`: a real Label Studio from its own venv, credentials kept, stopped cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotator.settings import get_settings
from tests.support.labelstudio_server import LabelStudioVenvError, ensure_venv, free_port

pytestmark = pytest.mark.slow


def _serve(port: int, env: dict[str, str]) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "annotator.cli.main", "labelstudio", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    exports: dict[str, str] = {}
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    while len(exports) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.match(r"export (ANNOTATOR_LABELSTUDIO_\w+)=(\S+)", line)
        if match:
            exports[match.group(1)] = match.group(2)
    if len(exports) < 2:
        proc.kill()
        pytest.fail(f"serve printed no exports: {proc.stdout.read()}")
    return proc, exports


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0


def test_serve_starts_a_server_the_sync_commands_can_use_and_keeps_its_token(tmp_path: Path, monkeypatch):
    try:
        ensure_venv()
    except LabelStudioVenvError as exc:
        pytest.skip(f"cannot build the Label Studio venv: {exc}")
    env = {**os.environ, "ANNOTATOR_LABELSTUDIO_DATA_DIR": str(tmp_path / "ls"),
           "ANNOTATOR_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    port = free_port()
    proc, exports = _serve(port, env)
    try:
        assert exports["ANNOTATOR_LABELSTUDIO_URL"] == f"http://127.0.0.1:{port}"
        for key, value in exports.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        from annotator.correct.labelstudio.client import check_server, connect

        check_server(connect())  # the printed token works
        busy = subprocess.run([sys.executable, "-m", "annotator.cli.main", "labelstudio", "serve", "--port",
                               str(port)], capture_output=True, text=True, env=env, timeout=300)
        assert busy.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in busy.stderr
    finally:
        _stop(proc)
    assert oct((tmp_path / "ls" / "admin.json").stat().st_mode & 0o777) == "0o600"

    proc, again = _serve(free_port(), env)  # the same data, the same token
    try:
        assert again["ANNOTATOR_LABELSTUDIO_TOKEN"] == exports["ANNOTATOR_LABELSTUDIO_TOKEN"]
    finally:
        _stop(proc)
