"""`annotator export` and `annotator status`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from annotator.cli.common import console, database, err_console, user_errors
from annotator.export import EXPORT_FORMATS, export
from annotator.projects.status import project_status


@user_errors
def export_cmd(
    project: str = typer.Option(..., "--project", "-p", help="Project to export."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help=f"One of: {', '.join(EXPORT_FORMATS)}."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Output file (jsonl, csv; - for standard output) or folder (hf). "
                             "Default: <project>.<format>."),
    raw: bool = typer.Option(False, "--raw", help="Also include every raw prediction and annotation."),
) -> None:
    """Export each item with its current best labels and where they came from.

    Best labels are the human consensus where people annotated the item, else the active adapter's
    prediction. Provenance: label_source (human/model), adapter_version, annotators.

    Example: annotator export --project reddit --format hf --out reddit-labels
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    target = out or Path(f"{project}.{fmt}" if fmt != "hf" else f"{project}-hf")
    summary = export(database(), project, fmt, target, include_raw=raw)
    to_stdout = str(target) == "-"
    (err_console if to_stdout else console).print(
        f"exported {summary.rows:,} items to {'standard output' if to_stdout else summary.path}")


@user_errors
def status_cmd(
    project: str = typer.Option(..., "--project", "-p", help="Project to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Counts of items, predicted, annotated and rejected rows for a project."""
    status = project_status(database(), project)
    if as_json:
        typer.echo(json.dumps(status))
        return
    table = Table(title=f"project {status['project']}", show_header=False)
    table.add_row("taxonomy", f"{status['taxonomy']} ({status['labels']} labels)")
    for key in ("items", "predicted", "annotated", "annotations", "ingest_errors", "active_adapter"):
        value = status[key]
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value or "-"))
    for version, n in status["predictions_by_adapter"].items():
        table.add_row(f"  predicted by {version}", f"{n:,}")
    for reason, n in status["ingest_errors_by_reason"].items():
        table.add_row(f"  rejected: {reason}", f"{n:,}")
    console.print(table)
