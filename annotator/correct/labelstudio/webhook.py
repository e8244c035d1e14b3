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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from annotator.correct.labelstudio import store
from annotator.correct.labelstudio.client import Connection, LabelStudioError, call
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
    ann_id = _int(annotation.get("id")) if isinstance(annotation, dict) else None
    task_id = _int(task.get("id")) if isinstance(task, dict) else None
    ls_pid = _int(project.get("id")) if isinstance(project, dict) else (
        _int(annotation.get("project")) if isinstance(annotation, dict) else None)
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


def _int(value: Any) -> int | None:
    """An id: an integer that fits a database integer column (bool is not one)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) < value < 2**63
    return value if ok else None


def make_server(engine: Engine, conn: Connection, secret: str, host: str = "127.0.0.1",
                port: int = 0) -> ThreadingHTTPServer:
    """A threaded HTTP server that accepts webhook POSTs on any path (``port=0`` picks a free port)."""
    if not secret:
        raise ValueError("set ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET: the receiver refuses to run without a secret")
    users = UserDirectory(conn)
    expected = secret.encode()

    class Handler(BaseHTTPRequestHandler):
        timeout = 30  # seconds a client may take to send its request; a stalled one cannot hold a thread forever

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._reply(HTTPStatus.OK, {"status": "ok"})

        def do_POST(self) -> None:  # noqa: N802
            given = (self.headers.get(SECRET_HEADER) or "").encode()
            if not hmac.compare_digest(given, expected):
                self._reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or wrong {SECRET_HEADER}"})
                return
            raw = (self.headers.get("Content-Length") or "").strip()
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
                self.close_connection = True  # the body's end is unknown: this connection cannot carry another
                self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length (a number of bytes)"})
                return
            length = int(raw)
            if length == 0 or length > _MAX_BODY:
                self.close_connection = True
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"the body must be 1 to {_MAX_BODY} bytes"})
                return
            try:
                payload = json.loads(self.rfile.read(length))
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
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep request lines out of stderr
            log.debug("labelstudio.webhook_request " + format, *args)

    return ThreadingHTTPServer((host, port), Handler)


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
