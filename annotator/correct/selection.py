"""What to label next: one selector for the dashboard queue and `annotator labelstudio push --order selected`.

Human time goes where it teaches the labeler most, and macro-F1 weighs every label alike: the decision
boundary of a rare label matters as much as that of ``neutral``. So a batch is shared out among the labels
and each label spends its share on the items the labeler is most doubtful about for that label:

- **uncertainty**, per (item, label): how close the label's probability is to its decision threshold. For a
  label the labeler has barely learned (every probability far below the threshold) these are the items most
  likely to carry it, which is how its first positives are found.
- **worth**, per label: each label's share of the batch grows with how often people have corrected the
  labeler on it (**disagreement**: 1 - Jaccard between the labeler's and the people's use of the label,
  over what they annotated so far) and how rarely people have given it (**rarity**: 1 / sqrt(1 + count),
  relative to the rarest label). Picks are dealt one at a time to the label with the highest
  worth x doubt of its best remaining item / (1 + items it already has): the first pick is the single most
  valuable doubt, and the division (the D'Hondt rule) shares the rest out so that no label takes them all.
- **diversity**: a batch should not spend ten people on ten copies of one text (bot messages, quotes,
  "RemindMe! 3 hours"). An item whose embedding (:mod:`models.onepass.embedding`) is a near-copy of one
  already picked (cosine above ``NEAR_DUPLICATE`` on centred embeddings) is passed over. Only near-copies
  are: rewarding distance itself (k-center style) sends people to outliers, which teach the labeler
  little (measured: worse than random on GoEmotions). Candidates without an embedding
  (instruction-readout predictions) are never passed over.

Pure functions over plain values: :mod:`annotator.correct.selection_data` reads them from the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """An item that may be sent to people: its key, the labeler's probability per label, its embedding."""

    key: int
    probabilities: Mapping[str, float]
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class Weights:
    """How much each signal counts in a label's worth (``uncertainty``: the part every label has alike), and
    whether near-copies are passed over (``diversity`` > 0)."""

    uncertainty: float = 1.0
    disagreement: float = 1.0
    rarity: float = 1.0
    diversity: float = 1.0


# Cosine of centred embeddings above which two items count as near-copies. Measured on GoEmotions' 43k
# comments: an item's nearest neighbour is typically at 0.58-0.82 (10th-90th percentile); pairs above
# 0.9 are templated texts ("it's your 5th Cakeday" / "your 7th Cakeday", "RemindMe! 10 hours" / "3 hours").
NEAR_DUPLICATE = 0.9


def label_doubt(p: Any, threshold: Any) -> Any:
    """1 when ``p`` sits exactly on the threshold, 0 when it is as far from it as it can be on its side
    (numbers, or numpy arrays element by element)."""
    t = np.clip(threshold, 1e-6, 1 - 1e-6)
    return 1.0 - np.abs(p - t) / np.where(p < t, t, 1.0 - t)


def uncertainty(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> float:
    """The doubt of the label nearest its threshold (see :func:`label_doubt`)."""
    if not probabilities:
        return 0.0
    p = np.asarray(list(probabilities.values()), dtype=float)
    return float(np.max(label_doubt(p, np.asarray([thresholds.get(label, 0.5) for label in probabilities]))))


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


def label_worth(labels: Sequence[str], error_rates: Mapping[str, float], rarity: Mapping[str, float],
                weights: Weights) -> dict[str, float]:
    """Per label, (uncertainty + disagreement x error rate + rarity x rarity relative to the rarest label) /
    the sum of the weights: in (0, 1] when the uncertainty weight is positive."""
    total = weights.uncertainty + weights.disagreement + weights.rarity
    rarest = max((rarity.get(label, 0.0) for label in labels), default=0.0) or 1.0
    return {label: (weights.uncertainty + weights.disagreement * error_rates.get(label, 0.0)
                    + weights.rarity * rarity.get(label, 0.0) / rarest) / (total or 1.0) for label in labels}


def choose(candidates: Sequence[Candidate], k: int, thresholds: Mapping[str, float],
           error_rates: Mapping[str, float], rarity: Mapping[str, float], weights: Weights = Weights()) -> list[int]:
    """The keys of the ``k`` candidates to send to people, in the order to send them."""
    if k < 1 or not candidates:
        return []
    labels = sorted({label for c in candidates for label in c.probabilities})
    probs = np.asarray([[c.probabilities.get(label, 0.0) for label in labels] for c in candidates], dtype=float)
    probs = np.clip(np.nan_to_num(probs, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    doubt = label_doubt(probs, np.asarray([thresholds.get(label, 0.5) for label in labels], dtype=float))
    keys = np.asarray([c.key for c in candidates])
    # per label, candidates from most to least doubtful (ties: the smaller key first)
    ranked = [np.lexsort((keys, -doubt[:, j])) for j in range(len(labels))]
    worth = label_worth(labels, error_rates, rarity, weights)
    value = np.asarray([max(worth[label], 1e-9) for label in labels])
    unit = _unit_embeddings([c.embedding for c in candidates]) if weights.diversity > 0 else None
    taken = np.zeros(len(candidates), dtype=bool)
    shares = np.zeros(len(labels))
    position = [0] * len(labels)
    open_labels = np.ones(len(labels), dtype=bool)
    picked: list[int] = []
    passed_over: list[int] = []
    picked_units = np.zeros((min(k, len(candidates)), unit.shape[1] if unit is not None else 0))
    while len(picked) < min(k, len(candidates)) and open_labels.any():
        for j in np.flatnonzero(open_labels):  # skip what other labels took
            while position[j] < len(ranked[j]) and taken[ranked[j][position[j]]]:
                position[j] += 1
            open_labels[j] = position[j] < len(ranked[j])
        if not open_labels.any():
            break
        best = np.asarray([doubt[ranked[j][position[j]], j] if open_labels[j] else 0.0 for j in range(len(labels))])
        j = int(np.argmax(np.where(open_labels, value * best / (1.0 + shares), -np.inf)))
        i = int(ranked[j][position[j]])
        position[j] += 1
        if unit is not None and picked and float(np.max(picked_units[: len(picked)] @ unit[i])) > NEAR_DUPLICATE:
            passed_over.append(i)  # a near-copy of something picked: only if nothing else is left
            continue
        taken[i] = True
        if unit is not None:
            picked_units[len(picked)] = unit[i]
        picked.append(int(keys[i]))
        shares[j] += 1
    leftover = [int(keys[i]) for i in dict.fromkeys(passed_over) if not taken[i]]
    return picked + leftover[: max(0, k - len(picked))]


def _unit_embeddings(embeddings: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Centred, unit-length rows (zero rows for candidates without a usable embedding: none, another width
    than most, or not finite); None when fewer than two have one.

    Centring matters: a language model's states share a large common direction, so raw cosines between any
    two items are high. The centre is the candidates' mean, so a family of near-copies that makes up most
    of the candidates is only partly caught (its members' shared direction is mostly the mean).
    """
    widths = [len(e) for e in embeddings if e is not None]
    if len(widths) < 2:
        return None
    width = max(set(widths), key=widths.count)
    rows = np.zeros((len(embeddings), width), dtype=np.float64)
    mask = np.zeros(len(embeddings), dtype=bool)
    for i, e in enumerate(embeddings):
        if e is not None and len(e) == width and np.isfinite(e).all():
            rows[i], mask[i] = e, True
    if mask.sum() < 2:
        return None
    rows[mask] -= rows[mask].mean(axis=0)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 1e-9)
