"""bench/active_learning.py's own arithmetic: noisy annotators, the rounds, and labels-to-target."""

from __future__ import annotations

import numpy as np
import pytest

from bench.active_learning import LinearHead, labels_to_target, noisy_annotations, run_strategy

LABELS = ["common", "medium", "rare"]


def test_labels_to_target_interpolates_between_rounds():
    curve = [(100, 0.1), (200, 0.3), (400, 0.5)]
    assert labels_to_target(curve, 0.4) == 300
    assert labels_to_target(curve, 0.05) == 100 and labels_to_target(curve, 0.3) == 200
    assert labels_to_target(curve, 0.6) is None


def test_noisy_annotators_miss_and_add_at_their_rates():
    gold = np.zeros((20000, 10), dtype=bool)
    gold[:, 0] = True
    noisy = noisy_annotations(gold, miss=0.2, add=0.1, seed=0)
    assert noisy.any(axis=1).all()  # an annotator always answers something
    wrong = noisy[:, 1:].sum() / len(gold)
    assert wrong == pytest.approx(0.1 * 9 / 10, abs=0.01)  # one wrong label for 10% (the added one may be right)
    missed = (~noisy[:, 0]).mean()
    assert 0.0 < missed < 0.2  # some misses are refilled: an item left with no label keeps its gold


def _synthetic(n: int = 3000, seed: int = 0):
    """Features where each label is a direction; 'rare' is about 3% of items."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16))
    gold = np.stack([x[:, 0] > 0.25, x[:, 1] > 1.3, x[:, 2] > 1.9], axis=1)
    return x.astype(np.float32), gold


@pytest.mark.parametrize("strategy", ["random", "uncertainty", "selector"])
def test_each_round_adds_new_items_and_the_labeler_learns(strategy):
    x, gold = _synthetic()
    dev_x, dev_gold = _synthetic(1000, seed=1)
    embeddings = x[:, :8] @ np.random.default_rng(2).normal(size=(8, 8))
    make_head = lambda: LinearHead(x.mean(0), x.std(0), steps=150)  # noqa: E731
    curve = run_strategy(strategy, x, gold, embeddings, dev_x, dev_gold, LABELS, [60, 200, 600], make_head, seed=0)
    assert [n for n, _ in curve] == [60, 200, 600]
    assert curve[-1][1] > curve[0][1] + 0.1


def test_the_selector_finds_the_rare_label_sooner_than_random():
    from bench import active_learning

    x, gold = _synthetic()
    chosen: dict[str, np.ndarray] = {}
    original = active_learning.pick

    def spy(strategy, *args, **kwargs):
        picked = original(strategy, *args, **kwargs)
        chosen[strategy] = np.concatenate([chosen.get(strategy, np.empty(0, dtype=np.int64)), picked])
        return picked

    active_learning.pick = spy
    try:
        for strategy in ("random", "selector"):
            run_strategy(strategy, x, gold, x[:, :8], x[:300], gold[:300], LABELS, [200, 500],
                         lambda: LinearHead(x.mean(0), x.std(0), steps=150), seed=0)
    finally:
        active_learning.pick = original
    assert len(set(chosen["selector"].tolist())) == 300  # nothing chosen twice
    rare = {name: int(gold[picked, 2].sum()) for name, picked in chosen.items()}
    assert rare["selector"] >= 2 * max(rare["random"], 1), rare
