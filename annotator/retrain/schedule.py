"""When retraining runs by itself: a Celery beat schedule built from settings, and the checks it calls.

Two triggers, either or both (``ANNOTATOR_RETRAIN_CRON``, ``ANNOTATOR_RETRAIN_AFTER_NEW_ITEMS``):

- cron: at the given times, every project with at least one consensus item newer than its last
  retraining is retrained (:func:`cron_retrain`);
- after N new consensus items: every ``ANNOTATOR_RETRAIN_CHECK_EVERY_S`` seconds, each project with at
  least N consensus items more than its last retraining used is retrained (:func:`check_new_items`).

Both start the same job as ``annotator retrain`` (without waiting) and skip a project whose retraining
is already queued or running. The Celery app (``worker/``) registers the two task names below.
"""

from __future__ import annotations

import logging

from typing import Any

from sqlalchemy import Engine, select

from annotator import repo
from annotator.db import session_scope
from annotator.jobs.service import job_in_flight
from annotator.settings import Settings, get_settings
from annotator.states import JobKind, RunState
from annotator.tables import TrainingRun

CRON_TASK = "worker.retrain.cron"  # calls cron_retrain(engine)
CHECK_TASK = "worker.retrain.check_new_items"  # calls check_new_items(engine)

log = logging.getLogger(__name__)


def parse_cron(expression: str) -> dict[str, str]:
    """The five fields of a cron expression (minute hour day-of-month month day-of-week), by crontab's names."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"ANNOTATOR_RETRAIN_CRON must have 5 fields (minute hour day month weekday), "
                         f"got {expression!r}")
    names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    return dict(zip(names, fields))


def beat_schedule(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """Celery ``beat_schedule`` entries for retraining (empty when both triggers are off)."""
    from celery.schedules import crontab

    s = settings or get_settings()
    schedule: dict[str, dict[str, Any]] = {}
    if s.retrain_cron.strip():
        schedule["retrain-cron"] = {"task": CRON_TASK, "schedule": crontab(**parse_cron(s.retrain_cron)),
                                    "options": {"queue": "train"}}
    if s.retrain_after_new_items > 0:
        schedule["retrain-after-new-items"] = {"task": CHECK_TASK, "schedule": float(s.retrain_check_every_s),
                                               "options": {"queue": "train"}}
    return schedule


def new_consensus_items(engine: Engine, project: str) -> int:
    """How many more consensus items (train + gold) the project has than its last finished retraining saw."""
    from annotator.retrain.job import N_CONSENSUS_KEY, consensus_dataset

    data = consensus_dataset(engine, project)
    now = len(data.train) + len(data.gold)
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        last = db.scalar(select(TrainingRun.metrics).where(TrainingRun.project_id == proj.id,
                                                            TrainingRun.state == RunState.DONE)
                         .order_by(TrainingRun.id.desc()).limit(1))
    seen = int((last or {}).get(N_CONSENSUS_KEY, 0))
    return max(0, now - seen)


def retrain_in_flight(engine: Engine, project: str) -> bool:
    """Whether a retraining of the project is queued or running."""
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        return job_in_flight(db, proj.id, JobKind.RETRAIN)


def retrain_due(engine: Engine, project: str, min_new: int) -> bool:
    """Whether the project has at least ``min_new`` new consensus items and no retraining in flight."""
    return not retrain_in_flight(engine, project) and new_consensus_items(engine, project) >= max(1, min_new)


def start_due(engine: Engine, min_new: int) -> list[int]:
    """Start a retraining (not waiting) of every project that is due; returns the job ids."""
    from annotator.retrain.job import start_retrain

    with session_scope(engine) as db:
        names = sorted(repo.project_names(db).values())
    started = []
    for name in names:
        if not retrain_due(engine, name, min_new):
            continue
        try:
            started.append(start_retrain(engine, name, wait=False))
        except ValueError as exc:  # e.g. consensus items but no gold yet: this project waits, the others go on
            log.warning("retrain.not_started", extra={"project": name, "reason": str(exc)})
    return started


def cron_retrain(engine: Engine) -> list[int]:
    """The cron trigger: retrain every project with any new consensus item."""
    return start_due(engine, 1)


def check_new_items(engine: Engine) -> list[int]:
    """The periodic check: retrain every project with ``ANNOTATOR_RETRAIN_AFTER_NEW_ITEMS`` new consensus items."""
    threshold = get_settings().retrain_after_new_items
    return start_due(engine, threshold) if threshold > 0 else []
