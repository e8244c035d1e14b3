"""A small webhook receiver (stdlib ``http.server``): Label Studio annotation events -> our database.

Label Studio POSTs ``{"action", "annotation", "task", "project"}`` with the headers we registered;
we check the shared secret header, then store the annotation exactly as pull does. Without Redis,
Label Studio sends webhooks synchronously with a 1 s timeout and no retries, so the handler is kept
short, and pull remains the way to catch up on anything missed while the receiver was down.

The payload is a notification, not the data: anyone holding the secret could post any result under
any user id, for any task, or replay an old event. So the receiver accepts events only for tasks we
pushed to that Label Studio project, and stores the server's own copy of the annotation (fetched by id:
its result, and the server user who made it), never the posted one. A replay stores the current
state again, which changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from annotator.correct.labelstudio import store
from annotator.correct.labelstudio.client import Connection, LabelStudioError, call, ls_id
from annotator.correct.labelstudio.pull import PullReport, UserDirectory, store_tasks
from annotator.db import session_scope

log = logging.getLogger(__name__)
ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
SECRET_HEADER = "X-Annotator-Webhook-Secret"
_MAX_BODY = 20 * 1024 * 1024


class BadEvent(ValueError):
    """A request body that is not a Label Studio annotation event (answered 400)."""


def handle_event(engine: Engine, conn: Connection, users: UserDirectory, payload: Any) -> PullReport | None:
    """Store the server's copy of the annotation an ANNOTATION_CREATED/UPDATED event names; None for other
    events. Events for tasks we did not push to that project are counted as unknown and store nothing."""
    if not isinstance(payload, dict):
        raise BadEvent("the body must be a JSON object")
    if payload.get("action") not in ACTIONS:
        return None
    annotation, task, project = payload.get("annotation"), payload.get("task"), payload.get("project")
    ann_id = ls_id(annotation.get("id")) if isinstance(annotation, dict) else None
    task_id = ls_id(task.get("id")) if isinstance(task, dict) else None
    ls_pid = ls_id(project.get("id")) if isinstance(project, dict) else (
        ls_id(annotation.get("project")) if isinstance(annotation, dict) else None)
    if ann_id is None or task_id is None or ls_pid is None:
        raise BadEvent("an annotation event needs annotation.id, task.id and project.id (integers)")
    unknown = PullReport(tasks=1, unknown_tasks=1)
    with session_scope(engine) as db:
        ours = store.project_for_ls_project(db, ls_pid)
        pushed = ours is not None and task_id in store.task_map(db, ls_pid, [task_id])
    if not pushed:
        log.warning("labelstudio.webhook_unknown_task", extra={"ls_project": ls_pid, "task": task_id})
        return unknown
    try:
        fetched = call(conn, conn.client.annotations.get, id=ann_id)
    except LabelStudioError as exc:
        if exc.status != 404:
            raise
        return unknown  # deleted since, or never existed
    if fetched.task != task_id or fetched.project not in (None, ls_pid):
        log.warning("labelstudio.webhook_mismatch", extra={"annotation": ann_id, "task": task_id})
        return unknown
    with session_scope(engine) as db:
        ours = store.project_for_ls_project(db, ls_pid)
        return store_tasks(db, ours, ls_pid, [{"id": task_id}], users,
                           annotations=[(0, fetched.model_dump(mode="json"))])


READ_DEADLINE = 30.0  # seconds a client has to send its whole request (headers and body)
MAX_CONNECTIONS = 64  # requests handled at once; more are refused (503) instead of each taking a thread


class WebhookServer(ThreadingHTTPServer):
    """A threaded server with a bound on requests in flight, whose dropped connections are not errors."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 connection: Connection) -> None:
        super().__init__(address, handler)
        self.connection = connection  # the Label Studio it reads annotations back from
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (reset, broken pipe, timeout) is routine on the internet; anything
        # else is logged once, without the stderr traceback http.server prints by default.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            log.debug("labelstudio.webhook_dropped", extra={"client": client_address[0], "error": repr(exc)})
        else:
            log.error("labelstudio.webhook_error", extra={"client": client_address[0], "error": repr(exc)})


def make_server(engine: Engine, conn: Connection, secret: str, host: str = "127.0.0.1",
                port: int = 0) -> WebhookServer:
    """A threaded HTTP server that accepts webhook POSTs on any path (``port=0`` picks a free port).

    Every answer is JSON. A client must send its whole request within READ_DEADLINE seconds (a slow drip
    cannot hold a thread), at most MAX_CONNECTIONS are served at once, and a request whose length is ambiguous
    (no, several or a non-numeric Content-Length) is refused before its body is read.
    """
    if not secret:
        raise ValueError("set ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET: the receiver refuses to run without a secret")
    users = UserDirectory(conn)
    expected = secret.encode()

    class Handler(BaseHTTPRequestHandler):
        timeout = READ_DEADLINE  # per read; _one_request adds the deadline for the whole request
        default_request_version = "HTTP/1.1"  # a malformed request line still gets a status line, not HTTP/0.9

        def handle(self) -> None:
            server: WebhookServer = self.server  # type: ignore[assignment]
            if not server.slots.acquire(blocking=False):
                self.close_connection = True
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "busy: too many requests at once; retry"})
                return
            try:
                self._one_request()
                while not self.close_connection:
                    self._one_request()
            finally:
                server.slots.release()

        def _one_request(self) -> None:
            # The socket timeout bounds each read; this timer bounds the whole request (a client that drips a
            # byte a second never hits a per-read timeout). do_POST stops it once the body is in.
            self._deadline = threading.Timer(READ_DEADLINE, self._hang_up)
            self._deadline.daemon = True
            self._deadline.start()
            try:
                self.handle_one_request()
            finally:
                self._deadline.cancel()

        def _hang_up(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # http.server answers malformed requests and unknown methods with an HTML page; ours are JSON.
            status = HTTPStatus.METHOD_NOT_ALLOWED if code == HTTPStatus.NOT_IMPLEMENTED else HTTPStatus(code)
            self.close_connection = True
            text = "use GET (health) or POST (events)" if status == HTTPStatus.METHOD_NOT_ALLOWED else (
                message or status.phrase)
            self._reply(status, {"error": text})

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._reply(HTTPStatus.OK, {"status": "ok"})

        def do_POST(self) -> None:  # noqa: N802
            given = (self.headers.get(SECRET_HEADER) or "").encode()
            if not hmac.compare_digest(given, expected):
                self.close_connection = True
                self._reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or wrong {SECRET_HEADER}"})
                return
            lengths = self.headers.get_all("Content-Length") or []
            raw = lengths[0].strip() if len(lengths) == 1 else ""
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
                self.close_connection = True  # the body's end is unknown: this connection cannot carry another
                self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "send one Content-Length (a number of bytes)"})
                return
            length = int(raw)
            if length == 0 or length > _MAX_BODY:
                self.close_connection = True
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"the body must be 1 to {_MAX_BODY} bytes"})
                return
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True
                self._reply(HTTPStatus.REQUEST_TIMEOUT,
                            {"error": f"the whole request must arrive within {READ_DEADLINE:.0f} s"})
                return
            self._deadline.cancel()  # the request is in; storing it may take longer (it asks Label Studio)
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError):
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON (or is nested too deeply)"})
                return
            try:
                report = handle_event(engine, conn, users, payload)
            except BadEvent as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            except LabelStudioError as exc:
                log.warning("labelstudio.webhook_not_verified", extra={"error": str(exc)})
                self._reply(HTTPStatus.BAD_GATEWAY, {"error": "could not read the annotation back from Label Studio"})
                return
            except Exception:
                log.exception("labelstudio.webhook_failed")
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "could not store the annotation"})
                return
            stored = 0 if report is None else report.inserted + report.updated
            log.info("labelstudio.webhook", extra={"action": payload.get("action"), "stored": stored})
            self._reply(HTTPStatus.OK, {"stored": stored})

        def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep request lines out of stderr
            log.debug("labelstudio.webhook_request " + format, *args)

    return WebhookServer((host, port), Handler, conn)


def register(conn: Connection, ls_pid: int, url: str, secret: str) -> int:
    """Create (or update) the project's webhook to ``url`` for annotation events; returns its id."""
    headers = {SECRET_HEADER: secret}
    existing = [w for w in call(conn, conn.client.webhooks.list, project=str(ls_pid)) if w.url == url]
    if existing:
        hook = call(conn, conn.client.webhooks.update, id=existing[0].id, url=url, actions=list(ACTIONS),
                    headers=headers, send_payload=True, send_for_all_actions=False, is_active=True)
        return int(hook.id)
    hook = call(conn, conn.client.webhooks.create, url=url, project=ls_pid, actions=list(ACTIONS), headers=headers,
                send_payload=True, send_for_all_actions=False)
    return int(hook.id)
