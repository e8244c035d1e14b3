"""Label Studio sync, as the CLI (and later the workers) call it: connection from settings, then sync.

The protocol lives in :mod:`annotator.labelstudio`; these functions only wire settings to it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from annotator import repo
from annotator.correct.labelstudio import store, webhook
from annotator.correct.labelstudio.client import Connection, LabelStudioError, check_server, connect
from annotator.correct.labelstudio.pull import PullReport, pull
from annotator.correct.labelstudio.push import PushReport, push
from annotator.db import session_scope
from annotator.settings import get_settings

ORDERS = ("selected", "uncertainty", "random", "id")


def push_project(engine: Engine, project: str, *, limit: int | None = None, order: str = "selected",
                 conn: Connection | None = None,
                 on_chunk: Callable[[PushReport], None] | None = None) -> PushReport:
    """Send the project's new and re-predicted items to Label Studio (creating its project there once)."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of: {', '.join(ORDERS)}")
    if limit is not None and limit < 1:
        raise ValueError("--limit must be at least 1")
    return push(engine, conn or _checked(), project, limit=limit, order=order,
                chunk_size=get_settings().labelstudio_chunk_size, on_chunk=on_chunk)


def pull_project(engine: Engine, project: str, *, conn: Connection | None = None) -> PullReport:
    """Import every Label Studio annotation of the project into our annotations table."""
    return pull(engine, conn or _checked(), project)


def webhook_server(engine: Engine, *, host: str = "127.0.0.1", port: int = 0,
                   conn: Connection | None = None, secret: str | None = None) -> webhook.WebhookServer:
    """The webhook receiver, bound but not yet serving (call ``serve_forever``).

    The address is bound before Label Studio is asked anything, so a busy port is reported first (OSError).
    """
    secret = secret if secret is not None else get_settings().labelstudio_webhook_secret.get_secret_value()
    server = webhook.make_server(engine, conn or connect(), secret, host=host, port=port)
    if conn is None:
        try:
            check_server(server.connection)
        except BaseException:
            server.server_close()
            raise
    return server


def register_webhook(engine: Engine, project: str, url: str, *, conn: Connection | None = None,
                     secret: str | None = None) -> int:
    """Register ``url`` as the webhook of the project's Label Studio project; returns the webhook id."""
    secret = secret if secret is not None else get_settings().labelstudio_webhook_secret.get_secret_value()
    if not secret:
        raise ValueError("set ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET before registering a webhook")
    with session_scope(engine) as db:
        ls_pid = store.ls_settings(repo.get_project_or_raise(db, project)).get("project_id")
    if ls_pid is None:
        raise LabelStudioError(f"project {project!r} has no Label Studio project yet: push it first")
    return webhook.register(conn or _checked(), int(ls_pid), url, secret)


def _checked() -> Connection:
    """A connection to the configured server, checked with one request (see :func:`check_server`)."""
    conn = connect()
    check_server(conn)
    return conn
