"""The Celery app's configuration: JSON only, crash-safe acknowledgement, explicit queues, beat schedule."""

from __future__ import annotations

import pytest

from annotator.settings import get_settings


@pytest.fixture
def make(monkeypatch):
    def build(**env: str):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        import worker.tasks  # noqa: F401 - registers the tasks on worker.app.app
        from worker.app import make_app

        app = make_app()
        app.loader.import_default_modules()
        return app

    return build


def test_json_only_acks_late_prefetch_one_explicit_queues(make) -> None:
    conf = make(ANNOTATOR_BROKER_URL="redis://127.0.0.1:1/0", ANNOTATOR_BROKER_VISIBILITY_TIMEOUT="120").conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"] and conf.result_serializer == "json"
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert [q.name for q in conf.task_queues] == ["gpu", "cpu", "train"] and not conf.task_create_missing_queues
    assert conf.broker_transport_options["visibility_timeout"] == 120


def test_beat_schedule_comes_from_settings(make) -> None:
    assert set(make().conf.beat_schedule) == {"revive-stale-jobs"}  # always: jobs whose worker died
    app = make(ANNOTATOR_RETRAIN_CRON="30 2 * * 1", ANNOTATOR_RETRAIN_AFTER_NEW_ITEMS="100")
    schedule = app.conf.beat_schedule
    assert set(schedule) == {"retrain-cron", "retrain-after-new-items", "revive-stale-jobs"}
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks
        assert entry["options"]["queue"] == ("cpu" if name == "revive-stale-jobs" else "train")


def test_unknown_queue_is_refused() -> None:
    from annotator.jobs.dispatch import send_label_batch

    with pytest.raises(ValueError, match="unknown queue 'gpu2'"):
        send_label_batch(1, [1], "gpu2")


def test_senders_and_workers_share_one_configuration_and_the_task_names(make) -> None:
    from annotator.jobs import dispatch

    worker = make(ANNOTATOR_BROKER_URL="redis://127.0.0.1:1/0")
    sender = dispatch._sender("redis://127.0.0.1:1/0")
    for key in ("task_serializer", "task_acks_late", "task_reject_on_worker_lost", "broker_transport_options"):
        assert sender.conf[key] == worker.conf[key]
    assert {dispatch.LABEL_BATCH_TASK, dispatch.RUN_JOB_TASK} <= set(worker.tasks)
