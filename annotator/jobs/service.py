"""Background jobs: their rows in the database, their state machine and progress, and their runners.

The database is the source of truth for a job. Celery (when ``ANNOTATOR_BROKER_URL`` is set) is only
the way its tasks reach a worker (:mod:`annotator.jobs.dispatch`); without a broker the same task code runs
in this process. Progress (``done``/``total``) is written in the same transaction as the work it counts,
so it survives a broker restart and adds up when several workers share a job.

States (:class:`annotator.states.JobState`): queued -> running -> done | failed | cancelled. Every change
goes through a function here, each a conditional UPDATE, so two processes never undo each other's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timezone
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from annotator.db import session_scope
from annotator.jobs import dispatch
from annotator.repo import NotFound
from annotator.settings import get_settings
from annotator.states import FINISHED, JobKind, JobState
from annotator.tables import Job, JobBatch, utcnow

# A runner is ``runner(engine, job_id) -> dict`` (the job's result) and runs the whole job as one task.
Runner = Callable[[Engine, int], dict[str, Any]]
# A dispatcher is ``dispatch(engine, job_id, wait) -> None`` for jobs made of many tasks (pre-labeling).
Dispatcher = Callable[[Engine, int, bool], None]
_RUNNERS: dict[str, Runner] = {}
_DISPATCHERS: dict[str, Dispatcher] = {}

# The queue a job kind goes to when its creator names none.
DEFAULT_QUEUES = {JobKind.PRELABEL: "cpu", JobKind.RETRAIN: "train"}


class JobError(ValueError):
    """A job cannot be created, found or dispatched; the message says why."""


def register_runner(kind: JobKind, runner: Runner) -> None:
    """Make ``runner`` the single-task runner of job kind ``kind`` (called by the link that owns the kind)."""
    _RUNNERS[kind] = runner


def register_dispatcher(kind: JobKind, dispatcher: Dispatcher) -> None:
    """Make ``dispatcher`` the dispatcher of job kind ``kind``, whose work is split into many tasks."""
    _DISPATCHERS[kind] = dispatcher


def create_job(
    db: Session,
    kind: str,
    project_id: int | None,
    *,
    adapter_version: str | None = None,
    total: int = 0,
    params: dict[str, Any] | None = None,
    queue: str | None = None,
) -> Job:
    """Add a queued job row (flushed, so it has an id) and return it. Dispatch it with ``submit_job``."""
    if kind not in set(JobKind):
        raise JobError(f"unknown job kind {kind!r}; known: {', '.join(JobKind)}")
    if queue is not None:
        dispatch.check_queue(queue)
    job = Job(
        kind=kind,
        project_id=project_id,
        adapter_version=adapter_version,
        queue=queue or DEFAULT_QUEUES[JobKind(kind)],
        dispatch="celery" if get_settings().broker_url else "inprocess",
        state=JobState.QUEUED,
        total=total,
        done=0,
        params=params or {},
    )
    db.add(job)
    db.flush()
    return job


def get_job(db: Session, job_id: int) -> Job:
    """The job with this id, or NotFound."""
    job = db.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}; `annotator jobs` lists them")
    return job


def list_jobs(db: Session, project_id: int | None = None, limit: int = 50, kind: str | None = None) -> list[Job]:
    """The newest jobs first, optionally of one project and of one kind."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(db.scalars(query))


def job_in_flight(db: Session, project_id: int, kind: JobKind) -> bool:
    """Whether a job of this kind is queued or running for the project."""
    return db.scalar(select(Job.id).where(Job.project_id == project_id, Job.kind == kind,
                                          Job.state.in_((JobState.QUEUED, JobState.RUNNING))).limit(1)) is not None


def wait_for_job(engine: Engine, job_id: int, interval: float = 0.5,
                 on_poll: Callable[[Job], None] | None = None) -> JobState:
    """Poll a job until it is finished; return its final state. ``on_poll(job)`` sees every poll."""
    import time

    stale_after = get_settings().job_stale_after
    while True:
        with session_scope(engine) as db:
            job = get_job(db, job_id)
            if on_poll is not None:
                on_poll(job)
            if job.state in FINISHED:
                return JobState(job.state)
            abandoned = is_stale(job, stale_after)
        if abandoned:  # never wait on work nobody is doing: send it again (or run it here, without a broker)
            revive_stale_jobs(engine, stale_after, only=job_id)
        time.sleep(interval)


def submit_job(engine: Engine, job_id: int, *, wait: bool = True) -> None:
    """Dispatch a job by its kind: to Celery when a broker is configured, else in this process.

    In process, ``wait=False`` runs it in a daemon thread (e.g. from the dashboard) and returns at once.
    Through Celery it always returns once the tasks are enqueued; follow it with ``annotator jobs``.
    """
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        kind, queue = job.kind, queue_name(job)
    if kind in _DISPATCHERS:
        _DISPATCHERS[kind](engine, job_id, wait)
        return
    if get_settings().broker_url:
        dispatch.send_run_job(job_id, queue)
        return
    if wait:
        run_job(engine, job_id)
    else:
        threading.Thread(target=run_job, args=(engine, job_id), daemon=True, name=f"job-{job_id}").start()


def run_job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    """Run a single-task job's runner here, recording its state, result or error. Finished jobs are skipped."""
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        if job.state in FINISHED:
            return job.result
        kind = job.kind
    mark_running(engine, job_id)
    try:
        with keep_alive(engine, job_id):
            result = runner_for(kind)(engine, job_id)
    except Exception as exc:
        fail_job(engine, job_id, f"{type(exc).__name__}: {exc}")
        raise
    finish_job(engine, job_id, result or {})
    return result


def runner_for(kind: str) -> Runner:
    """The runner registered for a single-task job kind."""
    if kind not in _RUNNERS:
        raise JobError(f"job kind {kind!r} has no runner in this process (its link, e.g. annotator.retrain.job, "
                       "registers it when imported)")
    return _RUNNERS[kind]


def queue_name(job: Job) -> str:
    """The Celery queue a job's tasks go to."""
    return job.queue or DEFAULT_QUEUES.get(JobKind(job.kind), "cpu")


def mark_running(engine: Engine, job_id: int) -> None:
    """queued -> running (started_at is set once, kept when a job is resumed); other states stay as they are."""
    with engine.begin() as conn:
        conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.QUEUED)
            .values(state=JobState.RUNNING, started_at=func.coalesce(Job.started_at, utcnow()), updated_at=utcnow(),
                    heartbeat_at=utcnow())
        )


def reopen_job(engine: Engine, job_id: int) -> None:
    """failed | cancelled -> queued, clearing the error: resuming a job retries it."""
    with engine.begin() as conn:
        conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_((JobState.FAILED, JobState.CANCELLED)))
            .values(state=JobState.QUEUED, error=None, finished_at=None, updated_at=utcnow())
        )


def finish_if_complete(engine: Engine, job_id: int, result: Callable[[Job], dict[str, Any]],
                       force: bool = False, verify: Callable[[Engine, Job], bool] | None = None) -> bool:
    """running -> done once ``done >= total`` and ``verify(engine, job)`` agrees (or at once with ``force``),
    with ``result(job)`` as its result; returns whether this call finished it."""
    with session_scope(engine) as db:
        job = db.get(Job, job_id)
        if job is None or job.state != JobState.RUNNING or (job.done < job.total and not force):
            return False
        if not force and verify is not None and not verify(engine, job):
            return False
        outcome = result(job)
    finish_job(engine, job_id, outcome)
    return True


def set_job_total(engine: Engine, job_id: int, total: int) -> None:
    """Set how many units of work the job has."""
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(total=total, updated_at=utcnow()))


def add_job_progress(engine: Engine, job_id: int, n: int) -> None:
    """Count ``n`` more units done (atomic increment; safe from several workers)."""
    with engine.begin() as conn:
        add_progress_in(conn, job_id, n)


def add_progress_in(conn: Any, job_id: int, n: int) -> None:
    """The increment of ``add_job_progress`` inside the caller's transaction, so work and count commit together."""
    now = utcnow()
    conn.execute(update(Job).where(Job.id == job_id).values(done=Job.done + n, updated_at=now, heartbeat_at=now))


def complete_batch_in(conn: Any, job_id: int, item_ids: Sequence[int]) -> int:
    """Count a finished batch's items towards its job, once, inside the transaction that wrote its work.

    Every item of the batch counts, whoever labeled it (another job over the same items, an earlier
    delivery of this batch), so a job finishes when all its batches have; a batch finished before
    (redelivered, resent) adds nothing. Returns the items counted now.
    """
    if not item_ids:
        return 0
    dialect = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    added = conn.execute(dialect(JobBatch).values(job_id=job_id, first_item_id=min(item_ids), items=len(item_ids),
                                                  finished_at=utcnow())
                         .on_conflict_do_nothing(index_elements=["job_id", "first_item_id"])
                         .returning(JobBatch.id)).first()
    counted = len(item_ids) if added is not None else 0
    add_progress_in(conn, job_id, counted)
    return counted


def heartbeat(engine: Engine, job_id: int) -> None:
    """Say the job is being worked on (a running job whose heartbeat is old is dispatched again)."""
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow()))


@contextmanager
def keep_alive(engine: Engine, job_id: int, every_s: float | None = None) -> Iterator[None]:
    """Beat the job's heartbeat every ``every_s`` seconds (a third of ANNOTATOR_JOB_STALE_AFTER) while the
    block runs, from a thread: a long training step or model load is still a live job; a dead process is not."""
    interval = every_s if every_s is not None else max(1.0, get_settings().job_stale_after / 3)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                heartbeat(engine, job_id)
            except Exception:  # a missed beat is harmless; the next one or the work itself will land
                pass

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def is_stale(job: Job, stale_after_s: float) -> bool:
    """A running job whose heartbeat (or start) is older than ``stale_after_s``: nobody is working on it."""
    if job.state != JobState.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at or job.created_at
    if last.tzinfo is None:  # SQLite returns naive datetimes (stored as UTC)
        last = last.replace(tzinfo=timezone.utc)
    return (utcnow() - last).total_seconds() > stale_after_s


def stale_jobs(db: Session, stale_after_s: float) -> list[Job]:
    """The running jobs nobody has worked on for ``stale_after_s`` seconds."""
    running = db.scalars(select(Job).where(Job.state == JobState.RUNNING))
    return [job for job in running if is_stale(job, stale_after_s)]


def revive_stale_jobs(engine: Engine, stale_after_s: float | None = None, only: int | None = None) -> list[int]:
    """Dispatch again the jobs whose process is gone: a pre-labeling job's missing batches are sent again (to
    Celery, or run here in a thread); a single-task job (retraining) is marked failed with the reason, to be
    started again. Returns the ids of the jobs it acted on."""
    limit = stale_after_s if stale_after_s is not None else get_settings().job_stale_after
    with session_scope(engine) as db:
        stale = [(job.id, job.kind) for job in stale_jobs(db, limit) if only is None or job.id == only]
    for job_id, kind in stale:
        if kind in _DISPATCHERS:
            heartbeat(engine, job_id)  # claimed: another reaper now sees it alive
            _DISPATCHERS[kind](engine, job_id, False)
        else:
            fail_job(engine, job_id, f"its worker stopped (no heartbeat for {limit:.0f} s); start it again")
    return [job_id for job_id, _ in stale]


def finish_job(engine: Engine, job_id: int, result: dict[str, Any] | None = None) -> None:
    """Mark a job done with its result (a failed or cancelled job stays as it is)."""
    with engine.begin() as conn:
        conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
            .values(state=JobState.DONE, result=result, finished_at=utcnow(), updated_at=utcnow())
        )


def fail_job(engine: Engine, job_id: int, error: str) -> None:
    """Mark a job failed with an error message the user can act on."""
    with engine.begin() as conn:
        conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
            .values(state=JobState.FAILED, error=error[:4000], finished_at=utcnow(), updated_at=utcnow())
        )
