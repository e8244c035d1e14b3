"""An ingest killed with SIGKILL leaves nothing behind that blocks the next one; a blocked ingest gives up
after ANNOTATOR_INGEST_LOCK_TIMEOUT and names the process holding the lock. Real PostgreSQL, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.db import session_scope
from annotator.repo import _INGEST_LOCK
from annotator.tables import IngestRun, Item, Project
from tests.annotator.test_ingest import make_project

ANNOTATOR = Path(sys.executable).with_name("annotator")
pytestmark = pytest.mark.postgres


def _corpus(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"r{i}", "text": f"row {i} " + "word " * 20}) + "\n")
    return path


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.fixture
def pg(db_url: str, engine):
    if not db_url.startswith("postgresql"):
        pytest.skip("the ingest lock and its holder are PostgreSQL's")
    make_project(engine)
    return db_url


def test_a_killed_ingest_leaves_no_reader_and_no_lock_and_the_next_run_finishes(pg, engine, tmp_path):
    corpus = _corpus(tmp_path / "big.jsonl", 150_000)
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": pg}
    proc = subprocess.Popen([str(ANNOTATOR), "ingest", str(corpus), "-p", "p", "--id-field", "id", "-q",
                             "--batch-size", "2000"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    readers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        readers = _children(proc.pid)
        with session_scope(engine) as db:
            stored = len(db.scalars(select(Item.id).limit(4001)).all())
        if readers and stored > 4000:
            break
        time.sleep(0.2)
    assert proc.poll() is None and readers, "the ingest finished before it could be killed: make the corpus larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pid in readers:
        end = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        assert not _alive(pid), f"reader {pid} outlived its killed ingest"
    done = subprocess.run([str(ANNOTATOR), "ingest", str(corpus), "-p", "p", "--id-field", "id", "-q"], env={
        **env, "ANNOTATOR_INGEST_LOCK_TIMEOUT": "20"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    with session_scope(engine) as db:
        assert len(db.scalars(select(Item.id)).all()) == 150_000


def test_a_blocked_ingest_gives_up_and_names_the_holder(pg, engine, tmp_path):
    import psycopg

    corpus = _corpus(tmp_path / "small.jsonl", 10)
    with session_scope(engine) as db:
        project_id = db.scalar(select(Project.id))
    holder = psycopg.connect(pg.replace("postgresql+psycopg://", "postgresql://"), autocommit=False)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_INGEST_LOCK, project_id))
        pid = holder.info.backend_pid
        started = time.monotonic()
        done = subprocess.run([str(ANNOTATOR), "ingest", str(corpus), "-p", "p", "--id-field", "id", "-q"],
                              env={**os.environ, "ANNOTATOR_DATABASE_URL": pg, "ANNOTATOR_INGEST_LOCK_TIMEOUT": "2"},
                              capture_output=True, text=True, timeout=120)
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    message = " ".join((done.stderr + done.stdout).split())
    assert done.returncode == 2 and "Traceback" not in message, message
    assert f"pid {pid}" in message and f"pg_terminate_backend({pid})" in message
    assert waited < 60


def test_two_ingests_of_one_file_at_once_keep_their_own_counts(pg, engine, tmp_path):
    path = tmp_path / "both.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(20_000):
            f.write(json.dumps({"id": f"r{i}", "text": f"row {i} " + "word " * 10}) + "\n" if i % 50
                    else "{not json\n")
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": pg}
    args = [str(ANNOTATOR), "ingest", str(path), "-p", "p", "--id-field", "id", "-q", "--batch-size", "1000"]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=300) == 1, proc.stderr.read().decode()  # 1: rows were rejected
    with session_scope(engine) as db:
        runs = db.scalars(select(IngestRun)).all()
        stored = len(db.scalars(select(Item.id)).all())
    assert len(runs) == 2 and stored == 20_000 - 400
    for run in runs:  # each run counts what it read itself, never the other's rows too
        assert run.state == "done" and run.rows_rejected == 400
        assert run.rows_inserted + run.rows_duplicate == 20_000 - 400
    assert sum(run.rows_inserted for run in runs) == 20_000 - 400
