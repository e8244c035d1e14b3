"""Fixtures for job and worker tests: a tiny real base model, a corpus, and Celery workers as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, ingest
from annotator.projects.service import create_project
from annotator.settings import get_settings
from annotator.tables import Job, Prediction
from annotator.taxonomy import get_taxonomy
from tests.support.redis_server import RedisServer
from tests.support.tiny_base import make_tiny_base

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "examples" / "goemotions_sample" / "goemotions_dev_sample.jsonl"
ANNOTATOR = Path(sys.executable).with_name("annotator")


@pytest.fixture(scope="session")
def tiny_base() -> Path:
    """A tiny random Llama with SmolLM2's tokenizer, kept in the cache between runs."""
    import torch

    torch.set_num_threads(1)
    cache = get_settings().cache_dir
    return make_tiny_base(cache / "test-bases" / "tiny-llama-v1", cache)


@pytest.fixture
def tiny_env(tiny_base: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for this process: the tiny base, one torch thread, no broker."""
    monkeypatch.setenv("ANNOTATOR_BASE_MODEL", str(tiny_base))
    monkeypatch.setenv("ANNOTATOR_TORCH_THREADS", "1")
    monkeypatch.delenv("ANNOTATOR_BROKER_URL", raising=False)
    get_settings.cache_clear()
    return tiny_base


def add_corpus(engine: Engine, project: str, n: int, tmp_path: Path, taxonomy: str = "ekman") -> None:
    """Create ``project`` and ingest the first ``n`` texts of the demo corpus."""
    with session_scope(engine) as db:
        create_project(db, project, get_taxonomy(taxonomy), exist_ok=True)
    path = tmp_path / f"{project}.jsonl"
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:n]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = ingest(engine, project, str(path), IngestOptions(id_field="id"))
    assert summary.inserted == n


def prediction_counts(engine: Engine, version: str) -> tuple[int, int]:
    """(predictions, distinct items) for one adapter version."""
    with session_scope(engine) as db:
        return db.execute(select(func.count(), func.count(func.distinct(Prediction.item_id)))
                          .where(Prediction.adapter_version == version)).one()


def job_row(engine: Engine, job_id: int) -> dict:
    """A job's state and counters, read fresh."""
    with session_scope(engine) as db:
        job = db.get(Job, job_id)
        return {"state": job.state, "done": job.done, "total": job.total, "error": job.error}


def wait_for(condition, timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll ``condition()`` until true, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Workers:
    """Real `annotator worker` (Celery) subprocesses against a test's broker and database."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, queue: str = "cpu") -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "w")
        proc = subprocess.Popen(
            [str(ANNOTATOR), "worker", "--queue", queue, "--concurrency", "1", "--hostname", f"{name}@test",
             "--loglevel", "info"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        wait_for(lambda: "ready" in self.log(name) or proc.poll() is not None, 120, f"worker {name} to start")
        assert proc.poll() is None, f"worker {name} exited:\n{self.log(name)[-3000:]}"
        return proc

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def kill9(self, name: str) -> None:
        """SIGKILL the worker's whole process group, as a crash or an OOM kill would."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server on a free port (tests kill and restart it)."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def celery_env(db_url: str, tiny_env: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> dict[str, str]:
    """Environment shared by this test process and its workers: same database, broker and base."""
    env = dict(os.environ)
    env.update({
        "ANNOTATOR_DATABASE_URL": db_url,
        "ANNOTATOR_BROKER_URL": redis_server.url,
        "ANNOTATOR_BASE_MODEL": str(tiny_env),
        "ANNOTATOR_TORCH_THREADS": "1",
        # short, so that a killed worker's batch goes to another worker within seconds
        "ANNOTATOR_BROKER_VISIBILITY_TIMEOUT": "6",
        "ANNOTATOR_CACHE_DIR": str(get_settings().cache_dir),
    })
    for key in ("ANNOTATOR_BROKER_URL", "ANNOTATOR_BROKER_VISIBILITY_TIMEOUT"):
        monkeypatch.setenv(key, env[key])
    get_settings.cache_clear()
    _reset_celery_app()
    return env


def _reset_celery_app() -> None:
    """worker.app builds its Celery app from settings at import; rebuild it for this test's broker."""
    import worker.app

    worker.app.app = worker.app.make_app()


@pytest.fixture
def workers(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(celery_env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        _reset_celery_app()


def predictions_by_item(engine: Engine, version: str) -> dict[str, dict]:
    """external id -> the prediction's fields, for comparing runs."""
    from annotator.tables import Item

    with session_scope(engine) as db:
        rows = db.execute(select(Item.external_id, Prediction).join(Prediction, Prediction.item_id == Item.id)
                          .where(Prediction.adapter_version == version)).all()
        return {ext: {"emotions": p.emotions, "intensity": p.intensity, "cause": (p.cause_start, p.cause_end),
                      "cause_text": p.cause_text} for ext, p in rows}
