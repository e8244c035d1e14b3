"""A small webhook receiver (stdlib ``http.server``): Label Studio annotation events -> our database.

Label Studio POSTs ``{"action", "annotation", "task", "project"}`` with the headers we registered;
we check the shared secret header, then store the annotation exactly as pull does. Without Redis,
Label Studio sends webhooks synchronously with a 1 s timeout and no retries, so the handler is kept
short, and pull remains the way to catch up on anything missed while the receiver was down.
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
from annotator.correct.labelstudio.client import Connection, call
from annotator.correct.labelstudio.pull import PullReport, UserDirectory, store_tasks
from annotator.db import session_scope

log = logging.getLogger(__name__)
ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
SECRET_HEADER = "X-Annotator-Webhook-Secret"
_MAX_BODY = 20 * 1024 * 1024


def handle_event(engine: Engine, users: UserDirectory, payload: dict[str, Any]) -> PullReport | None:
    """Store the annotation of one ANNOTATION_CREATED/UPDATED event; None for other events."""
    if payload.get("action") not in ACTIONS:
        return None
    annotation, task = payload.get("annotation"), payload.get("task")
    if not isinstance(annotation, dict) or not isinstance(task, dict) or "id" not in task:
        raise ValueError("payload without annotation/task objects")
    project = payload.get("project")
    ls_pid = project.get("id") if isinstance(project, dict) else annotation.get("project")
    if ls_pid is None:
        return PullReport(tasks=1, unknown_tasks=1)
    with session_scope(engine) as db:
        ours = store.project_for_ls_project(db, int(ls_pid))
        if ours is None:
            return PullReport(tasks=1, unknown_tasks=1)
        return store_tasks(db, ours, int(ls_pid), [task], users, annotations=[(0, annotation)])


def make_server(engine: Engine, conn: Connection, secret: str, host: str = "127.0.0.1",
                port: int = 0) -> ThreadingHTTPServer:
    """A threaded HTTP server that accepts webhook POSTs on any path (``port=0`` picks a free port)."""
    if not secret:
        raise ValueError("set ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET: the receiver refuses to run without a secret")
    users = UserDirectory(conn)
    expected = secret.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._reply(HTTPStatus.OK, {"status": "ok"})

        def do_POST(self) -> None:  # noqa: N802
            given = (self.headers.get(SECRET_HEADER) or "").encode()
            if not hmac.compare_digest(given, expected):
                self._reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or wrong {SECRET_HEADER}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > _MAX_BODY:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "empty or oversized body"})
                return
            try:
                payload = json.loads(self.rfile.read(length))
                report = handle_event(engine, users, payload)
            except (ValueError, TypeError, KeyError) as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
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
