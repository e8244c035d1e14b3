"""Benchmark: push 10,000 tasks with predictions to a real Label Studio, next to the server's own rate.

Starts a fresh Label Studio 1.23.2 (the venv from scripts/labelstudio-venv.sh), then:

1. baseline: the same 10,000 task JSONs imported straight with ``projects.import_tasks`` in chunks
   (no database, no bookkeeping): what the server itself sustains here;
2. ours: ``annotator labelstudio push`` of a 10,000-item project (SQLite) into another LS project.

Prints a table of tasks/s. Run: .venv/bin/python bench/labelstudio_push.py [--n 10000] [--chunk 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator import repo  # noqa: E402
from annotator.correct.labelstudio import store  # noqa: E402
from annotator.correct.labelstudio.client import connect  # noqa: E402
from annotator.correct.labelstudio.config import labeling_config  # noqa: E402
from annotator.correct.labelstudio.push import push  # noqa: E402
from annotator.correct.labelstudio.tasks import task_json  # noqa: E402
from annotator.db import open_database, session_scope  # noqa: E402
from annotator.settings import get_settings  # noqa: E402
from annotator.taxonomy import get_taxonomy  # noqa: E402
from tests.labelstudio.helpers import seed  # noqa: E402
from tests.support.labelstudio_server import LabelStudioServer, ensure_venv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    labels = list(get_taxonomy("ekman").labels)
    with tempfile.TemporaryDirectory() as tmp, LabelStudioServer(ensure_venv()) as ls:
        engine = open_database(f"sqlite:///{tmp}/bench.db")
        seed(engine, "bench", args.n)
        conn = connect(get_settings(), url=ls.url, token=ls.token)

        with session_scope(engine) as db:  # the very task JSONs our push sends
            project = repo.get_project_or_raise(db, "bench")
            plan = store.plan_push(db, project, -1, "uncertainty", None)
            items, preds = store.load_chunk(db, plan)
            tasks = [task_json(items[r.item_id], preds[r.prediction_id], labels, 0.5) for r in plan]
        base = conn.client.projects.create(title="baseline import", label_config=labeling_config(labels))
        began = time.monotonic()
        server_seconds = 0.0
        for i in range(0, len(tasks), args.chunk):
            resp = conn.client.projects.import_tasks(id=base.id, request=tasks[i:i + args.chunk],
                                                     return_task_ids=True, request_options={"max_retries": 0})
            server_seconds += resp.duration or 0.0
        baseline = time.monotonic() - began

        ours = push(engine, conn, "bench", chunk_size=args.chunk)
        again = push(engine, conn, "bench", chunk_size=args.chunk)

    print(f"\n{args.n} tasks with embedded predictions (3 result items each), chunks of {args.chunk}, "
          f"Label Studio 1.23.2 dev server + SQLite\n")
    print("| what | seconds | tasks/s |")
    print("| --- | ---: | ---: |")
    print(f"| server bulk import, client wall time (baseline) | {baseline:.1f} | {args.n / baseline:.0f} |")
    print(f"| server bulk import, server-reported duration | {server_seconds:.1f} | {args.n / server_seconds:.0f} |")
    print(f"| `annotator labelstudio push` | {ours.seconds:.1f} | {ours.created / ours.seconds:.0f} |")
    print(f"| push again (nothing to send) | {again.seconds:.1f} | sent {again.sent} |")
    print(f"\npush / baseline: {(ours.created / ours.seconds) / (args.n / baseline):.0%}")


if __name__ == "__main__":
    main()
