"""Human labels saved by choosing what to label next: learning curves of selection strategies.

GoEmotions train is the unlabeled pool and its gold labels play the annotators, with noise (each gold label
is missed with probability ``--miss`` and a wrong label added with probability ``--add``: the disagreement
of single GoEmotions raters with the released labels is of this order). Each round, every strategy sends
``k`` more items to its "annotators"; the labeler is retrained on what they answered and scored on
GoEmotions dev (macro-F1 over the 28 labels, every dev example).

The labeler retrained each round is the product's cheapest faithful retraining: its emotion head (an
independent sigmoid per label, BCE with a per-label positive weight, as the one-pass trainer trains it) on
the base model's pooled hidden states, computed once and cached. The base is the bare SmolLM2 (no adapter):
the shipped adapter was trained on this very pool, so its states would already know the answers.

Strategies: ``random``; ``uncertainty`` (classic uncertainty sampling: the items whose most doubtful label
is nearest its threshold); ``selector``, the product's own choice (:func:`annotator.correct.selection.choose`:
the batch shared among labels by their worth, labeler-human disagreement seen so far and rare labels, each
label's share spent on its most doubtful items, near-copies passed over), with the product's weights. Its design
was compared on a 5,000-item holdout of the pool, never on dev.

    .venv/bin/python bench/active_learning.py --png docs/active-learning.png

Prints the curves as a table, writes the PNG, and as its last line one JSON object:
``{"target_macro_f1": T, "labels_to_target": {"random": N0, "<strategy>": N1, ...}}`` where T is 90% of the
macro-F1 reached with the whole pool and N is the labels a strategy needed to reach T (linear
interpolation between rounds; null when it never did).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.correct.selection import (  # noqa: E402
    Candidate,
    Weights,
    choose,
    label_error_rates,
    label_rarity,
    uncertainty,
)
from annotator.retrain.evaluation import gold_examples  # noqa: E402
from annotator.retrain.training import DataSpec  # noqa: E402
from annotator.taxonomy import get_taxonomy  # noqa: E402
from models.base import DEFAULT_CACHE_DIR, load_model, load_tokenizer, resolve_base  # noqa: E402
from models.onepass.embedding import project  # noqa: E402
from models.onepass.heads import summary  # noqa: E402
from models.onepass.inputs import ItemEncoder, make_batch  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BUDGETS = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000)


def pooled_states(texts: Sequence[str], batch_size: int = 64, cache: Path = DEFAULT_CACHE_DIR / "bench") -> np.ndarray:
    """(N, 2D) pooled final hidden states of the bare base (mean of text tokens, last token), cached on disk."""
    base = resolve_base(None, DEFAULT_CACHE_DIR)
    digest = hashlib.sha256(base.sha256.encode())
    for text in texts:
        digest.update(text.encode() + b"\0")
    path = cache / f"pooled-{digest.hexdigest()[:20]}.npy"
    if path.exists():
        return np.load(path)
    tokenizer = load_tokenizer(base.path)
    encoder = ItemEncoder.for_tokenizer(tokenizer)
    model = load_model(base.path)
    items = encoder.encode(list(texts))
    order = sorted(range(len(items)), key=lambda i: len(items[i].ids))
    out = np.zeros((len(items), 2 * int(model.config.hidden_size)), dtype=np.float32)
    started = time.time()
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            chunk = order[lo : lo + batch_size]
            batch = make_batch([items[i] for i in chunk], encoder.pad_id)
            hidden = model.model(input_ids=batch.ids, attention_mask=batch.valid.long()).last_hidden_state
            out[chunk] = summary(hidden, batch.text, batch.last).numpy()
            if (lo // batch_size) % 50 == 0:
                print(f"  states {lo + len(chunk):,}/{len(items):,} ({time.time() - started:.0f} s)", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def noisy_annotations(gold: np.ndarray, miss: float, add: float, seed: int) -> np.ndarray:
    """What simulated annotators answer: each gold label kept with 1 - ``miss``; with ``add``, one wrong label
    more (an item left with no label keeps its most common gold one: annotators always answer)."""
    rng = np.random.default_rng(seed)
    noisy = gold & (rng.random(gold.shape) >= miss)
    extra = rng.random(len(gold)) < add
    wrong = rng.integers(0, gold.shape[1], size=len(gold))
    noisy[np.arange(len(gold))[extra], wrong[extra]] = True
    empty = ~noisy.any(axis=1) & gold.any(axis=1)
    noisy[empty] = gold[empty]
    return noisy


class LinearHead:
    """The emotion head retrained each round: one sigmoid per label on standardised pooled states (BCE, Adam),
    with per-label thresholds tuned on a held-out tenth of the labeled items as the one-pass trainer does."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, steps: int = 500, seed: int = 0) -> None:
        self.mean, self.std, self.steps, self.seed = mean, std, steps, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LinearHead":
        from models.onepass.thresholds import tune_thresholds

        rng = np.random.default_rng(self.seed)
        held = rng.random(len(x)) < 0.1
        self.weights = self._train(x[~held], y[~held])
        self.thresholds = np.asarray(tune_thresholds(self.probabilities(x[held]), y[held]))
        return self

    def _train(self, x: np.ndarray, y: np.ndarray) -> torch.nn.Linear:
        torch.manual_seed(self.seed)
        layer = torch.nn.Linear(x.shape[1], y.shape[1])
        xs = torch.from_numpy(((x - self.mean) / self.std).astype(np.float32))
        ys = torch.from_numpy(y.astype(np.float32))
        opt = torch.optim.Adam(layer.parameters(), lr=1e-2, weight_decay=1e-4)
        for _ in range(self.steps):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(layer(xs), ys).backward()
            opt.step()
        return layer

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, L) probabilities."""
        with torch.no_grad():
            xs = torch.from_numpy(((x - self.mean) / self.std).astype(np.float32))
            return self.weights(xs).sigmoid().numpy()

    def macro_f1(self, x: np.ndarray, gold: np.ndarray) -> float:
        """Macro-F1 over the labels against boolean ``gold`` (N, L), at the tuned thresholds."""
        from models.onepass.thresholds import f1_at

        probs = self.probabilities(x)
        return float(np.mean([f1_at(probs[:, j], gold[:, j], self.thresholds[j]) for j in range(gold.shape[1])]))


def pick(strategy: str, head: LinearHead, pool_x: np.ndarray, embeddings: np.ndarray, unlabeled: np.ndarray,
         k: int, labels: Sequence[str], history: list[tuple[set[str], set[str]]], given: np.ndarray,
         rng: np.random.Generator) -> np.ndarray:
    """Indexes (into the pool) of the ``k`` unlabeled items ``strategy`` sends to people next."""
    if strategy == "random":
        return rng.choice(unlabeled, size=min(k, len(unlabeled)), replace=False)
    probs = head.probabilities(pool_x[unlabeled])
    thresholds = dict(zip(labels, map(float, head.thresholds)))
    candidates = [Candidate(int(i), dict(zip(labels, map(float, p))), embeddings[i])
                  for i, p in zip(unlabeled, probs)]
    if strategy == "uncertainty":  # classic uncertainty sampling: the items whose most doubtful label is nearest
        doubt = np.asarray([uncertainty(c.probabilities, thresholds) for c in candidates])
        return unlabeled[np.lexsort((unlabeled, -doubt))[:k]]
    counts = dict(zip(labels, map(int, given.sum(axis=0))))
    return np.asarray(choose(candidates, k, thresholds, label_error_rates(history, labels),
                             label_rarity(counts, labels), Weights()), dtype=np.int64)


def run_strategy(strategy: str, pool_x: np.ndarray, answers: np.ndarray, embeddings: np.ndarray,
                 dev_x: np.ndarray, dev_gold: np.ndarray, labels: Sequence[str], budgets: Sequence[int],
                 make_head, seed: int) -> list[tuple[int, float]]:
    """The (labels used, dev macro-F1) curve of one strategy; every strategy starts from the same random seed set."""
    rng = np.random.default_rng(seed)
    labeled = np.random.default_rng(seed).choice(len(pool_x), size=budgets[0], replace=False)
    history = [(set(), {labels[j] for j in np.flatnonzero(answers[i])}) for i in labeled]
    curve = []
    for n, budget in enumerate(budgets):
        head = make_head().fit(pool_x[labeled], answers[labeled])
        curve.append((len(labeled), head.macro_f1(dev_x, dev_gold)))
        print(f"  {strategy:<12} {len(labeled):>6,} labels  macro-F1 {curve[-1][1]:.4f}", file=sys.stderr)
        if n + 1 == len(budgets):
            break
        mask = np.ones(len(pool_x), dtype=bool)
        mask[labeled] = False
        unlabeled = np.flatnonzero(mask)
        chosen = pick(strategy, head, pool_x, embeddings, unlabeled, budgets[n + 1] - len(labeled), labels,
                      history, answers[labeled], rng)
        proposed = head.probabilities(pool_x[chosen]) >= head.thresholds
        history += [({labels[j] for j in np.flatnonzero(p)}, {labels[j] for j in np.flatnonzero(answers[i])})
                    for i, p in zip(chosen, proposed)]
        labeled = np.concatenate([labeled, chosen])
    return curve


def labels_to_target(curve: Sequence[tuple[int, float]], target: float) -> int | None:
    """Labels at which the curve first reaches ``target`` (linear between rounds), None if it never does."""
    previous = None
    for n, f1 in curve:
        if f1 >= target:
            if previous is None or previous[1] >= f1:
                return n
            n0, f0 = previous
            return int(round(n0 + (target - f0) / (f1 - f0) * (n - n0)))
        previous = (n, f1)
    return None


def draw(curves: dict[str, list[tuple[int, float]]], target: float, full: float, path: Path) -> None:
    """The learning curves as a PNG (log-scaled labels axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, curve in curves.items():
        ax.plot([n for n, _ in curve], [f for _, f in curve], marker="o", markersize=3, label=name)
    ax.axhline(full, color="grey", linewidth=0.8, linestyle=":", label=f"whole pool ({full:.3f})")
    ax.axhline(target, color="black", linewidth=0.8, linestyle="--", label=f"target, 90% ({target:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel("human labels (items annotated)")
    ax.set_ylabel("GoEmotions dev macro-F1")
    ax.set_title("What to label next: learning curves on the GoEmotions pool")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    """Run every strategy, print the table, draw the PNG, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--strategies", default="random,uncertainty,selector")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="labels after each round")
    parser.add_argument("--miss", type=float, default=0.15, help="chance an annotator misses a gold label")
    parser.add_argument("--add", type=float, default=0.10, help="chance an annotator adds a wrong label")
    parser.add_argument("--seeds", default="0,1", help="each seed draws its own annotator noise, seed set and "
                        "head initialisation; the curves are averaged over them")
    parser.add_argument("--png", type=Path, default=Path("active-learning.png"))
    args = parser.parse_args()
    if not (args.data / "goemotions").is_dir():
        parser.error(f"{args.data / 'goemotions'} not found: the pool is GoEmotions train in ../shared/data")
    taxonomy = get_taxonomy("goemotions")
    labels = list(taxonomy.labels)
    spec = DataSpec(args.data / "goemotions", "goemotions")
    pool = gold_examples(spec, taxonomy, "train", seed=0)
    dev = gold_examples(spec, taxonomy, "dev", seed=0)
    try:
        budgets = [int(b) for b in args.budgets.split(",")]
        seeds = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        parser.error("--budgets and --seeds are comma-separated whole numbers")
    if budgets != sorted(set(budgets)) or budgets[0] < 10 or budgets[-1] > len(pool):
        parser.error(f"--budgets must rise, from at least 10 to at most the pool's {len(pool):,} items")
    started = time.time()
    pool_x, dev_x = pooled_states([e.text for e in pool]), pooled_states([e.text for e in dev])
    states_s = time.time() - started
    embeddings = project(torch.from_numpy(pool_x)).numpy()
    gold = np.asarray([[label in (e.emotions or ()) for label in labels] for e in pool])
    dev_gold = np.asarray([[label in (e.emotions or ()) for label in labels] for e in dev])
    mean, std = pool_x.mean(axis=0), pool_x.std(axis=0) + 1e-6
    strategies = args.strategies.split(",")
    for strategy in strategies:
        if strategy not in ("random", "uncertainty", "selector"):
            parser.error(f"unknown strategy {strategy!r}; use random, uncertainty, selector")
    fulls, runs = [], {name: [] for name in strategies}
    for seed in seeds:
        answers = noisy_annotations(gold, args.miss, args.add, seed)

        def make_head(seed: int = seed) -> LinearHead:
            return LinearHead(mean, std, seed=seed)

        fulls.append(make_head().fit(pool_x, answers).macro_f1(dev_x, dev_gold))
        for strategy in strategies:
            runs[strategy].append(run_strategy(strategy, pool_x, answers, embeddings, dev_x, dev_gold, labels,
                                               budgets, make_head, seed))
    full = float(np.mean(fulls))
    target = 0.9 * full
    curves = {name: [(curve[0][row][0], float(np.mean([c[row][1] for c in curve]))) for row in range(len(budgets))]
              for name, curve in runs.items()}
    print(f"pool: GoEmotions train, {len(pool):,} items; dev: {len(dev):,} items; annotator noise: miss "
          f"{args.miss}, add {args.add}; seeds {args.seeds} (curves are their mean); pooled states "
          f"{states_s:.0f} s (cached after the first run)")
    print(f"whole pool: macro-F1 {full:.4f} (per seed: {', '.join(f'{f:.4f}' for f in fulls)}); "
          f"target (90%): {target:.4f}")
    names = list(curves)
    print(f"{'labels':>7} " + " ".join(f"{name:>12}" for name in names))
    for row in range(len(budgets)):
        print(f"{curves[names[0]][row][0]:>7,} " + " ".join(f"{curves[name][row][1]:>12.4f}" for name in names))
    needed = {name: labels_to_target(curve, target) for name, curve in curves.items()}
    if "random" in needed and needed["random"]:
        for name, n in needed.items():
            share = f"{n / needed['random']:.0%} of random" if n is not None else "never reached"
            print(f"  {name:<12} reaches the target at {n if n is not None else '-'} labels ({share})")
    draw(curves, target, full, args.png)
    print(f"curves drawn to {args.png}")
    print(json.dumps({"target_macro_f1": round(target, 4), "labels_to_target": needed}))


if __name__ == "__main__":
    main()
