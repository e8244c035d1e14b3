"""How a job's tasks reach a worker: Celery messages sent by task name, never by importing ``worker/``.

The worker (``worker.app``) builds its app from the same :func:`celery_config`, and registers the tasks
under the names below. JSON only (no pickle). ``acks_late`` + ``reject_on_worker_lost``: a task whose
worker dies is handed to another worker, which is safe because every task is idempotent (the database
decides what is left to do). Prefetch 1, so a worker holds one task at a time and a long GPU batch never
hides others. Explicit queues: ``gpu`` and ``cpu`` for labeling, ``train`` for retraining.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from annotator.settings import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

QUEUES = ("gpu", "cpu", "train")
LABEL_BATCH_TASK = "worker.prelabel.label_batch"
RUN_JOB_TASK = "worker.jobs.run_job"
REVIVE_TASK = "worker.jobs.revive_stale"
REVIVE_EVERY_S = 60.0


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Beat's jobs entry: every minute, jobs whose process died (no heartbeat) are dispatched again."""
    return {"revive-stale-jobs": {"task": REVIVE_TASK, "schedule": REVIVE_EVERY_S, "options": {"queue": "cpu"}}}


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration every process of a deployment shares (senders and workers)."""
    from kombu import Queue

    return {
        "broker_url": settings.broker_url or None,
        "result_backend": settings.result_backend or None,
        "task_ignore_result": True,  # the database holds every result; the backend is optional
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": "cpu",
        "task_create_missing_queues": False,
        "broker_transport_options": {
            "visibility_timeout": settings.broker_visibility_timeout,
            # how often a worker looks for tasks whose worker died (their visibility timeout passed)
            "unacked_restore_interval": max(1, min(10, settings.broker_visibility_timeout // 2)),
        },
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
    }


@lru_cache(maxsize=4)
def _sender(broker_url: str) -> "Celery":
    from celery import Celery

    app = Celery("emo_annotator")
    app.conf.update(celery_config(get_settings()))
    return app


def send_label_batch(job_id: int, item_ids: list[int], queue: str) -> None:
    """Enqueue one pre-labeling batch (ids only; the worker re-reads everything from the database)."""
    _send(LABEL_BATCH_TASK, [job_id, item_ids], queue)


def send_run_job(job_id: int, queue: str) -> None:
    """Enqueue a single-task job (e.g. retraining)."""
    _send(RUN_JOB_TASK, [job_id], queue)


def check_queue(queue: str) -> None:
    """ValueError for a queue no worker listens on."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUES)}")


def _send(task: str, args: list[Any], queue: str) -> None:
    check_queue(queue)
    settings = get_settings()
    if not settings.broker_url:
        raise ValueError("no broker: set ANNOTATOR_BROKER_URL, or run the job in this process")
    _sender(settings.broker_url).send_task(task, args=args, queue=queue)
