"""`annotator labelstudio`: push tasks with predictions, pull annotations, receive webhooks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from annotator.cli.common import console, database, fail, user_errors

app = typer.Typer(no_args_is_help=True,
                  help="Label Studio sync: push tasks with our predictions, pull human annotations, receive "
                  "webhooks. Server and token: ANNOTATOR_LABELSTUDIO_URL, ANNOTATOR_LABELSTUDIO_TOKEN.")
F = TypeVar("F", bound=Callable[..., Any])


def _ls_errors(func: F) -> F:
    """Label Studio problems (no SDK installed, no token, refused token, server down after retries) exit with
    code 2. The SDK is imported only here, so the rest of the CLI works without the labelstudio extra."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            from label_studio_sdk.core.api_error import ApiError

            from annotator.correct.labelstudio.client import LabelStudioError, describe
        except ImportError as exc:
            raise fail(f"the Label Studio commands need its SDK: pip install 'emo-annotator[labelstudio]' "
                       f"({exc})") from None
        try:
            return func(*args, **kwargs)
        except LabelStudioError as exc:
            raise fail(str(exc)) from None
        except ApiError as exc:  # any SDK call that slipped past client.call: still one line, never the headers
            raise fail(f"Label Studio refused the request ({describe(exc)})") from None

    return wrapper  # type: ignore[return-value]


@app.command("push")
@user_errors
@_ls_errors
def push_cmd(
    project: str = typer.Option(..., "--project", "-p", help="Our project name."),
    limit: int = typer.Option(None, "--limit", min=1, help="Send at most N items this time."),
    order: str = typer.Option("selected", "--order",
                              help="selected (what teaches the labeler most: uncertainty, labeler-human "
                                   "disagreement, rare labels, diversity), uncertainty (lowest confidence "
                                   "first), random, or id."),
) -> None:
    """Create or find the project's Label Studio project and import its items as tasks, with the current
    predictions embedded. Sends only new or re-predicted items; an interrupted push resumes without duplicates.

    Example: annotator labelstudio push --project reddit --limit 1000
    """
    from annotator.correct.labelstudio import service

    report = service.push_project(database(), project, limit=limit, order=order,
                                  on_chunk=lambda r: console.print(f"  {r.created + r.repredicted} sent", style="dim"))
    rate = report.sent / report.seconds if report.seconds else 0.0
    console.print(f"Label Studio project {report.ls_project_id}: {report.created} new tasks, "
                  f"{report.repredicted} new predictions on existing tasks ({rate:.0f}/s); "
                  f"{report.recovered} recovered, {report.resent} resent, {report.retries} retries")


@app.command("pull")
@user_errors
@_ls_errors
def pull_cmd(project: str = typer.Option(..., "--project", "-p", help="Our project name.")) -> None:
    """Import every annotation from the project's Label Studio project (upsert by item and annotator).

    Invalid results are stored as rejected with the reason. Example: annotator labelstudio pull --project reddit
    """
    from annotator.correct.labelstudio import service

    r = service.pull_project(database(), project)
    console.print(f"{r.inserted} new and {r.updated} updated annotations ({r.rejected} rejected), "
                  f"{r.skipped} skipped, {r.unknown_tasks} from unknown tasks, {r.tasks} tasks read"
                  + (f"; {r.malformed} tasks or annotations of an unknown shape left out" if r.malformed else ""))


@app.command("webhook")
@user_errors
@_ls_errors
def webhook_cmd(
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    register: bool = typer.Option(False, "--register", help="Register this receiver in Label Studio first."),
    project: str = typer.Option(None, "--project", "-p", help="Project whose webhook --register creates."),
    url: str = typer.Option(None, "--url", help="URL Label Studio should call (default http://HOST:PORT/)."),
) -> None:
    """Receive ANNOTATION_CREATED / ANNOTATION_UPDATED webhooks and store each annotation as pull does.
    Requests must carry X-Annotator-Webhook-Secret = ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET.

    Example: annotator labelstudio webhook --port 8765 --register --project reddit
    """
    from annotator.correct.labelstudio import service

    engine = database()
    try:
        server = service.webhook_server(engine, host=host, port=port)
    except OSError as exc:  # the port is taken, the host is not an address of this machine, ...
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port or --host") from None
    bound = server.server_address[1]
    if register:
        if not project:
            server.server_close()
            raise ValueError("--register needs --project NAME")
        hook = service.register_webhook(engine, project, url or f"http://{host}:{bound}/")
        console.print(f"registered webhook {hook} for project {project}")
    console.print(f"listening on http://{host}:{bound}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("serve")
@user_errors
def serve_cmd(
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    local_webhooks: bool = typer.Option(True, "--local-webhooks/--no-local-webhooks",
                                        help="Let the server call webhooks on loopback/private addresses (our "
                                        "`labelstudio webhook` receiver on this machine)."),
) -> None:
    """Start a local Label Studio 1.23.2 (the version we support) and keep it running until Ctrl-C.

    The first run builds its own virtual environment (a few minutes, ~1 GB; ANNOTATOR_LABELSTUDIO_VENV) and
    creates an admin with a random password and API token, kept in the data folder
    (ANNOTATOR_LABELSTUDIO_DATA_DIR) and printed at every start with the two variables to export.

    Example: annotator labelstudio serve --port 8080
    """
    import signal
    import threading

    from annotator.correct.labelstudio.server import LabelStudioServerError, serve_locally

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server, admin = serve_locally(host=host, port=port, local_webhooks=local_webhooks,
                                      log=lambda message: console.print(message, style="dim"))
    except LabelStudioServerError as exc:
        raise fail(str(exc)) from None
    try:
        console.print(f"Label Studio {server.url} is up; log in as {admin['username']} / {admin['password']}")
        console.print("Point annotator at it (this shell):", style="bold")
        typer.echo(f"export ANNOTATOR_LABELSTUDIO_URL={server.url}\n"
                   f"export ANNOTATOR_LABELSTUDIO_TOKEN={admin['token']}")
        console.print(f"data: {server.data_dir}; log: {server.log_path}; Ctrl-C stops it", style="dim")
        while not stop.wait(1.0):
            if not server.running:
                raise fail(f"Label Studio stopped on its own\n{server.log_tail(15)}", code=1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
