"""What to label next: one selector for the dashboard queue and `annotator labelstudio push --order selected`.

Human time goes where it teaches the labeler most. For each label of a candidate item (one the labeler
predicted and that still needs a person) the selector asks how doubtful the labeler is about it
(**uncertainty**: how close its probability is to that label's decision threshold) and how much an answer
about that label is worth: more where people have often corrected the labeler on it (**disagreement**: 1 -
Jaccard between the labeler's and the people's use of the label, over what they annotated so far) and
where people have rarely given it (**rarity**: 1 / sqrt(1 + count), relative to the rarest label). Macro-F1
weighs every label alike, so the decision boundary of a rare or disputed label is worth more than that of
``neutral``. An item scores the best of its labels: ``max over labels of uncertainty x worth``.

**Diversity**: a batch should not spend ten people on ten copies of the same text (bot messages, quotes,
"RemindMe! 3 hours"). Among the ``shortlist`` best-scored candidates, picks are taken best-first, and an
item whose embedding (:mod:`models.onepass.embedding`) is a near-duplicate of one already picked (cosine
above ``NEAR_DUPLICATE`` on centred embeddings) is pushed back. Only near-copies are penalised: rewarding
distance itself (k-center style) sends people to outliers, which teach the labeler little. Candidates
without an embedding (instruction-readout predictions) are chosen on their score alone.

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
    """How much each signal counts in a label's worth (``uncertainty`` is the base every label has), and
    ``diversity``: how hard a near-duplicate is pushed back (the exponent of its penalty; 0 turns it off)."""

    uncertainty: float = 1.0
    disagreement: float = 1.0
    rarity: float = 1.0
    diversity: float = 1.0


SHORTLIST = 5  # diversity chooses among this many times the batch size of best-scored candidates
# Cosine of centred embeddings above which two items count as near-copies. Measured on GoEmotions' 43k
# comments: an item's nearest neighbour is typically at 0.58-0.82 (10th-90th percentile); pairs above
# 0.9 are templated texts ("it's your 5th Cakeday" / "your 7th Cakeday", "RemindMe! 10 hours" / "3 hours").
NEAR_DUPLICATE = 0.9


def label_doubt(p: float, threshold: float) -> float:
    """1 when ``p`` sits exactly on the threshold, 0 when it is as far from it as it can be on its side."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    room = t if p < t else 1.0 - t
    return 1.0 - abs(p - t) / room


def uncertainty(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> float:
    """The doubt of the label nearest its threshold (see :func:`label_doubt`)."""
    return max((label_doubt(p, thresholds.get(label, 0.5)) for label, p in probabilities.items()), default=0.0)


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
    """max over labels of doubt x worth, in [0, 1]; worth = (uncertainty + disagreement x error rate + rarity
    x rarity relative to the rarest label) / the sum of the weights."""
    total = weights.uncertainty + weights.disagreement + weights.rarity
    if total <= 0:
        return 0.0
    rarest = max(rarity.values(), default=0.0) or 1.0
    best = 0.0
    for label, p in candidate.probabilities.items():
        worth = (weights.uncertainty + weights.disagreement * error_rates.get(label, 0.0)
                 + weights.rarity * rarity.get(label, 0.0) / rarest)
        best = max(best, label_doubt(p, thresholds.get(label, 0.5)) * worth)
    return best / total


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
        # 1 up to NEAR_DUPLICATE, falling to 0 for an exact copy of something picked
        kept = np.clip((1.0 - closeness) / (1.0 - NEAR_DUPLICATE), 0.0, 1.0)
        value = np.where(free, base * kept**weights.diversity, -np.inf)
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
