"""Labeler quality beside the linear peer, on the same dev examples, in one run.

The peer is what a user would reach for first: TF-IDF bag-of-words (word 1-2 grams) with one logistic
regression per label, thresholds tuned per label on a held-out 10% of the training split exactly as the
one-pass trainer tunes its own, and ridge regression per emotion for EI-reg intensity. It is trained here on
the same training split the labeler saw (scikit-learn; seconds). Adapters (and the zero-shot base) are
scored by ``annotator.retrain.evaluation.score_examples``, the code `annotator evaluate` runs.

    .venv/bin/python bench/quality.py --adapter adapters/default/<version> --adapter <previous> --zero-shot \
        --out docs/dev-metrics/quality.json

Prints one table per dev set (rows: peer, each adapter) and the adapter/peer ratio of every metric. An
adapter trained on conversations reads dialogue turns (RECCON, EmotionLines) after the turns before them,
and is scored a second time reading each turn alone.
``--limit N`` scores a seeded sample of N dev examples per set (whole dev splits by default).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from annotator.retrain.evaluation import gold_examples, rounded, score_examples
from annotator.retrain.training import DataSpec
from annotator.taxonomy import get_taxonomy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# (dataset folder, format, taxonomy): each dev set is scored in the taxonomy its labels belong to
DEV_SETS = (
    ("goemotions", "goemotions", "goemotions"),
    ("goemotions", "goemotions", "ekman"),
    ("semeval2018_task1_en", "semeval-ec", "semeval_ec"),
    ("semeval2018_task1_en", "semeval-ei-reg", "goemotions"),
    ("gne", "gne", "goemotions"),
    ("emotion_stimulus", "emotion-stimulus", "goemotions"),
    ("reccon", "reccon", "goemotions"),
    ("emotionlines_friends", "emotionlines", "ekman"),  # turns in context where the adapter reads them so
)
SHOWN = ("emotion_macro_f1", "emotion_micro_f1", "emotion_jaccard", "emotion_ece", "intensity_pearson",
         "intensity_mae", "cause_token_f1", "cause_exact", "cause_token_f1/same_turn", "cause_token_f1/earlier_turn")
LOWER_IS_BETTER = ("emotion_ece", "intensity_mae")


def linear_peer(train: Sequence[Any], dev: Sequence[Any], labels: Sequence[str], seed: int = 0) -> tuple[dict[str, float], float]:
    """Train TF-IDF + logistic regression per label (ridge per emotion for intensity) and score it on ``dev``.

    Returns the metrics (same functions as the labeler's) and the training seconds.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    from models.onepass.thresholds import tune_thresholds
    from models.prediction import Prediction
    from models.training.metrics import all_metrics

    started = time.time()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    vectorizer.fit([e.text for e in train])
    x_dev = vectorizer.transform([e.text for e in dev])
    probs = np.full((len(dev), len(labels)), 0.0)
    thresholds = {label: 0.5 for label in labels}
    emotion_train = [e for e in train if e.emotions is not None]
    if emotion_train:
        rng = np.random.default_rng(seed)
        held = rng.random(len(emotion_train)) < 0.1
        x_all = vectorizer.transform([e.text for e in emotion_train])
        gold = np.asarray([[label in e.emotions for label in labels] for e in emotion_train])
        held_probs = np.zeros((int(held.sum()), len(labels)))
        for j in range(len(labels)):
            if gold[~held, j].all() or not gold[~held, j].any():
                probs[:, j] = float(gold[~held, j].mean())
                held_probs[:, j] = probs[0, j] if len(dev) else 0.0
                continue
            model = LogisticRegression(C=4.0, max_iter=2000).fit(x_all[~held], gold[~held, j])
            held_probs[:, j] = model.predict_proba(x_all[held])[:, 1]
            probs[:, j] = model.predict_proba(x_dev)[:, 1]
        thresholds = dict(zip(labels, tune_thresholds(held_probs, gold[held])))
    intensities: list[dict[str, float]] = [{} for _ in dev]
    for emotion in sorted({k for e in train for k in (e.intensities or {})}):
        rows = [e for e in train if e.intensities and emotion in e.intensities]
        model = Ridge(alpha=1.0).fit(vectorizer.transform([e.text for e in rows]),
                                     [e.intensities[emotion] for e in rows])
        for row, value in zip(intensities, np.clip(model.predict(x_dev), 0.0, 1.0)):
            row[emotion] = float(value)
    seconds = time.time() - started
    preds = [Prediction(emotions=dict(zip(labels, map(float, p))), intensity=None, cause=None,
                        adapter_version="tfidf", intensities=i or None) for p, i in zip(probs, intensities)]
    return all_metrics(dev, preds, labels, thresholds), seconds


def main() -> None:
    """Score the peer and every adapter on every dev set; print the tables and write one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, action="append", default=[], help="repeatable")
    parser.add_argument("--zero-shot", action="store_true", help="also score the bare base (instruction readout)")
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N dev examples per set")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", default=None, help="comma-separated formats to run (default: all)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data} not found: the dev sets live in ../shared/data beside the repository")
    contenders: list[tuple[str, Path | None]] = [(p.name, p) for p in args.adapter]
    if args.zero_shot:
        contenders.append(("zero-shot base", None))
    only = set(args.only.split(",")) if args.only else None
    results: dict[str, Any] = {}
    for folder, fmt, tax_name in DEV_SETS:
        if only and fmt not in only:
            continue
        taxonomy = get_taxonomy(tax_name)
        key = f"{fmt}/{tax_name}"
        # dev carries the other turns of its conversations as context (read, never scored)
        dev = gold_examples(DataSpec(args.data / folder, fmt, args.limit), taxonomy, "dev", seed=0)
        train = gold_examples(DataSpec(args.data / folder, fmt), taxonomy, "train", seed=0, conversations=False)
        scored = [e for e in dev if e.labeled]
        rows: dict[str, dict[str, float]] = {}
        if any(e.emotions is not None or e.intensities for e in train):
            metrics, seconds = linear_peer(train, scored, taxonomy.labels)
            rows["tfidf peer"] = {**metrics, "train_s": seconds}
        for name, path in contenders:
            from models.adapters import serves

            if path is not None and not serves(path, taxonomy.labels):
                continue
            rows[name] = score_examples(path, dev, taxonomy.labels, device="cpu", batch_size=64).metrics
            if path is not None and _reads_context(path) and any(e.conversation for e in scored):
                rows[f"{name}, each turn alone"] = score_examples(path, dev, taxonomy.labels, device="cpu",
                                                                  batch_size=64, context=False).metrics
        results[key] = {"n_dev": len(scored), "n_train": len(train), "rows": {k: rounded(v) for k, v in rows.items()}}
        print_table(key, len(scored), rows)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def _reads_context(path: Path) -> bool:
    from models.adapters import read_meta

    return bool(read_meta(path).get("onepass", {}).get("dialogue", {}).get("trained"))


def print_table(key: str, n: int, rows: dict[str, dict[str, float]]) -> None:
    """One markdown table: a row per contender, a column per metric it has, and the ratio to the peer."""
    shown = [m for m in SHOWN if any(m in r for r in rows.values())]
    print(f"\n### {key} (n={n})\n")
    print("| contender | " + " | ".join(shown) + " |")
    print("|---|" + "---:|" * len(shown))
    peer = rows.get("tfidf peer", {})
    for name, metrics in rows.items():
        cells = []
        for m in shown:
            value = metrics.get(m)
            if value is None:
                cells.append("-")
                continue
            cell = f"{value:.3f}"
            if name != "tfidf peer" and peer.get(m):
                cell += f" ({value / peer[m]:.2f}x)"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
