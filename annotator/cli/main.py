"""The root `annotator` command: it only composes the command groups."""

from __future__ import annotations

import typer

from annotator.cli import db, demo, export, ingest, project

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="emo-annotator: EmoLLM labelers pre-label text with emotions, intensity and causes; "
    "humans correct; corrections train the next labeler.\n\n"
    "Configuration comes from ANNOTATOR_* environment variables (ANNOTATOR_DATABASE_URL, default a SQLite "
    "file annotator.db in the working directory).\n\n"
    "Start with: annotator demo",
)
app.add_typer(db.app, name="db")
app.add_typer(project.app, name="project")
app.command(name="ingest")(ingest.ingest_cmd)
app.command(name="export")(export.export_cmd)
app.command(name="status")(export.status_cmd)
app.command(name="demo")(demo.demo_cmd)

if __name__ == "__main__":
    app()
