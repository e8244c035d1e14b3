"""Connection from settings, retries against a port where nothing listens, token handling (no server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from annotator.correct.labelstudio.client import LabelStudioError, LabelStudioUnavailable, call, connect
from annotator.settings import get_settings
from tests.support.labelstudio_server import free_port

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def _env(monkeypatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"ANNOTATOR_LABELSTUDIO_{key.upper()}", value)
    get_settings.cache_clear()


def test_no_token_is_a_user_error(monkeypatch):
    _env(monkeypatch, token="")
    with pytest.raises(LabelStudioError, match="ANNOTATOR_LABELSTUDIO_TOKEN"):
        connect()


def test_expired_personal_access_token_is_refused_without_echoing_it(monkeypatch):
    import jwt

    expired = jwt.encode({"token_type": "refresh", "exp": int(time.time()) - 60}, "k" * 32, algorithm="HS256")
    _env(monkeypatch, token=expired)
    with pytest.raises(LabelStudioError) as err:
        connect()
    assert "expired" in str(err.value) and expired not in str(err.value)


def test_server_down_retries_with_backoff_then_gives_up(monkeypatch):
    _env(monkeypatch, url=f"http://127.0.0.1:{free_port()}", token=TOKEN, max_retries="3", backoff="0.05",
         backoff_max="0.1")
    conn = connect()
    began = time.monotonic()
    with pytest.raises(LabelStudioUnavailable, match="after 4 attempts") as err:
        call(conn, conn.client.users.whoami)
    assert time.monotonic() - began >= 0.05 + 0.1 + 0.1 - 0.05  # three jittered waits happened
    assert TOKEN not in str(err.value)
    assert TOKEN not in repr(get_settings())  # SecretStr keeps it out of reprs and logs


class _Impostor(BaseHTTPRequestHandler):
    """Answers every request the same way: a 401, or a 200 that is not Label Studio's JSON."""

    status = 401
    body = b'{"detail": "Authentication credentials were not provided."}'
    content_type = "application/json"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Set-Cookie", f"sessionid={COOKIE}; Path=/")
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args) -> None:
        pass


COOKIE = "s3cr3t-session-cookie"


@pytest.fixture
def impostor(request, monkeypatch) -> Iterator[str]:
    status, body, content_type = request.param
    handler = type("Handler", (_Impostor,), {"status": status, "body": body, "content_type": content_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _env(monkeypatch, url=f"http://127.0.0.1:{server.server_address[1]}", token=TOKEN, max_retries="1",
         backoff="0.01")
    yield f"HTTP {status}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("impostor", [
    (401, b'{"detail": "Authentication credentials were not provided."}', "application/json"),
    (403, b'{"detail": "You do not have permission."}', "application/json"),
    (200, b'"garbage"', "application/json"),
    (200, b'[1, 2, {"id": null}]', "application/json"),
    (200, b"<html><body>Sign in</body></html>", "text/html"),
    (200, b'{"no": "id"}', "application/json"),
], indirect=True, ids=["401", "403", "json-string", "json-list", "html", "json-without-id"])
@pytest.mark.parametrize("command", ["push", "pull", "webhook --register --port 0"])
def test_a_server_that_refuses_or_is_not_label_studio_is_one_line_exit_2(impostor, command, runner, engine,
                                                                         monkeypatch):
    from annotator.cli.main import app

    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET", "x" * 16)
    get_settings.cache_clear()
    assert runner.invoke(app, ["project", "create", "p", "--taxonomy", "ekman"]).exit_code == 0
    result = runner.invoke(app, ["labelstudio", *command.split(), "--project", "p"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "ANNOTATOR_LABELSTUDIO_TOKEN" in lines[0] or "ANNOTATOR_LABELSTUDIO_URL" in lines[0]
    assert COOKIE not in result.output and TOKEN not in result.output and "set-cookie" not in result.output.lower()
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_server_that_never_answered_fails_after_two_quick_retries(monkeypatch, runner, engine):
    from annotator.cli.main import app

    _env(monkeypatch, url=f"http://127.0.0.1:{free_port()}", token=TOKEN, max_retries="8", backoff="0.05")
    began = time.monotonic()
    result = runner.invoke(app, ["labelstudio", "pull", "--project", "p"])
    assert result.exit_code == 2
    assert time.monotonic() - began < 5  # not the full policy: 8 retries up to 15 s apart
    assert "no Label Studio server answers" in result.output and "annotator labelstudio serve" in result.output
    retries = [line for line in result.output.splitlines() if "labelstudio.retry" in line]
    assert len(retries) == 2 and all("attempt=" in line and "ConnectError" in line for line in retries)
