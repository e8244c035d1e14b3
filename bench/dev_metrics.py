"""Dev-split metrics of an adapter (or the zero-shot base) on every training dataset, as in docs/training-run-2026-11-22.md.

    OMP_NUM_THREADS=1 .venv/bin/python bench/dev_metrics.py --adapter adapters/default/<version> \
        --limit 40 --out dev_adapter.json
    OMP_NUM_THREADS=1 .venv/bin/python bench/dev_metrics.py --zero-shot --limit 40 --out dev_base.json

The same seeded sample of each dev split is used for both, so the numbers compare.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from annotator.retrain.evaluation import gold_examples, rounded, score_examples
from annotator.retrain.training import DataSpec
from annotator.taxonomy import get_taxonomy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEV_SETS = (
    ("goemotions", "goemotions"),
    ("semeval2018_task1_en", "semeval-ec"),
    ("semeval2018_task1_en", "semeval-ei-reg"),
    ("gne", "gne"),
    ("emotion_stimulus", "emotion-stimulus"),
    ("reccon", "reccon"),
)


def main() -> None:
    """Evaluate on every dev set and write one JSON object {format: metrics}."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--zero-shot", action="store_true")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if (args.adapter is None) != args.zero_shot:
        parser.error("pass exactly one of --adapter and --zero-shot")
    taxonomy = get_taxonomy("goemotions")
    results = {}
    for folder, fmt in DEV_SETS:
        examples = gold_examples(DataSpec(args.data / folder, fmt, args.limit), taxonomy, "dev", seed=0)
        results[fmt] = rounded(score_examples(args.adapter, examples, taxonomy.labels, device="cpu").metrics)
        print(fmt, json.dumps(results[fmt]), flush=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
