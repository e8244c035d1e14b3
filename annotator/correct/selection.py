"""What to label next: one selector for the dashboard queue and `annotator labelstudio push --order selected`.

Human time goes where it teaches the labeler most. Each candidate item (one the labeler predicted and
that still needs a person) gets a score from three signals, each in [0, 1]:

- **uncertainty**: how close its most doubtful label is to that label's decision threshold;
- **disagreement**: how often humans have corrected the labels it leans towards (per label, from the
  items people already annotated: 1 - Jaccard between the labeler's and the people's use of that label);
- **rarity**: whether it leans towards labels people have rarely given so far (1 / sqrt(1 + count)).

Diversity then picks the batch: among the ``shortlist`` best-scored candidates, each pick is the one whose
score times its distance (cosine, on the stored prediction embeddings, see
:mod:`models.onepass.embedding`) to everything picked so far is largest, so a batch does not spend ten
people on ten copies of the same complaint. Candidates without an embedding (instruction-readout
predictions) are never penalised for closeness.

Pure functions over plain values: :mod:`annotator.correct.selection_data` reads them from the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """An item that may be sent to people: its key, the labeler's probability per label, its embedding."""

    key: int
    probabilities: Mapping[str, float]
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class Weights:
    """How much each signal counts (``diversity`` is the exponent of the distance factor; 0 turns it off)."""

    uncertainty: float = 1.0
    disagreement: float = 1.0
    rarity: float = 1.0
    diversity: float = 1.0


SHORTLIST = 5  # diversity chooses among this many times the batch size of best-scored candidates


def uncertainty(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> float:
    """1 when some label sits exactly on its threshold, 0 when every label is as sure as it can be."""
    best = 0.0
    for label, p in probabilities.items():
        t = min(max(thresholds.get(label, 0.5), 1e-6), 1 - 1e-6)
        room = t if p < t else 1.0 - t  # how far p could be from t on its side
        best = max(best, 1.0 - abs(p - t) / room)
    return best


def leaning(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> dict[str, float]:
    """Per label, how far the labeler leans towards it: p / threshold, capped at 1 (1 = proposed)."""
    return {label: min(1.0, p / max(thresholds.get(label, 0.5), 1e-6)) for label, p in probabilities.items()}


def label_error_rates(pairs: Iterable[tuple[Iterable[str], Iterable[str]]], labels: Sequence[str]) -> dict[str, float]:
    """Per label, 1 - Jaccard between where the labeler proposed it and where people gave it.

    ``pairs``: (labels the labeler proposed, labels people gave) per annotated item. A label neither side
    used has no evidence: it gets the mean rate of the others (or 0.5 with no evidence at all).
    """
    both = dict.fromkeys(labels, 0)
    either = dict.fromkeys(labels, 0)
    for proposed, given in pairs:
        proposed, given = set(proposed), set(given)
        for label in proposed | given:
            if label in either:
                either[label] += 1
                both[label] += label in proposed and label in given
    seen = {label: 1.0 - both[label] / either[label] for label in labels if either[label]}
    fallback = sum(seen.values()) / len(seen) if seen else 0.5
    return {label: seen.get(label, fallback) for label in labels}


def label_rarity(counts: Mapping[str, int], labels: Sequence[str]) -> dict[str, float]:
    """Per label, 1 / sqrt(1 + how many times people gave it): 1 for a label nobody gave yet."""
    return {label: 1.0 / math.sqrt(1.0 + max(0, int(counts.get(label, 0)))) for label in labels}


def score(candidate: Candidate, thresholds: Mapping[str, float], error_rates: Mapping[str, float],
          rarity: Mapping[str, float], weights: Weights) -> float:
    """The candidate's weighted mean of uncertainty, disagreement and rarity, in [0, 1]."""
    lean = leaning(candidate.probabilities, thresholds)
    parts = (
        (weights.uncertainty, uncertainty(candidate.probabilities, thresholds)),
        (weights.disagreement, max((lean[label] * error_rates.get(label, 0.0) for label in lean), default=0.0)),
        (weights.rarity, max((lean[label] * rarity.get(label, 0.0) for label in lean), default=0.0)),
    )
    total = sum(w for w, _ in parts)
    return sum(w * v for w, v in parts) / total if total > 0 else 0.0


def choose(candidates: Sequence[Candidate], k: int, thresholds: Mapping[str, float],
           error_rates: Mapping[str, float], rarity: Mapping[str, float], weights: Weights = Weights(),
           shortlist: int = SHORTLIST) -> list[int]:
    """The keys of the ``k`` candidates to send to people, in the order to send them."""
    if k < 1 or not candidates:
        return []
    scores = np.asarray([score(c, thresholds, error_rates, rarity, weights) for c in candidates])
    keys = np.asarray([c.key for c in candidates])
    order = np.lexsort((keys, -scores))[: max(k, shortlist * k)]
    if weights.diversity <= 0:
        return [int(keys[i]) for i in order[:k]]
    unit = _unit_embeddings([candidates[i].embedding for i in order])
    base = scores[order]
    closeness = np.zeros(len(order))  # max cosine to anything picked so far (0 = nothing close)
    picked: list[int] = []
    free = np.ones(len(order), dtype=bool)
    while len(picked) < min(k, len(order)):
        distance = np.clip(1.0 - closeness, 0.0, 1.0)
        value = np.where(free, base * distance**weights.diversity, -np.inf)
        best = int(np.argmax(value))
        picked.append(best)
        free[best] = False
        if unit is not None and unit[best].any():
            closeness = np.maximum(closeness, unit @ unit[best])
    return [int(keys[order[i]]) for i in picked]


def _unit_embeddings(embeddings: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Centred, unit-length rows (zero rows for candidates without an embedding); None when none has one.

    Centring on the shortlist's mean matters: a language model's states share a large common direction,
    so raw cosines between any two items are high.
    """
    present = [e for e in embeddings if e is not None]
    if len(present) < 2:
        return None
    width = len(present[0])
    rows = np.zeros((len(embeddings), width), dtype=np.float64)
    mask = np.zeros(len(embeddings), dtype=bool)
    for i, e in enumerate(embeddings):
        if e is not None and len(e) == width:
            rows[i], mask[i] = e, True
    rows[mask] -= rows[mask].mean(axis=0)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
