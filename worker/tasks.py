"""The Celery tasks. Each is a thin shell over one service function, which is also what runs in process.

Tasks take ids, re-read the database, and skip work that is already done. Transient database errors
retry with backoff; a labeler that cannot load fails its task (and its job) at once, with the reason.
"""

from __future__ import annotations

import logging

from celery.signals import worker_ready
from sqlalchemy.exc import InterfaceError, OperationalError

from annotator.db import open_database
from annotator.jobs import dispatch
from annotator.jobs import service as jobs
from annotator.label import prelabel
from annotator.retrain import job as retrain_job  # noqa: F401 - registers the retraining runner
from annotator.retrain import schedule as retrain_schedule
from worker.app import app

log = logging.getLogger("annotator.worker")

TRANSIENT = (OperationalError, InterfaceError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 2, "retry_backoff_max": 120, "retry_jitter": True,
         "max_retries": 8}


@app.task(name="worker.prelabel.label_batch", acks_late=True, **RETRY)
def label_batch(job_id: int, item_ids: list[int]) -> int:
    """Label one batch of a pre-labeling job (see annotator.label.prelabel.label_batch)."""
    return prelabel.label_batch(open_database(), job_id, item_ids)


@app.task(name="worker.jobs.run_job", acks_late=True, **RETRY)
def run_job(job_id: int) -> None:
    """Run a single-task job such as retraining (see annotator.jobs.service.run_job)."""
    jobs.run_job(open_database(), job_id)


@app.task(name=dispatch.REVIVE_TASK, acks_late=True, **RETRY)
def revive_stale() -> list[int]:
    """Beat's minute check: dispatch again the jobs whose worker died (see annotator.jobs.service)."""
    return jobs.revive_stale_jobs(open_database())


@app.task(name=retrain_schedule.CRON_TASK, acks_late=True, **RETRY)
def retrain_on_schedule() -> list[int]:
    """Beat's cron trigger: start retraining every project with new consensus items."""
    return retrain_schedule.cron_retrain(open_database())


@app.task(name=retrain_schedule.CHECK_TASK, acks_late=True, **RETRY)
def retrain_if_enough_new_items() -> list[int]:
    """Beat's periodic check: start retraining projects with ANNOTATOR_RETRAIN_AFTER_NEW_ITEMS new items."""
    return retrain_schedule.check_new_items(open_database())


@worker_ready.connect
def _announce(**_: object) -> None:
    target = prelabel.describe_labeler_target()
    log.warning("worker.ready device=%s base=%s backend=%s default_adapter=%s",
                target["device"], target["base_model"], target["backend"], target["default_adapter"])
