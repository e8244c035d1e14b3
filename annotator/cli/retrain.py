"""`annotator retrain`: the gated retraining job (trained on consensus, promoted only if better)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from annotator.cli.common import console, database, fail, user_errors
from annotator.cli.jobs import watch_job
from annotator.db import session_scope
from annotator.jobs.service import get_job, wait_for_job
from annotator.retrain.job import start_retrain
from annotator.settings import get_settings
from annotator.states import JobState


@user_errors
def retrain_cmd(
    project: str = typer.Option(..., "--project", "-p", help="Project whose consensus labels train the adapter."),
    from_version: str = typer.Option(None, "--from", help="Adapter version to continue from (default: the "
                                     "project's active adapter, else the shipped default, else the base)."),
    relabel: bool = typer.Option(False, "--relabel", help="After a promotion, re-pre-label the items no human "
                                 "has touched with the new adapter."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the job and print its decision "
                              "(without a broker it always runs here)."),
    as_json: bool = typer.Option(False, "--json", help="Print the job's result as one JSON object."),
) -> None:
    """Retrain the project's labeler and promote it only if it beats the active one on held-out gold.

    Trains on the consensus items (a one-pass adapter: its head for the project's labels, with the EmPO
    ranking term on corrections when ANNOTATOR_RETRAIN_PREFERENCE_WEIGHT > 0; an instruction adapter: SFT,
    then DPO on the corrections); both adapters are scored on the same gold, and the candidate replaces the
    active adapter only if ANNOTATOR_RETRAIN_PRIMARY_METRIC improves by ANNOTATOR_RETRAIN_MARGIN and no
    other metric drops by more than ANNOTATOR_RETRAIN_TOLERANCE. Every candidate is kept for rollback.
    Runs on the Celery `train` queue when ANNOTATOR_BROKER_URL is set.

    Example: annotator retrain --project reddit --relabel
    """
    engine = database()
    broker = bool(get_settings().broker_url)
    job_id = start_retrain(engine, project, from_version=from_version, relabel=relabel, wait=wait or not broker)
    if broker and not wait:
        console.print(f"retrain job {job_id} enqueued on queue 'train'; follow it with `annotator jobs`")
        return
    if broker:  # a worker runs it: wait here, as `prelabel --wait` does
        if as_json:
            wait_for_job(engine, job_id)
        else:
            watch_job(engine, job_id)
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        state, result, error = job.state, job.result, job.error
    if state != JobState.DONE:
        raise fail(f"retrain job {job_id} {state}: {error or 'no result'}", code=1)
    if as_json:
        typer.echo(json.dumps({"job_id": job_id, **(result or {})}))
        return
    _print_result(job_id, result or {})


def _print_result(job_id: int, result: dict) -> None:
    table = Table(title=f"retrain job {job_id}: {result.get('decision')}", show_header=True)
    table.add_column("metric")
    table.add_column(f"candidate {result.get('candidate')}")
    table.add_column(f"current {result.get('compared_with')}")
    candidate, current = result.get("candidate_metrics", {}), result.get("active_metrics", {})
    for name in sorted(set(candidate) | set(current)):
        marker = " *" if name == result.get("primary_metric") else ""
        table.add_row(name + marker, _fmt(candidate.get(name)), _fmt(current.get(name)))
    console.print(table)
    console.print(result.get("reason", ""))
    console.print(f"trained on {result.get('n_train')} consensus items and {result.get('n_pairs')} correction "
                  f"pairs; compared on {result.get('n_gold')} gold items")
    if result.get("relabel_job_id"):
        console.print(f"re-pre-labeling job {result['relabel_job_id']} started")


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"
