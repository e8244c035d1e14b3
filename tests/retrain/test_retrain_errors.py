"""Retraining refuses what it cannot do, clearly, on SQLite and PostgreSQL: no model is loaded here."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.projects.service import create_project
from annotator.retrain.schedule import check_new_items, cron_retrain, retrain_in_flight
from annotator.jobs.service import create_job, submit_job
from annotator.states import JobKind
from annotator.tables import Job, Project, TrainingRun
from annotator.taxonomy import get_taxonomy


def test_retrain_without_consensus_fails_with_a_reason(engine, runner) -> None:
    with session_scope(engine) as db:
        create_project(db, "empty", get_taxonomy("ekman"))
    result = runner.invoke(app, ["retrain", "--project", "empty"])
    assert result.exit_code == 2
    assert "no consensus items to train on" in result.output
    with session_scope(engine) as db:
        assert db.scalar(select(Job)) is None  # refused before a job was made

    # A job that gets made anyway (its consensus vanished after the check) fails with the same reason.
    with session_scope(engine) as db:
        project_id = db.scalar(select(Project.id).where(Project.name == "empty"))
        job_id = create_job(db, JobKind.RETRAIN, project_id, params={}, queue="train").id
    with pytest.raises(ValueError, match="no consensus items"):
        submit_job(engine, job_id, wait=True)  # without a broker it runs here, and says why it failed
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


def test_the_schedule_skips_a_project_it_cannot_retrain_yet(engine, caplog) -> None:
    """Consensus items but no gold (gold_fraction 0): the cron trigger starts nothing and does not fail."""
    from annotator import repo
    from annotator.tables import Item

    with session_scope(engine) as db:
        project = create_project(db, "nogold", get_taxonomy("ekman"), {"gold_fraction": 0.0})
        items = [Item(project_id=project.id, text=f"text {n}", content_hash=f"h{n}") for n in range(4)]
        db.add_all(items)
        db.flush()
        repo.upsert_annotations(db, [{"item_id": i.id, "annotator": who, "emotions": ["joy"]}
                                     for i in items for who in ("ann", "bob")], "dashboard")
    assert cron_retrain(engine) == []
    assert any("no held-out gold" in getattr(r, "reason", "") for r in caplog.records)
    with session_scope(engine) as db:
        assert db.scalar(select(Job)) is None
