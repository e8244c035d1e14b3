"""`annotator gold`: gold (honeypot) items with known answers, and how each annotator scores on them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from annotator.cli.annotations import ERRORS_OUT_OPTION, ID_FIELD_OPTION, run_import
from annotator.cli.common import console, database, user_errors
from annotator.agree.gold import gold_scores
from annotator.db import session_scope

app = typer.Typer(no_args_is_help=True,
                  help="Gold items: known answers mixed into review queues to score annotators.")


@app.command(name="import")
@user_errors
def import_cmd(
    path: str = typer.Argument(..., help="A JSONL file, one known answer a line, or - for standard input."),
    project: str = typer.Option(..., "--project", "-p", help="Project the gold items belong to (ingest them first)."),
    id_field: str = ID_FIELD_OPTION,
    errors_out: Path = ERRORS_OUT_OPTION,
) -> None:
    """Store known answers of items, which makes them gold items (upserted by item).

    A line: {"id": "t1", "emotions": ["joy"], "intensity": 0.7, "cause": [0, 12] or "the cause text"}
    (intensity and cause optional). The review queue mixes gold items in at the project's gold_rate
    (default 0.1) and every annotator sees each one, whatever the overlap. Bad lines: exit code 1.

    Example: annotator gold import gold.jsonl --project reddit
    """
    run_import(path, project, id_field, errors_out, gold=True)


@app.command(name="scores")
@user_errors
def scores_cmd(
    project: str = typer.Option(..., "--project", "-p"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per annotator, one a line."),
) -> None:
    """Each annotator's answers to gold items: items answered, emotion F1, intensity error, cause token F1."""
    with session_scope(database()) as db:
        scores = gold_scores(db, project)
    if as_json:
        for score in scores:
            typer.echo(json.dumps(asdict(score)))
        return
    if not scores:
        console.print(f"No annotator has answered a gold item of {project!r} yet "
                      "(`annotator gold import` stores known answers).")
        return
    table = Table("annotator", "gold items", "emotion F1", "intensity error", "cause F1")
    for s in scores:
        table.add_row(s.annotator, f"{s.n_items:,}", f"{s.emotion_f1:.3f}",
                      "-" if s.intensity_mae is None else f"{s.intensity_mae:.3f}",
                      "-" if s.cause_f1 is None else f"{s.cause_f1:.3f}")
    console.print(table)
