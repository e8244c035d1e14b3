"""The root `annotator` command: it only composes the command groups."""

from __future__ import annotations

import typer

from annotator.cli import agreement as agreement_cli
from annotator.cli import annotations as annotations_cli
from annotator.cli import db, demo, export, ingest, jobs
from annotator.cli import gold as gold_cli
from annotator.cli import labelstudio as labelstudio_cli
from annotator.cli import project
from annotator.cli import retrain as retrain_cli
from annotator.cli import train as train_cli
from annotator.cli import ui as ui_cli
from annotator.cli import user as user_cli
from annotator.cli.common import fail
from annotator.logs import configure as configure_logging

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="emo-annotator: EmoLLM labelers pre-label text with emotions, intensity and causes; "
    "humans correct; corrections train the next labeler.\n\n"
    "Configuration comes from ANNOTATOR_* environment variables (ANNOTATOR_DATABASE_URL, default a SQLite "
    "file annotator.db in the working directory).\n\n"
    "Start with: annotator demo",
)


@app.callback()
def _configure() -> None:
    from pydantic import ValidationError

    try:
        configure_logging()  # the first read of the settings: a bad ANNOTATOR_* value is reported here
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ANNOTATOR_" + str(first["loc"][0]).upper() if first.get("loc") else "an ANNOTATOR_* variable"
        message = str(first["msg"]).removeprefix("Value error, ")  # pydantic's prefix for a validator's message
        raise fail(f"{name}: {message} (got {first.get('input')!r})") from None


app.add_typer(db.app, name="db")
app.add_typer(project.app, name="project")
app.add_typer(labelstudio_cli.app, name="labelstudio")
app.add_typer(user_cli.app, name="user")
app.command(name="ui")(ui_cli.ui_cmd)
app.command(name="ingest")(ingest.ingest_cmd)
app.command(name="export")(export.export_cmd)
app.command(name="status")(export.status_cmd)
app.command(name="demo")(demo.demo_cmd)
app.add_typer(annotations_cli.app, name="annotations")
app.add_typer(gold_cli.app, name="gold")
app.command(name="agreement")(agreement_cli.agreement_cmd)
app.command(name="prelabel")(jobs.prelabel_cmd)
app.command(name="jobs")(jobs.jobs_cmd)
app.command(name="worker")(jobs.worker_cmd)
app.command(name="beat")(jobs.beat_cmd)
app.command(name="train")(train_cli.train_cmd)
app.command(name="evaluate")(train_cli.evaluate_cmd)
app.command(name="retrain")(retrain_cli.retrain_cmd)

if __name__ == "__main__":
    app()
