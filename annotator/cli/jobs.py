"""`annotator prelabel`, `annotator jobs`, `annotator worker` and `annotator beat`."""

from __future__ import annotations

import json
import time
import typing

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine

from annotator import repo
from annotator.cli.common import console, database, fail, user_errors
from annotator.db import session_scope
from annotator.jobs.service import get_job, is_stale, list_jobs, wait_for_job
from annotator.label.prelabel import dispatch_prelabel, start_prelabel
from annotator.settings import get_settings
from annotator.states import JobState
from annotator.tables import Job


@user_errors
def prelabel_cmd(
    project: str = typer.Option(None, "--project", "-p", help="Project whose items to label."),
    adapter: str = typer.Option(None, "--adapter", help="Adapter version (or folder, or 'base'); "
                                "default: the project's active adapter, else the shipped default."),
    batch_size: int = typer.Option(None, "--batch-size", help="Items per task (ANNOTATOR_PRELABEL_BATCH_SIZE)."),
    only_missing: bool = typer.Option(False, "--only-missing", help="Only items that no adapter has labeled."),
    untouched_only: bool = typer.Option(False, "--untouched-only", help="Skip items a human has annotated."),
    limit: int = typer.Option(None, "--limit", help="Label only the first N unlabeled items (try a sample)."),
    queue: str = typer.Option(None, "--queue", help="Celery queue: cpu or gpu (ANNOTATOR_PRELABEL_QUEUE)."),
    wait: bool = typer.Option(None, "--wait/--no-wait", help="Show a progress bar until the job finishes "
                              "(always on without a broker, where the job runs in this process)."),
    resume: int = typer.Option(None, "--resume", help="Re-enqueue what job JOB still lacks (e.g. after a "
                               "Redis restart lost its queue); other options are taken from the job."),
) -> None:
    """Pre-label a project's unlabeled items with the labeler, in batches.

    With ANNOTATOR_BROKER_URL set, one Celery task per batch goes to the workers (`annotator worker`);
    without it, the same batches run here. Every prediction is written once per (item, adapter version),
    so running it again, or resuming, never labels an item twice.

    Example: annotator prelabel --project demo --batch-size 64 --wait
    """
    engine = database()
    broker = bool(get_settings().broker_url)
    if resume is not None:
        job_id = resume
        with session_scope(engine) as db:
            job = get_job(db, job_id)
            if job.kind != "prelabel":
                raise fail(f"job {job_id} is a {job.kind} job, not a prelabel job")
    else:
        if not project:
            raise fail("name the project: --project NAME (or --resume JOB)")
        job_id = start_prelabel(engine, project, adapter=adapter, batch_size=batch_size, only_missing=only_missing,
                                untouched_only=untouched_only, limit=limit, queue=queue or get_settings().prelabel_queue)
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        console.print(f"job {job.id}: {job.total} items to label with adapter {job.adapter_version} "
                      f"({'queue ' + str(job.queue) if broker else 'in process'})")
    dispatch_prelabel(engine, job_id, wait=False)
    if broker and not wait:
        console.print(f"enqueued; follow it with `annotator jobs` or `annotator prelabel --resume {job_id} --wait`")
        return
    state = watch_job(engine, job_id)
    if state != JobState.DONE:
        raise typer.Exit(1)


def watch_job(engine: Engine, job_id: int, interval: float = 0.5) -> str:
    """Show a job's progress (done / total, items/s, ETA) until it finishes; return its final state."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:.1f} items/s"), TimeRemainingColumn())
    seen: dict[str, typing.Any] = {}
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"job {job_id}", total=None, rate=0.0)
        start = time.monotonic()

        def show(job: Job) -> None:
            first = seen.setdefault("first_done", job.done)
            seen.update(done=job.done, total=job.total, error=job.error)
            elapsed = max(time.monotonic() - start, 1e-9)
            progress.update(task, completed=job.done, total=job.total, rate=(job.done - first) / elapsed)

        state = wait_for_job(engine, job_id, interval, on_poll=show)
    done, total, error = seen["done"], seen["total"], seen["error"]
    if state == JobState.FAILED:
        console.print(f"[bold red]job {job_id} failed:[/] {error}")
    else:
        console.print(f"job {job_id} {state}: {done}/{total} items")
    return state


@user_errors
def jobs_cmd(
    project: str = typer.Option(None, "--project", "-p", help="Only this project's jobs."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many of the newest jobs to list."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List jobs (pre-labeling, retraining) with their state and progress, newest first.

    Example: annotator jobs --project demo
    """
    engine = database()
    with session_scope(engine) as db:
        project_id = repo.get_project_or_raise(db, project).id if project else None
        rows = list_jobs(db, project_id, limit)
        names = repo.project_names(db)
        stale_after = get_settings().job_stale_after
        records: list[dict[str, typing.Any]] = [{
            "id": j.id, "kind": j.kind, "project": names.get(j.project_id or 0), "adapter": j.adapter_version,
            "queue": j.queue, "state": j.state, "stale": is_stale(j, stale_after), "done": j.done, "total": j.total,
            "created_at": j.created_at.isoformat() if j.created_at else None,
            "finished_at": j.finished_at.isoformat() if j.finished_at else None, "error": j.error,
        } for j in rows]
    if as_json:
        console.print_json(json.dumps(records))
        return
    table = Table("id", "kind", "project", "adapter", "queue", "state", "progress", "created", "error")
    for r in records:
        pct = f" ({100 * r['done'] / r['total']:.0f}%)" if r["total"] else ""
        state = f"{r['state']} (stale: nobody working on it)" if r["stale"] else r["state"]
        table.add_row(str(r["id"]), r["kind"], r["project"] or "", r["adapter"] or "", r["queue"] or "", state,
                      f"{r['done']}/{r['total']}{pct}", (r["created_at"] or "")[:19], (r["error"] or "")[:60])
    console.print(table)


def worker_cmd(
    queue: str = typer.Option("cpu", "--queue", "-Q", help="Comma-separated queues to take tasks from: "
                              "gpu, cpu, train. A GPU worker: --queue gpu --concurrency 1."),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="Worker processes (each loads the model once)."),
    pool: str = typer.Option(None, "--pool", help="Celery pool; default solo for concurrency 1, else prefork."),
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="Celery log level."),
    hostname: str = typer.Option(None, "--hostname", "-n", help="Worker name (default celery@<host>)."),
) -> None:
    """Start a Celery worker that runs pre-labeling and retraining tasks from the named queues.

    Needs ANNOTATOR_BROKER_URL (e.g. redis://127.0.0.1:6379/0) and the same ANNOTATOR_DATABASE_URL as
    the rest of the deployment. The labeler loads once per worker process and stays warm.

    Example: ANNOTATOR_BROKER_URL=redis://127.0.0.1:6379/0 annotator worker --queue gpu --concurrency 1
    """
    settings = get_settings()
    if not settings.broker_url:
        raise fail("set ANNOTATOR_BROKER_URL (e.g. redis://127.0.0.1:6379/0): a worker needs a broker. "
                   "Without one, `annotator prelabel` runs the same tasks in its own process.")
    from worker.app import QUEUES, app

    queues = [q.strip() for q in queue.split(",") if q.strip()]
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        raise fail(f"unknown queue(s) {', '.join(unknown) or '(none)'}; use {', '.join(QUEUES)}")
    if concurrency < 1:
        raise fail("--concurrency must be at least 1")
    database()  # migrate (or fail clearly) before taking any task
    argv = ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-l", loglevel,
            "--pool", pool or ("solo" if concurrency == 1 else "prefork"), "--without-gossip", "--without-mingle"]
    if hostname:
        argv += ["-n", hostname]
    console.print(f"worker: queues {','.join(queues)}, concurrency {concurrency}")
    app.worker_main(argv=argv)


def beat_cmd(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="Celery log level."),
    schedule_file: str = typer.Option("celerybeat-schedule", "--schedule-file", help="Where beat keeps its state."),
) -> None:
    """Start Celery beat: it enqueues the periodic jobs (retraining on its schedule) for the workers.

    Example: ANNOTATOR_BROKER_URL=redis://127.0.0.1:6379/0 annotator beat
    """
    if not get_settings().broker_url:
        raise fail("set ANNOTATOR_BROKER_URL: beat sends its jobs through the broker")
    from worker.app import app

    app.start(argv=["beat", "-l", loglevel, "-s", schedule_file])
