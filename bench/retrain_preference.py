"""Does the EmPO ranking term help a one-pass retraining? The real retraining job, run with and without it.

    OMP_NUM_THREADS=1 .venv/bin/python bench/retrain_preference.py --weights 0,0.5 --out docs/dev-metrics/empo.json

A project on the GoEmotions taxonomy gets GoEmotions *dev* comments (which no shipped adapter trained
on), pre-labeled by the shipped default adapter, and two annotators who both give each comment its gold
labels, so every comment is a consensus item; the consensus gold slice (``--gold-fraction``) is held out
as the gate's gold. Where the labeler's answer differs from the consensus the job builds a correction
pair (the human labels chosen, the labeler's answer rejected; the ranking term also puts them above the
Plutchik opposites). Then ``annotator.retrain.job.start_retrain`` runs once per ``--weights`` value, each
from the same starting adapter, with a gate no candidate can pass (nothing is promoted, so every run starts
from and is compared with the same adapter). Prints the candidate's gold metrics per weight.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOEMOTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "goemotions"
SHOWN = ("emotion_macro_f1", "emotion_micro_f1", "emotion_jaccard", "emotion_ece")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="0,0.5", help="preference weights to compare, comma-separated")
    parser.add_argument("--items", type=int, default=0, help="use the first N dev comments (0: all)")
    parser.add_argument("--gold-fraction", type=float, default=0.35)
    parser.add_argument("--steps", type=int, default=200, help="training steps per retraining")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not GOEMOTIONS.is_dir():
        sys.exit(f"{GOEMOTIONS} is missing: this benchmark needs ../shared/data/goemotions")

    import os

    work = Path(tempfile.mkdtemp(prefix="empo-"))
    os.environ["ANNOTATOR_DATABASE_URL"] = f"sqlite:///{work}/empo.db"
    os.environ["ANNOTATOR_ADAPTERS_DIR"] = str(work / "adapters")
    from annotator.correct.annotations_import import import_annotations
    from annotator.datasets import read_dataset
    from annotator.db import open_database, session_scope
    from annotator.ingest.service import IngestOptions, ingest
    from annotator.jobs.service import get_job, submit_job
    from annotator.label.prelabel import start_prelabel
    from annotator.projects.service import create_project
    from annotator.retrain.job import start_retrain
    from annotator.settings import get_settings
    from annotator.taxonomy import get_taxonomy

    get_settings.cache_clear()
    rows = [r for r in read_dataset(GOEMOTIONS / "dev.tsv", "goemotions") if r.emotions is not None]
    rows = rows[: args.items] if args.items else rows
    corpus, annotations = work / "corpus.jsonl", work / "annotations.jsonl"
    with open(corpus, "w") as c, open(annotations, "w") as a:
        for n, row in enumerate(rows):
            c.write(json.dumps({"id": f"dev-{n}", "text": row.text}) + "\n")
            for who in ("ann-a", "ann-b"):
                a.write(json.dumps({"id": f"dev-{n}", "annotator": who, "emotions": sorted(row.emotions)}) + "\n")
    engine = open_database()
    with session_scope(engine) as db:
        create_project(db, "empo", get_taxonomy("goemotions"), {"gold_fraction": args.gold_fraction})
    ingest(engine, "empo", str(corpus), IngestOptions(id_field="id"))
    began = time.time()
    job = start_prelabel(engine, "empo")
    submit_job(engine, job, wait=True)
    print(f"pre-labeled {len(rows)} dev comments in {time.time() - began:.0f} s", flush=True)
    import_annotations(engine, "empo", str(annotations))
    with session_scope(engine) as db:
        start = get_job(db, job).adapter_version

    results = {}
    for weight in (float(w) for w in args.weights.split(",")):
        began = time.time()
        job_id = start_retrain(engine, "empo", from_version=start, overrides={
            "preference_weight": weight, "sft_steps": args.steps, "margin": 10.0, "max_gold": 100_000})
        with session_scope(engine) as db:
            result = get_job(db, job_id).result or {}
        results[weight] = {"candidate": result.get("candidate_metrics", {}), "start": result.get("active_metrics", {}),
                           "n_train": result.get("n_train"), "n_pairs": result.get("n_pairs"),
                           "n_gold": result.get("n_gold"), "seconds": round(time.time() - began)}
        print(f"weight {weight}: {results[weight]['n_train']} consensus items, {results[weight]['n_pairs']} "
              f"correction pairs, {results[weight]['n_gold']} gold, {results[weight]['seconds']} s", flush=True)

    first = next(iter(results.values()))
    print(f"\n{'':>22}" + "".join(f"{m:>18}" for m in SHOWN))
    print(f"{'start adapter ' + str(start)[:8]:>22}" + "".join(f"{first['start'].get(m, float('nan')):>18.4f}"
                                                            for m in SHOWN))
    for weight, r in results.items():
        print(f"{'retrained, weight ' + str(weight):>22}" + "".join(f"{r['candidate'].get(m, float('nan')):>18.4f}"
                                                                   for m in SHOWN))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"start_adapter": start, "items": len(rows), "steps": args.steps,
                                        "gold_fraction": args.gold_fraction,
                                        "runs": {str(w): r for w, r in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
