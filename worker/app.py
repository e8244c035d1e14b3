"""The Celery app, configured from settings; and the only functions that enqueue our tasks.

JSON only (no pickle). ``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is handed
to another worker, which is safe because every task is idempotent (the database decides what is left
to do). Prefetch 1, so a worker holds one task at a time and a long GPU batch never hides others.
Explicit queues: ``gpu`` and ``cpu`` for labeling, ``train`` for retraining; a worker takes only the
queues it is started with.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from annotator.retrain import schedule as retrain_schedule
from annotator.settings import get_settings

QUEUES = ("gpu", "cpu", "train")


def make_app() -> Celery:
    """A Celery app for the broker named by ANNOTATOR_BROKER_URL."""
    settings = get_settings()
    app = Celery("emo_annotator", include=["worker.tasks"])
    app.conf.update(
        broker_url=settings.broker_url or None,
        result_backend=settings.result_backend or None,
        task_ignore_result=True,  # the database holds every result; the backend is optional
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="cpu",
        task_create_missing_queues=False,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout,
            # how often a worker looks for tasks whose worker died (their visibility timeout passed)
            "unacked_restore_interval": max(1, min(10, settings.broker_visibility_timeout // 2)),
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule=retrain_schedule.beat_schedule(settings),
    )
    return app


app = make_app()


def send_label_batch(job_id: int, item_ids: list[int], queue: str) -> None:
    """Enqueue one pre-labeling batch (ids only; the worker re-reads everything from the database)."""
    _check_queue(queue)
    app.send_task("worker.prelabel.label_batch", args=[job_id, item_ids], queue=queue)


def send_run_job(job_id: int, queue: str) -> None:
    """Enqueue a single-task job (e.g. retraining)."""
    _check_queue(queue)
    app.send_task("worker.jobs.run_job", args=[job_id], queue=queue)


def _check_queue(queue: str) -> None:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUES)}")
