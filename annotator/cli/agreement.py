"""`annotator agreement`: Krippendorff's alpha of a project's annotations, field by field."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from annotator.agree.service import HUMAN, compute_agreement
from annotator.cli.common import console, database, user_errors


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@user_errors
def agreement_cmd(
    project: str = typer.Option(..., "--project", "-p", help="Project to measure."),
    fields: list[str] = typer.Option(None, "--field", "-f",
                                     help="Field to measure (repeatable): emotion:<label>, emotions, intensity "
                                     "or cause. Default: all."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    with_labeler: bool = typer.Option(True, "--with-labeler/--no-labeler",
                                      help="Also measure the active adapter as one more coder (labeler-human)."),
    bootstrap: int = typer.Option(None, "--bootstrap", min=0,
                                  help="Bootstrap resamples for the intervals "
                                  "(default ANNOTATOR_AGREEMENT_BOOTSTRAP)."),
    store: bool = typer.Option(True, "--store/--no-store", help="Record the figures as agreement reports."),
) -> None:
    """Krippendorff's alpha per emotion, for the emotion set (MASI), intensity and cause, with bootstrap
    intervals; human-human and labeler-human; each annotator against the consensus of the others.

    Example: annotator agreement --project reddit --field emotions --field intensity --json
    """
    result = compute_agreement(database(), project, fields or None, bootstrap=bootstrap,
                               with_labeler=with_labeler, store=store)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    if result.annotators == 0:
        console.print(f"project {project!r} has no accepted human annotations yet, so there is no agreement to "
                      "measure: correct items in the dashboard or Label Studio, or `annotator annotations import`")
        return
    measured = [f for f in result.figures if f.n_items > 0]
    table = Table("field", "coders", "alpha", "CI", "items", "coders", title=f"agreement: {project}")
    for f in measured:
        ci = "-" if f.ci_low is None else f"[{_fmt(f.ci_low)}, {_fmt(f.ci_high)}]"
        table.add_row(f.field, f.coders, _fmt(f.value), ci, f"{f.n_items:,}", str(f.n_coders))
    console.print(table)
    unmeasured = sorted({f.field for f in result.figures} - {f.field for f in measured})
    if unmeasured:
        console.print(f"{len(unmeasured)} fields have no item with two codings yet and are left out: "
                      + ", ".join(unmeasured[:8]) + (", ..." if len(unmeasured) > 8 else ""))
    console.print(f"{result.annotators} annotators; " + (
        f"labeler-human adds the predictions of adapter {result.labeler} as one more coder"
        if result.labeler else "no adapter has pre-labeled the annotated items, so no labeler-human rows"))
    weakest = _weakest_annotators(result.figures)
    if weakest:
        console.print("least reliable annotators (alpha on 'emotions' against the others' consensus): " + weakest)


def _weakest_annotators(figures: list, n: int = 3) -> str:
    for f in figures:
        if f.field == "emotions" and f.coders == HUMAN:
            scored = [(v["alpha"], name) for name, v in f.details.get("per_annotator", {}).items()
                      if v["alpha"] is not None]
            return ", ".join(f"{name} {value:.3f}" for value, name in sorted(scored)[:n])
    return ""
