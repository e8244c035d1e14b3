"""Pre-labeling benchmark: items/s in process vs 1 and 2 Celery workers (concurrency 1 each).

Each mode labels the same items (its own copy of the project) with the same labeler, on a private
redis-server and a fresh database, and the table gives items/s and the Celery overhead per worker
against the in-process run measured in the same invocation (goal: <= 10%). Every process uses
``--threads`` torch threads, so "per worker" compares like with like.

    python bench/prelabel.py                         # 2,000 items, the default labeler
    python bench/prelabel.py --items 200 --base /path/to/hf-folder
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.redis_server import RedisServer  # noqa: E402

CORPUS = REPO / "examples" / "goemotions_sample" / "goemotions_dev_sample.jsonl"
ANNOTATOR = Path(sys.executable).with_name("annotator")


def corpus(path: Path, n: int) -> Path:
    """``n`` GoEmotions texts (the 500-line demo corpus repeated with distinct suffixes past 500)."""
    import json

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            row = rows[i % len(rows)]
            text = row["text"] if i < len(rows) else f"{row['text']} ({i // len(rows)})"
            out.write(json.dumps({"id": f"{row['id']}-{i}", "text": text}) + "\n")
    return path


def run(argv: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([str(ANNOTATOR), *argv], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"annotator {' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def timed_job(project: str, env: dict[str, str], batch: int) -> tuple[float, int]:
    """Run one job; return (seconds, items) between its first and last committed batch.

    Timing from the first commit leaves out process start and model loading, which a long-lived
    worker pays once and the in-process command pays on every run.
    """
    run(["prelabel", "-p", project, "--batch-size", str(batch), "--wait"], env)
    from sqlalchemy import func, select

    from annotator.db import get_engine, session_scope
    from annotator.tables import Item, Prediction, Project

    engine = get_engine(env["ANNOTATOR_DATABASE_URL"])
    with session_scope(engine) as db:
        stamps = db.execute(
            select(Prediction.created_at, func.count()).join(Item, Item.id == Prediction.item_id)
            .join(Project, Project.id == Item.project_id).where(Project.name == project)
            .group_by(Prediction.created_at).order_by(Prediction.created_at)
        ).all()
    first, last = stamps[0][0], stamps[-1][0]
    items_after_first = sum(n for _, n in stamps[1:])
    return (last - first).total_seconds(), items_after_first


def start_worker(name: str, env: dict[str, str], logdir: Path) -> subprocess.Popen:
    log = open(logdir / f"{name}.log", "w")
    proc = subprocess.Popen([str(ANNOTATOR), "worker", "-Q", "cpu", "-c", "1", "-n", f"{name}@bench"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while "ready" not in (logdir / f"{name}.log").read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker {name} did not start; see {logdir / (name + '.log')}")
        time.sleep(0.2)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every labeling process")
    parser.add_argument("--base", default=None, help="ANNOTATOR_BASE_MODEL (default: the packaged SmolLM2)")
    parser.add_argument("--taxonomy", default="goemotions")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-prelabel-"))
    redis = RedisServer(work).start()
    env = dict(os.environ, ANNOTATOR_DATABASE_URL=f"sqlite:///{work}/bench.db",
               ANNOTATOR_TORCH_THREADS=str(args.threads), ANNOTATOR_BROKER_VISIBILITY_TIMEOUT="3600")
    env.pop("ANNOTATOR_BROKER_URL", None)
    if args.base:
        env["ANNOTATOR_BASE_MODEL"] = args.base
    data = corpus(work / "corpus.jsonl", args.items)
    modes = ("in-process", "1 worker", "2 workers")
    for mode in modes:
        project = mode.replace(" ", "-")
        run(["project", "create", project, "--taxonomy", args.taxonomy], env)
        run(["ingest", str(data), "-p", project, "--id-field", "id"], env)

    results: dict[str, tuple[float, int]] = {}
    try:
        results["in-process"] = timed_job("in-process", env, args.batch_size)
        celery_env = dict(env, ANNOTATOR_BROKER_URL=redis.url)
        for mode, n in (("1 worker", 1), ("2 workers", 2)):
            procs = [start_worker(f"w{i}", celery_env, work) for i in range(n)]
            try:
                results[mode] = timed_job(mode.replace(" ", "-"), celery_env, args.batch_size)
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(timeout=60)
    finally:
        redis.kill()

    base_rate = results["in-process"][1] / results["in-process"][0]  # items after the first batch / seconds
    print(f"\n{args.items} items, batch {args.batch_size}, {args.threads} torch thread(s) per process, "
          f"taxonomy {args.taxonomy}, base {args.base or 'smollm2 (packaged)'}, cores {os.cpu_count()}")
    print(f"{'mode':<12} {'seconds':>9} {'items/s':>9} {'items/s/worker':>15} {'overhead/worker':>16}")
    for mode in modes:
        seconds, done = results[mode]
        workers = {"in-process": 1, "1 worker": 1, "2 workers": 2}[mode]
        rate = done / seconds
        overhead = 1 - (rate / workers) / base_rate
        print(f"{mode:<12} {seconds:>9.1f} {rate:>9.2f} {rate / workers:>15.2f} {overhead:>15.1%}")


if __name__ == "__main__":
    main()
