"""`annotator annotations import`: bring existing human annotations into a project."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import typer

from annotator.cli.common import (check_errors_out, console, database,
                                  report_rejections, user_errors)
from annotator.correct.annotations_import import REASONS, import_annotations

app = typer.Typer(no_args_is_help=True,
                  help="Human annotations: import prior work to measure agreement and train on it.")


# `annotations import` and `gold import` read the same JSONL lines
ID_FIELD_OPTION = typer.Option("id", "--id-field", help="Field holding the item's external id.")
ERRORS_OUT_OPTION = typer.Option(None, "--errors-out", dir_okay=False,
                                 help="Write the rejected lines here, to fix and import again.")


@app.command(name="import")
@user_errors
def import_cmd(
    path: str = typer.Argument(..., help="A JSONL file, one annotation a line, or - for standard input."),
    project: str = typer.Option(..., "--project", "-p", help="Project whose items the annotations are about."),
    id_field: str = ID_FIELD_OPTION,
    errors_out: Path = ERRORS_OUT_OPTION,
) -> None:
    """Import human annotations (JSONL), upserted on (item, annotator) with source 'import'.

    A line: {"id": "t1", "annotator": "ann1", "emotions": ["joy"], "intensity": 0.7,
    "cause": [0, 12] or "the cause text", "based_on_adapter": "v1"} (intensity, cause and based_on_adapter
    are optional). Bad lines are recorded with their line and reason (exit code 1).

    Example: annotator annotations import prior.jsonl --project reddit --errors-out bad.jsonl
    """
    run_import(path, project, id_field, errors_out, gold=False)


def run_import(path: str, project: str, id_field: str, errors_out: Path | None, gold: bool) -> None:
    """Import a JSONL file of annotations (or of gold answers), print the summary, exit 1 on rejected lines."""
    if path != "-" and not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    check_errors_out(errors_out, path)
    with ExitStack() as stack:
        out = stack.enter_context(open(errors_out, "wb")) if errors_out else None
        s = import_annotations(database(), project, path, id_field=id_field, errors_out=out, gold=gold)
    console.print(f"{s.source}: {s.rows_read:,} lines read: [green]{s.inserted:,} added[/], {s.updated:,} updated, "
                  f"[{'red' if s.rejected else 'green'}]{s.rejected:,} rejected[/]")
    if s.rejected:
        report_rejections(s.reasons, REASONS, errors_out, "line")
        raise typer.Exit(1)
