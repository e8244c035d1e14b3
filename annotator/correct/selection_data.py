"""The selector's inputs read from the database, and the selector's order applied to stored predictions.

:mod:`annotator.correct.selection` decides; this module gathers what it decides on: the labeler's
probabilities and embeddings of the candidate items, the thresholds in force, and what people did so far
(the labels they gave, and where they changed the labeler's proposal).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from annotator import repo
from annotator.correct.selection import Candidate, choose, label_error_rates, label_rarity
from annotator.label.predictions import unpack_embedding
from annotator.label.thresholds import Thresholds, decided, decision_thresholds, threshold_of
from annotator.tables import Project

CANDIDATES_PER_ITEM = 20  # candidates read per item asked for: half least confident, half at random
MAX_CANDIDATES = 5000
RECENT_ANNOTATIONS = 5000  # the people's answers the signals are measured on: the most recent ones


def signals(db: Session, project: Project,
            thresholds: Callable[[str | None], Thresholds]) -> tuple[dict[str, float], dict[str, float]]:
    """(per-label error rate of the labeler against people, per-label rarity among the people's labels);
    ``thresholds``: the decision thresholds per adapter version (:func:`decision_thresholds`)."""
    labels = list(project.labels)
    pairs, counts = [], Counter[str]()
    for emotions, _lead_time, version, scores in repo.annotations_with_prelabels(db, project.id,
                                                                               newest=RECENT_ANNOTATIONS):
        counts.update(emotions)
        if scores is not None:
            pairs.append((decided(clean_probabilities(scores, labels), thresholds(version)), emotions))
    return label_error_rates(pairs, labels), label_rarity(counts, labels)


def clean_probabilities(raw: Any, labels: Sequence[str]) -> dict[str, float]:
    """A stored prediction's probabilities for the project's labels: numbers in [0, 1]; anything else (a
    label it lacks, a null, text, NaN) counts as 0, and labels outside the project are left out."""
    raw = raw if isinstance(raw, dict) else {}
    out = {}
    for label in labels:
        try:
            value = float(raw.get(label, 0.0))
        except (TypeError, ValueError):
            value = 0.0
        out[label] = min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0
    return out


def selected_order(db: Session, project: Project, predictions: Sequence[tuple[int, Any]], k: int,
                   version: str | None) -> list[int]:
    """The keys of ``predictions`` ((key, stored prediction) pairs, the prediction None where there is none)
    in the order to send them to people: the selector's ``k`` first, then the rest in the order given.

    Decisions are measured against the thresholds of ``version``, the adapter whose predictions people see.
    """
    labels = list(project.labels)
    version_thresholds = decision_thresholds(db, project)
    error_rates, rarity = signals(db, project, version_thresholds)
    candidates = [Candidate(key, clean_probabilities(pred.emotions, labels), unpack_embedding(pred.embedding))
                  for key, pred in predictions if pred is not None]
    in_force = version_thresholds(version)
    thresholds = {label: threshold_of(in_force, label) for label in labels}
    first = choose(candidates, k, thresholds, error_rates, rarity)
    chosen = set(first)
    return first + [key for key, _ in predictions if key not in chosen]


def select_unannotated(db: Session, project: Project, version: str, annotator: str, limit: int,
                       overlap: int | None) -> list[tuple[Any, Any]]:
    """(item, prediction) of the ``limit`` items the selector sends ``annotator`` next, among items of
    ``version`` they have not annotated that still need someone (see :func:`repo.least_confident_unannotated`).

    Items they hold open (a live claim) come first: what others save changes the selector's signals, and
    the item on someone's screen must not change under them.
    """
    held = list(repo.claimed_unannotated(db, project.id, version, annotator))
    n = min(MAX_CANDIDATES, max(limit, 10) * CANDIDATES_PER_ITEM // 2)
    rows: dict[int, tuple[Any, Any]] = {}
    for randomly in (False, True):
        for item, pred in repo.least_confident_unannotated(db, project.id, version, annotator, n, overlap,
                                                           randomly=randomly):
            rows.setdefault(item.id, (item, pred))
    for item, _ in held:
        rows.pop(item.id, None)
    order = selected_order(db, project, [(item_id, pred) for item_id, (_, pred) in rows.items()], limit, version)
    return ([(item, pred) for item, pred in held] + [rows[item_id] for item_id in order])[:limit]
