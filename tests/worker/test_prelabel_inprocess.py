"""Pre-labeling on the embedded default (no broker): the same task code, run in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.label.prelabel import label_batch, remaining_batches, start_prelabel
from annotator.label.thresholds import decision_margin
from annotator.tables import Annotation, Item, Job, Prediction
from tests.worker.conftest import add_corpus, job_row, prediction_counts


def test_prelabel_labels_every_item_once_and_again_adds_nothing(engine, tiny_env, runner, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 40, tmp_path)
    result = runner.invoke(app, ["prelabel", "-p", "corpus", "--adapter", "base", "--batch-size", "8"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "in process" in result.output and "40/40" in result.output
    assert prediction_counts(engine, "base") == (40, 40)
    with session_scope(engine) as db:
        job = db.query(Job).one()
        assert (job.kind, job.state, job.done, job.total, job.dispatch) == ("prelabel", "done", 40, 40, "inprocess")
        for p in db.query(Prediction).all():
            assert set(p.emotions) == {"anger", "disgust", "fear", "joy", "sadness", "surprise"}
            assert all(0.0 <= v <= 1.0 for v in p.emotions.values())
            assert p.confidence == pytest.approx(decision_margin(p.emotions, 0.5))  # the zero-shot base: 0.5
            assert 0.0 <= p.intensity <= 1.0 and p.job_id == job.id
            assert p.provenance["backend"] == "transformers" and p.provenance["device"] == "cpu"
            if p.cause_start is not None:
                assert db.get(Item, p.item_id).text[p.cause_start:p.cause_end] == p.cause_text

    again = runner.invoke(app, ["prelabel", "-p", "corpus", "--adapter", "base"], catch_exceptions=False)
    assert again.exit_code == 0 and "0 items to label" in again.output
    assert prediction_counts(engine, "base") == (40, 40)


def test_a_redelivered_batch_writes_nothing_twice(engine, tiny_env, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 12, tmp_path)
    job_id = start_prelabel(engine, "corpus", adapter="base", batch_size=6)
    batches = remaining_batches(engine, job_id)
    assert [len(b) for b in batches] == [6, 6]
    assert label_batch(engine, job_id, batches[0]) == 6
    assert label_batch(engine, job_id, batches[0]) == 0  # redelivered: skipped, not counted again
    assert job_row(engine, job_id) == {"state": "running", "done": 6, "total": 12, "error": None}
    assert remaining_batches(engine, job_id) == [batches[1]]
    assert label_batch(engine, job_id, batches[1]) == 6
    assert job_row(engine, job_id)["state"] == "done"


def test_progress_moves_every_few_items_not_once_per_batch(engine, tiny_env, tmp_path: Path, monkeypatch) -> None:
    """A batch of 12 commits its predictions and its progress in slices of ANNOTATOR_PRELABEL_PROGRESS_ITEMS
    (4): three commits, each counted once, also when the batch is delivered again."""
    from annotator.settings import get_settings
    from annotator.tables import JobBatch

    monkeypatch.setenv("ANNOTATOR_PRELABEL_PROGRESS_ITEMS", "4")
    get_settings.cache_clear()
    add_corpus(engine, "corpus", 12, tmp_path)
    job_id = start_prelabel(engine, "corpus", adapter="base", batch_size=12)
    (batch,) = remaining_batches(engine, job_id)
    assert label_batch(engine, job_id, batch) == 12
    assert label_batch(engine, job_id, batch) == 0
    with session_scope(engine) as db:
        slices = db.query(JobBatch).filter_by(job_id=job_id).order_by(JobBatch.first_item_id).all()
        assert [(s.first_item_id, s.items) for s in slices] == [(batch[i], 4) for i in (0, 4, 8)]
    assert job_row(engine, job_id) == {"state": "done", "done": 12, "total": 12, "error": None}


def test_only_missing_and_untouched_only_scope(engine, tiny_env, runner, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 10, tmp_path)
    with session_scope(engine) as db:
        first, second = db.query(Item).order_by(Item.id).limit(2).all()
        db.add(Prediction(item_id=first.id, adapter_version="older", emotions={"joy": 0.9}))
        db.add(Annotation(item_id=second.id, annotator="ann", emotions=["joy"], source="import"))
    only_missing = start_prelabel(engine, "corpus", adapter="base", only_missing=True)
    untouched = start_prelabel(engine, "corpus", adapter="base", untouched_only=True)
    both = start_prelabel(engine, "corpus", adapter="base", only_missing=True, untouched_only=True)
    assert [job_row(engine, j)["total"] for j in (only_missing, untouched, both)] == [9, 9, 8]
    ids = {i for batch in remaining_batches(engine, both) for i in batch}
    assert first.id not in ids and second.id not in ids


def test_a_labeler_that_cannot_load_fails_the_job_with_its_reason(engine, tiny_env, runner, tmp_path: Path,
                                                                   monkeypatch) -> None:
    add_corpus(engine, "corpus", 5, tmp_path)
    monkeypatch.setenv("ANNOTATOR_BASE_MODEL", str(tmp_path / "no-such-model"))
    from annotator.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["prelabel", "-p", "corpus", "--adapter", "base"], catch_exceptions=False)
    assert result.exit_code == 1
    with session_scope(engine) as db:
        job = db.query(Job).one()
        assert job.state == "failed" and "no-such-model" in job.error and "cannot load the labeler" in job.error
    assert prediction_counts(engine, "base") == (0, 0)


def test_unknown_adapter_is_a_user_error(engine, tiny_env, runner, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 2, tmp_path)
    result = runner.invoke(app, ["prelabel", "-p", "corpus", "--adapter", "v-missing"])
    assert result.exit_code == 2 and "no adapter 'v-missing'" in result.output


def test_jobs_lists_progress_as_json(engine, tiny_env, runner, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 6, tmp_path)
    runner.invoke(app, ["prelabel", "-p", "corpus", "--adapter", "base"], catch_exceptions=False)
    result = runner.invoke(app, ["jobs", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    (job,) = json.loads(result.output)
    assert (job["kind"], job["project"], job["state"], job["done"], job["total"]) == ("prelabel", "corpus", "done",
                                                                                       6, 6)


def test_worker_without_a_broker_says_what_to_set(runner, monkeypatch) -> None:
    monkeypatch.delenv("ANNOTATOR_BROKER_URL", raising=False)
    result = runner.invoke(app, ["worker", "--queue", "gpu"])
    assert result.exit_code == 2 and "ANNOTATOR_BROKER_URL" in result.output


def test_limit_labels_a_sample_of_the_first_unlabeled_items(engine, tiny_env, tmp_path: Path) -> None:
    add_corpus(engine, "corpus", 10, tmp_path)
    with session_scope(engine) as db:
        first = db.query(Item).order_by(Item.id).first()
        db.add(Prediction(item_id=first.id, adapter_version="base", emotions={"joy": 0.9}))
    job_id = start_prelabel(engine, "corpus", adapter="base", limit=4)
    batches = remaining_batches(engine, job_id)
    with session_scope(engine) as db:
        expected = [i.id for i in db.query(Item).order_by(Item.id).all()][1:5]
    assert job_row(engine, job_id)["total"] == 4 and [i for b in batches for i in b] == expected


def test_two_jobs_over_the_same_items_both_finish(engine, tiny_env, tmp_path) -> None:
    """Items already labeled by the same adapter count as done for every job over them."""
    add_corpus(engine, "twice", 24, tmp_path)
    first = start_prelabel(engine, "twice", adapter="base", batch_size=8)
    second = start_prelabel(engine, "twice", adapter="base", batch_size=8)
    a, b = remaining_batches(engine, first), remaining_batches(engine, second)
    label_batch(engine, first, a[0])  # interleaved, as two processes would
    for batch in b:
        label_batch(engine, second, batch)
    for batch in a[1:]:
        label_batch(engine, first, batch)
    label_batch(engine, first, a[1])  # a redelivered batch counts once
    for job_id in (first, second):
        assert job_row(engine, job_id) == {"state": "done", "done": 24, "total": 24, "error": None}
    assert prediction_counts(engine, "base") == (24, 24)


def test_a_job_whose_process_died_is_finished_by_whoever_waits_for_it(engine, tiny_env, tmp_path, monkeypatch):
    """An in-process prelabel killed mid-job leaves its job running; `--wait` (wait_for_job) sees no heartbeat
    and runs what is left itself instead of waiting forever."""
    from datetime import timedelta

    from annotator.db import session_scope
    from annotator.jobs.service import wait_for_job
    from annotator.settings import get_settings
    from annotator.tables import Job, utcnow

    add_corpus(engine, "dead", 16, tmp_path)
    job_id = start_prelabel(engine, "dead", adapter="base", batch_size=8)
    label_batch(engine, job_id, remaining_batches(engine, job_id)[0])  # then the process "dies"
    with session_scope(engine) as db:
        db.get(Job, job_id).heartbeat_at = utcnow() - timedelta(minutes=10)
    monkeypatch.setenv("ANNOTATOR_JOB_STALE_AFTER", "60")
    get_settings.cache_clear()
    assert wait_for_job(engine, job_id, interval=0.1) == "done"
    assert job_row(engine, job_id) == {"state": "done", "done": 16, "total": 16, "error": None}
