"""Peers that misbehave: webhook clients that drip, lie about lengths or speak other methods; a Label Studio
that drips its answers or answers in shapes it never writes; a damaged admin file. No server needed."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from annotator.correct.labelstudio import webhook
from annotator.correct.labelstudio.client import DeadlineTransport, LabelStudioError, connect
from annotator.correct.labelstudio.pull import PullReport, store_tasks
from annotator.correct.labelstudio.push import _project_id
from annotator.correct.labelstudio.server import LabelStudioServerError, _admin_credentials
from annotator.db import session_scope
from annotator.projects.service import create_project
from annotator.taxonomy import get_taxonomy

SECRET = "s" * 24
TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def receiver(engine, monkeypatch):
    """Our webhook receiver on a free loopback port, with a short whole-request deadline."""
    monkeypatch.setattr(webhook, "READ_DEADLINE", 1.0)
    server = webhook.make_server(engine, connect(url="http://127.0.0.1:9", token=TOKEN), SECRET, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _send(port: int, raw: bytes, drip: float = 0.0) -> tuple[int | None, dict | None, float]:
    """Send ``raw`` (a byte at a time every ``drip`` seconds, where given); return status, JSON body, seconds."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            if drip:
                for byte in raw:
                    s.sendall(bytes([byte]))
                    time.sleep(drip)
            else:
                s.sendall(raw)
        except OSError:
            pass  # the receiver hung up on us: what it answered (if anything) is below
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except OSError:
            pass
    seconds = time.monotonic() - began
    if not answer:
        return None, None, seconds
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), seconds


def _post(headers: str, body: bytes = b"") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nX-Annotator-Webhook-Secret: {SECRET}\r\nConnection: close\r\n"
            f"{headers}\r\n").encode() + body


def test_every_refusal_is_json(receiver):
    for raw, status in [
        (b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        (b"DELETE / HTTP/1.1\r\n\r\n", 405),
        (b'GARBAGE"LINE\r\n\r\n', 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
    ]:
        got, body, _ = _send(receiver, raw)
        assert got == status and isinstance(body, dict) and body["error"], (raw, got, body)


def test_a_length_that_is_missing_or_said_twice_is_refused_before_the_body(receiver):
    got, body, _ = _send(receiver, _post("Content-Length: 5\r\nContent-Length: 500\r\n", b'{"a":'))
    assert got == 411 and "one Content-Length" in body["error"]
    got, _, _ = _send(receiver, _post("", b"{}"))
    assert got == 411


def test_a_slow_drip_is_cut_off_at_the_deadline(receiver):
    body = json.dumps({"action": "ANNOTATION_CREATED"}).encode()
    # Each byte comes well within any per-read timeout; the whole request never would within the deadline.
    got, answer, seconds = _send(receiver, _post(f"Content-Length: {len(body)}\r\n", body), drip=0.05)
    assert seconds < 4.0
    assert got in (None, 408), answer
    # Headers dripped just as slowly are cut off too.
    _, _, seconds = _send(receiver, b"POST / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 200, drip=0.05)
    assert seconds < 4.0


def test_clients_that_hang_up_leave_no_traceback(receiver, capfd):
    body = b'{"action": "ANNOTATION_CREATED"}'
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", receiver)) as s:
            s.sendall(_post(f"Content-Length: {len(body) + 100}\r\n", body))  # promises more than it sends
    time.sleep(1.5)
    got, body_json, _ = _send(receiver, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert got == 200 and body_json == {"status": "ok"}  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_the_webhook_command_on_a_busy_port_is_one_line(runner, engine, monkeypatch):
    from annotator.cli.main import app
    from annotator.settings import get_settings

    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_TOKEN", TOKEN)
    get_settings.cache_clear()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args in (["--port", str(port)], ["--host", "no-such-host.invalid", "--port", "0"]):
            result = runner.invoke(app, ["labelstudio", "webhook", *args])
            assert result.exit_code == 2, result.output
            assert result.output.startswith("error: cannot listen on") and len(result.output.splitlines()) == 1


def test_pull_leaves_out_what_label_studio_never_writes(engine):
    with session_scope(engine) as db:
        project = create_project(db, "p", get_taxonomy("ekman"))
        report = store_tasks(db, project, 1, [
            5, None, "task", {"id": "abc"}, {"id": True}, {"no": "id"},
            {"id": 7, "data": [1, 2], "annotations": "not a list", "predictions": {"x": 1}},
            {"id": 8, "data": {"item_id": "nine"}, "annotations": [5, {"id": None}, {"result": []}]},
        ], users=None)  # type: ignore[arg-type]  # nothing here names a user
    assert isinstance(report, PullReport)
    assert report.malformed == 6 + 3 and report.inserted == report.updated == 0


@pytest.mark.parametrize("answer", [None, SimpleNamespace(), SimpleNamespace(id=None), SimpleNamespace(id="abc"),
                                    SimpleNamespace(id=True)])
def test_push_refuses_a_project_answer_without_an_id(answer):
    with pytest.raises(LabelStudioError, match="without a project id"):
        _project_id(answer, SimpleNamespace(url="http://ls.example"))  # type: ignore[arg-type]
    assert _project_id(SimpleNamespace(id=12), SimpleNamespace(url="x")) == 12  # type: ignore[arg-type]


@pytest.mark.parametrize("content", ["5", "null", "{}", "[]", '{"username": "a", "password": "b"}',
                                     '{"username": "a", "password": "b", "token": 5}', "not json", "\udcff"])
def test_a_damaged_admin_file_is_reported_and_kept(tmp_path: Path, content):
    path = tmp_path / "admin.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(LabelStudioServerError, match="not the admin file"):
        _admin_credentials(path)
    assert path.read_bytes() == content.encode("utf-8", "surrogateescape")


def test_an_admin_file_is_made_once(tmp_path: Path):
    path = tmp_path / "admin.json"
    made = _admin_credentials(path)
    assert _admin_credentials(path) == made and oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_dripping_answer_is_cut_off_at_the_request_deadline():
    """A server that sends its answer a byte at a time, each within the read timeout, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
        while not stop.is_set():
            try:
                conn.sendall(b" ")
            except OSError:
                break
            time.sleep(0.05)
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    client = httpx.Client(timeout=5.0, transport=DeadlineTransport(1.0))
    began = time.monotonic()
    try:
        with pytest.raises(httpx.ReadTimeout, match="in all"):
            client.get(f"http://127.0.0.1:{listener.getsockname()[1]}/api/projects/")
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - began < 3.0
