"""The Celery app the workers run, configured from settings (see annotator.jobs.dispatch for what is shared
with the processes that send tasks, and why)."""

from __future__ import annotations

from celery import Celery

from annotator.jobs.dispatch import QUEUES, beat_schedule, celery_config
from annotator.retrain import schedule
from annotator.settings import get_settings

__all__ = ["QUEUES", "app", "make_app"]


def make_app() -> Celery:
    """A Celery worker app for the broker named by ANNOTATOR_BROKER_URL, with the beat schedule."""
    settings = get_settings()
    app = Celery("emo_annotator", include=["worker.tasks"])
    app.conf.update(celery_config(settings), beat_schedule={**beat_schedule(), **schedule.beat_schedule(settings)})
    return app


app = make_app()
