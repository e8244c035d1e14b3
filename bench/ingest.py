"""Ingest benchmark: rows/s, wall time, peak RSS and rejected rows on SQLite and PostgreSQL.

Generates JSONL corpora (default 100k and 1M rows, ~1% bad rows spread over every rejection class),
ingests each into a fresh SQLite file and a fresh PostgreSQL schema, each run in its own process so
peak RSS is that run's alone, and prints a table. Peak RSS should not grow with the file size.

    python bench/ingest.py                      # 100k and 1M rows, both databases
    python bench/ingest.py --rows 100000 --db sqlite
    python bench/ingest.py --rows 1000000 --db postgres --repeat 3   # medians of 3 runs

CPU time is user+sys of the ingest process plus its reader process (on a shared machine wall time
is noisy; CPU time much less so). For PostgreSQL the server's CPU time is shown too: that of the backends
serving the ingest, read from /proc (the benchmark expects the server on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WORDS = ("so happy today", "this is awful", "I can't believe it", "what a surprise", "thanks a lot",
         "that scared me", "love this", "meh", "why would you do that", "great game last night")
BAD_KINDS = ("invalid_json", "not_an_object", "undecodable_bytes", "missing_text", "empty_text",
             "non_string_text", "text_too_long", "missing_id", "duplicate_id_conflict")


def generate(path: Path, rows: int, bad_rate: float = 0.01, seed: int = 0) -> dict[str, int]:
    """Write a JSONL corpus with ``rows`` lines, about ``bad_rate`` of them bad; return counts by kind."""
    rng = random.Random(seed)
    counts = {k: 0 for k in ("good", *BAD_KINDS)}
    with open(path, "wb") as f:
        for i in range(rows):
            text = f"{rng.choice(WORDS)} #{i} {rng.random():.6f}"
            if rng.random() < bad_rate and i > 0:
                kind = BAD_KINDS[i % len(BAD_KINDS)]
                counts[kind] += 1
                line = {
                    "invalid_json": b'{"id": "x%d", "text": "unterminated\n' % i,
                    "not_an_object": b'["a list", %d]\n' % i,
                    "undecodable_bytes": b'{"id": "b%d", "text": "caf\xe9 latin-1"}\n' % i,
                    "missing_text": json.dumps({"id": f"m{i}", "body": text}).encode() + b"\n",
                    "empty_text": json.dumps({"id": f"e{i}", "text": "   "}).encode() + b"\n",
                    "non_string_text": json.dumps({"id": f"n{i}", "text": 12345}).encode() + b"\n",
                    "text_too_long": json.dumps({"id": f"l{i}", "text": "x" * 30000}).encode() + b"\n",
                    "missing_id": json.dumps({"text": text}).encode() + b"\n",
                    "duplicate_id_conflict": json.dumps({"id": "r0", "text": text}).encode() + b"\n",
                }[kind]
                f.write(line)
                continue
            counts["good"] += 1
            f.write(json.dumps({"id": f"r{i}", "text": text, "lang": "en", "score": i % 7}).encode() + b"\n")
    return counts


def run_one(corpus: str, url: str, batch_size: int) -> None:
    """Child process: ingest ``corpus`` into ``url`` and print one JSON line of measurements."""
    from annotator.db import open_database, session_scope
    from annotator.ingest.service import IngestOptions, ingest
    from annotator.projects.service import create_project
    from annotator.taxonomy import get_taxonomy

    engine = open_database(url)
    with session_scope(engine) as db:
        create_project(db, "bench", get_taxonomy("ekman"), exist_ok=True)
    before = _cpu()
    start = time.perf_counter()
    summary = ingest(engine, "bench", corpus,
                     IngestOptions(id_field="id", max_text_chars=20000, batch_size=batch_size))
    wall = time.perf_counter() - start
    cpu = _cpu() - before
    server_cpu = _server_cpu(engine) if engine.dialect.name == "postgresql" else None
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(json.dumps({"rows": summary.rows_read, "inserted": summary.inserted, "rejected": summary.rejected,
                      "wall": wall, "cpu": cpu, "rows_per_s": summary.rows_read / wall, "peak_rss_mb": peak_mb, "server_cpu": server_cpu}))


def _server_cpu(engine) -> float | None:
    """User+sys seconds of the PostgreSQL backends serving this process (still open in its pool), read
    from /proc: the server runs on this machine in the benchmark. None where /proc does not show them."""
    with engine.connect() as conn:
        pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE application_name = "
                                    "current_setting('application_name')").scalars().all()
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _cpu() -> float:
    """User+sys seconds of this process and its finished children (the reader process)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(r.ru_utime + r.ru_stime for r in usage)


def _postgres_url(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}", schema


def _drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=None, help="default: ANNOTATOR_TEST_POSTGRES_URL")
    parser.add_argument("--batch-size", type=int, default=None, help="default: ANNOTATOR_INGEST_BATCH_SIZE")
    parser.add_argument("--repeat", type=int, default=1, help="runs per database and size; the table shows medians")
    parser.add_argument("--child", nargs=3, metavar=("CORPUS", "URL", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child[0], args.child[1], int(args.child[2]))
        return
    from annotator.settings import get_settings

    batch_size = args.batch_size or get_settings().ingest_batch_size

    pg_base = args.postgres_url or get_settings().test_postgres_url
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            corpus = Path(tmp) / f"corpus_{rows}.jsonl"
            t0 = time.perf_counter()
            counts = generate(corpus, rows)
            size_mb = corpus.stat().st_size / 1e6
            print(f"generated {rows:,} rows ({size_mb:.0f} MB, {rows - counts['good']:,} bad) "
                  f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for db in dbs:
                runs = []
                for _ in range(args.repeat):
                    schema = None
                    if db == "sqlite":
                        url = f"sqlite:///{tmp}/bench_{rows}_{len(runs)}.db"
                    else:
                        url, schema = _postgres_url(pg_base)
                    out = subprocess.run([sys.executable, __file__, "--child", str(corpus), url, str(batch_size)],
                                         capture_output=True, text=True, env=os.environ.copy())
                    if schema:
                        _drop_schema(pg_base, schema)
                    if out.returncode != 0:
                        sys.exit(f"{db} run failed:\n{out.stderr}")
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(f"  {db}: {runs[-1]['wall']:.1f}s wall, {runs[-1]['cpu']:.1f}s CPU", file=sys.stderr)
                r = {k: statistics.median(run[k] for run in runs) if runs[0][k] is not None else None
                     for k in runs[0]}
                r.update(db=db, size_mb=size_mb, expected_rejected=rows - counts["good"], n=len(runs))
                results.append(r)
    print(f"\nbatch size {batch_size}; medians of {args.repeat} run(s); load average now {os.getloadavg()[0]:.1f}")
    print("| database | rows | file MB | wall s | CPU s (ours) | CPU s (server) | rows/s | peak RSS MB "
          "| rejected (expected) | 1M-row time vs 30 s goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        projected = r["wall"] * 1_000_000 / r["rows"]
        print(f"| {r['db']} | {r['rows']:,.0f} | {r['size_mb']:.0f} | {r['wall']:.1f} | {r['cpu']:.1f} | "
              f"{'-' if r['server_cpu'] is None else format(r['server_cpu'], '.1f')} | {r['rows_per_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['rejected']:,.0f} ({r['expected_rejected']:,}) | "
              f"{projected / 30:.2f}x |")


if __name__ == "__main__":
    main()
