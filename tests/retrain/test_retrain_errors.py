"""Retraining refuses what it cannot do, clearly, on SQLite and PostgreSQL: no model is loaded here."""

from __future__ import annotations

from sqlalchemy import select

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.projects.service import create_project
from annotator.retrain.schedule import check_new_items, cron_retrain, retrain_in_flight
from annotator.tables import Job, TrainingRun
from annotator.taxonomy import get_taxonomy


def test_retrain_without_consensus_fails_with_a_reason(engine, runner) -> None:
    with session_scope(engine) as db:
        create_project(db, "empty", get_taxonomy("ekman"))
    result = runner.invoke(app, ["retrain", "--project", "empty"])
    assert result.exit_code == 2
    assert "no consensus items to train on" in result.output
    with session_scope(engine) as db:
        job = db.scalar(select(Job))
        run = db.scalar(select(TrainingRun))
        assert (job.kind, job.queue, job.state) == ("retrain", "train", "failed")
        assert "no consensus items" in job.error
        assert run.state == "failed" and "no consensus items" in run.error and run.finished_at is not None
        assert run.params["job_id"] == job.id and run.from_adapter is not None
    assert not retrain_in_flight(engine, "empty")
    # the schedule starts nothing for a project without consensus items
    assert cron_retrain(engine) == [] and check_new_items(engine) == []


def test_retrain_refuses_unknown_project_and_version(engine, runner) -> None:
    result = runner.invoke(app, ["retrain", "--project", "nope"])
    assert result.exit_code == 2 and "no project named 'nope'" in result.output
    with session_scope(engine) as db:
        create_project(db, "p", get_taxonomy("ekman"))
    result = runner.invoke(app, ["retrain", "--project", "p", "--from", "v-missing"])
    assert result.exit_code == 2 and "v-missing" in result.output
    with session_scope(engine) as db:
        assert db.scalar(select(Job)) is None  # nothing was queued
