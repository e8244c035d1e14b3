"""Pre-labeling through real Celery workers (subprocesses) on a real Redis started by each test.

The database is the source of truth: whatever happens to workers or to Redis, every item ends with
exactly one prediction for the job's adapter version, and the job's progress adds up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.label.prelabel import dispatch_prelabel, start_prelabel
from tests.worker.conftest import (
    Workers,
    add_corpus,
    job_row,
    prediction_counts,
    predictions_by_item,
    wait_for,
)

pytestmark = pytest.mark.slow

N_ITEMS = 240
BATCH = 8


@pytest.fixture(params=["postgres"])
def db_url(request, db_url):  # noqa: F811 - the shared fixture, restricted to PostgreSQL (the production setup)
    if request.param != "postgres":
        pytest.skip("Celery tests run on PostgreSQL")
    return db_url


def _enqueue(engine, tmp_path: Path, n: int = N_ITEMS) -> int:
    add_corpus(engine, "corpus", n, tmp_path)
    job_id = start_prelabel(engine, "corpus", adapter="base", batch_size=BATCH)
    dispatch_prelabel(engine, job_id, wait=False)
    return job_id


def _assert_complete(engine, job_id: int, n: int = N_ITEMS) -> None:
    assert prediction_counts(engine, "base") == (n, n)  # every item, exactly once
    job = job_row(engine, job_id)
    assert job == {"state": "done", "done": n, "total": n, "error": None}


def test_killed_worker_mid_job_loses_and_duplicates_nothing(engine, workers: Workers, tmp_path: Path) -> None:
    job_id = _enqueue(engine, tmp_path)
    workers.start("w1")
    wait_for(lambda: job_row(engine, job_id)["done"] >= 3 * BATCH, 180, "the first batches")
    workers.kill9("w1")
    killed_at = job_row(engine, job_id)["done"]
    assert killed_at < N_ITEMS, "the job finished before the kill; make it longer"
    workers.start("w2")
    wait_for(lambda: job_row(engine, job_id)["state"] == "done", 300, "the job to finish on the second worker")
    _assert_complete(engine, job_id)


def test_redis_restart_mid_job_then_resume(engine, workers: Workers, redis_server, tmp_path: Path, runner) -> None:
    job_id = _enqueue(engine, tmp_path)
    workers.start("w1")
    wait_for(lambda: job_row(engine, job_id)["done"] >= 2 * BATCH, 180, "the first batches")
    redis_server.restart()  # no persistence: every queued task is gone
    assert redis_server.queue_length("cpu") == 0
    from annotator.cli.main import app

    result = runner.invoke(app, ["prelabel", "--resume", str(job_id), "--wait"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _assert_complete(engine, job_id)


def test_two_workers_share_a_job_without_duplicates(engine, workers: Workers, tmp_path: Path) -> None:
    job_id = _enqueue(engine, tmp_path)
    workers.start("w1")
    workers.start("w2")
    wait_for(lambda: job_row(engine, job_id)["state"] == "done", 300, "the job to finish")
    _assert_complete(engine, job_id)
    both = [name for name in ("w1", "w2") if "worker.prelabel.label_batch" in workers.log(name)
            and "succeeded" in workers.log(name)]
    assert both == ["w1", "w2"], "both workers should have taken batches"


def test_celery_path_gives_the_same_predictions_as_in_process(engine, workers: Workers, tmp_path: Path,
                                                             monkeypatch) -> None:
    n = 48
    job_id = _enqueue(engine, tmp_path, n)
    workers.start("w1")
    wait_for(lambda: job_row(engine, job_id)["state"] == "done", 300, "the Celery job")
    via_celery = predictions_by_item(engine, "base")

    from annotator.db import session_scope
    from annotator.settings import get_settings
    from annotator.tables import Prediction

    with session_scope(engine) as db:
        db.query(Prediction).delete()
    monkeypatch.delenv("ANNOTATOR_BROKER_URL")
    get_settings.cache_clear()
    local = start_prelabel(engine, "corpus", adapter="base", batch_size=BATCH)
    dispatch_prelabel(engine, local, wait=True)
    in_process = predictions_by_item(engine, "base")
    assert set(in_process) == set(via_celery) and len(in_process) == n
    for key, ours in in_process.items():
        theirs = via_celery[key]
        assert ours["cause"] == theirs["cause"] and ours["cause_text"] == theirs["cause_text"]
        assert ours["intensity"] == pytest.approx(theirs["intensity"], abs=1e-5)
        for label, p in ours["emotions"].items():
            assert p == pytest.approx(theirs["emotions"][label], abs=1e-5)


def test_a_killed_workers_batch_is_sent_again_long_before_the_visibility_timeout(
        engine, workers: Workers, tmp_path: Path, monkeypatch) -> None:
    """With an hour's visibility timeout, Redis would keep a dead worker's batch for an hour; its job's
    heartbeat stops, and the minute check (beat's revive task, run here by hand) sends the rest again."""
    from annotator.jobs.service import revive_stale_jobs
    from annotator.settings import get_settings

    workers.env["ANNOTATOR_BROKER_VISIBILITY_TIMEOUT"] = "3600"
    monkeypatch.setenv("ANNOTATOR_BROKER_VISIBILITY_TIMEOUT", "3600")
    get_settings.cache_clear()
    job_id = _enqueue(engine, tmp_path)
    workers.start("w1")
    wait_for(lambda: job_row(engine, job_id)["done"] >= 3 * BATCH, 180, "the first batches")
    workers.kill9("w1")
    assert job_row(engine, job_id)["state"] == "running"
    workers.start("w2")  # takes what is still queued; the dead worker's batch stays unacknowledged in Redis
    wait_for(lambda: revive_stale_jobs(engine, stale_after_s=3) == [job_id] or job_row(engine, job_id)["state"] == "done",
             120, "the job to go stale and be sent again")
    wait_for(lambda: job_row(engine, job_id)["state"] == "done", 300, "the job to finish")
    _assert_complete(engine, job_id)
