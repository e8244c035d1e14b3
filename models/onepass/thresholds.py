"""Per-label decision thresholds, tuned on held-out training items (pure numpy).

A probability is calibrated on its own, but the best decision point for F1 depends on how rare a label is:
rare labels are best decided below 0.5. Each label gets the threshold that maximises its F1 on held-out
items; a label with too few held-out positives to tune on gets the threshold that is best for the
taxonomy's labels together (micro-F1).
"""

from __future__ import annotations

import numpy as np

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
MIN_POSITIVES = 10


def f1_at(probs: np.ndarray, gold: np.ndarray, threshold: float) -> float:
    """F1 of ``probs >= threshold`` against boolean ``gold`` (0 when there is nothing to find or predict)."""
    pred = probs >= threshold
    tp = float(np.sum(pred & gold))
    denominator = float(np.sum(pred)) + float(np.sum(gold))
    return 2 * tp / denominator if denominator else 0.0


def best_threshold(probs: np.ndarray, gold: np.ndarray) -> float:
    """The grid threshold with the highest F1 (the one nearest 0.5 among equals)."""
    scores = np.asarray([f1_at(probs, gold, t) for t in GRID])
    best = scores.max()
    candidates = GRID[np.isclose(scores, best)]
    return float(candidates[np.argmin(np.abs(candidates - 0.5))])


def tune_thresholds(probs: np.ndarray, gold: np.ndarray, min_positives: int = MIN_POSITIVES) -> list[float]:
    """One threshold per column of ``probs`` (N, L) against boolean ``gold`` (N, L)."""
    if probs.shape != gold.shape or probs.ndim != 2:
        raise ValueError("probs and gold must be (items, labels) arrays of the same shape")
    if len(probs) == 0:
        return [0.5] * probs.shape[1]
    shared = best_threshold(probs.ravel(), gold.ravel())
    return [best_threshold(probs[:, j], gold[:, j]) if gold[:, j].sum() >= min_positives else shared
            for j in range(probs.shape[1])]
