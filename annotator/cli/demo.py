"""`annotator demo`: the main job end to end on the embedded default, with the shipped demo corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from annotator.cli.common import console, database, user_errors
from annotator.cli.jobs import watch_job
from annotator.db import session_scope
from annotator.export import export
from annotator.ingest.service import IngestOptions, ingest
from annotator.label.prelabel import dispatch_prelabel, start_prelabel
from annotator.projects.service import create_project
from annotator.projects.status import project_status
from annotator.states import JobState
from annotator.taxonomy import get_taxonomy

DEMO_CORPUS = Path(__file__).resolve().parents[2] / "examples" / "goemotions_sample" / "goemotions_dev_sample.jsonl"


@user_errors
def demo_cmd(
    project: str = typer.Option("demo", "--project", "-p", help="Project to create (or reuse)."),
    corpus: Path = typer.Option(DEMO_CORPUS, "--corpus", exists=True, dir_okay=False,
                                help="JSONL corpus with 'id' and 'text' fields."),
    out: Path = typer.Option(Path("demo-export.jsonl"), "--out", "-o", help="Where to write the export."),
    label: int = typer.Option(100, "--label", help="How many items the labeler pre-labels (in process, "
                              "with the default adapter; about 2 items/s on a laptop CPU). 0 skips it."),
) -> None:
    """Run the main job on the demo corpus: create a GoEmotions project, ingest, pre-label, show status, export.

    Uses whatever ANNOTATOR_DATABASE_URL names (default: annotator.db here). Safe to run again: the
    second run adds nothing.
    """
    engine = database()
    with session_scope(engine) as db:
        create_project(db, project, get_taxonomy("goemotions"), exist_ok=True)
    console.print(f"[bold]1/4 ingest[/] {corpus.name} into project {project!r}")
    summary = ingest(engine, project, str(corpus), IngestOptions(id_field="id"))
    console.print(f"    {summary.inserted} added, {summary.duplicates} already there, {summary.rejected} rejected")
    todo = max(0, label - project_status(engine, project)["predicted"])
    console.print(f"[bold]2/4 pre-label[/] {todo} items (in process; `annotator worker` + a broker scale this out)")
    if todo:
        job_id = start_prelabel(engine, project, limit=todo)
        dispatch_prelabel(engine, job_id, wait=False)
        if watch_job(engine, job_id) != JobState.DONE:
            raise typer.Exit(1)
    status = project_status(engine, project)
    console.print(f"[bold]3/4 status[/] {status['items']} items, {status['predicted']} predicted, "
                  f"{status['annotated']} annotated, {status['ingest_errors']} ingest errors")
    result = export(engine, project, "jsonl", out)
    console.print(f"[bold]4/4 export[/] {result.rows} items with labels and provenance -> {result.path}")
