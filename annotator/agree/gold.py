"""Gold (honeypot) items: items whose answer is known, mixed into review queues like any other, and every
annotator's answers to them scored against it.

An annotator's gold score: over the gold items they annotated, the mean emotion-set F1 (two empty sets
agree), the mean absolute intensity error (where both give one) and the mean cause token F1 (where either
marks a cause). ``annotator gold import`` stores the answers; the Agreement page and ``annotator gold
scores`` show the scores beside each annotator's reliability.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.spans import as_span, span_f1, span_mask, token_offsets
from annotator.states import AnnotationStatus

DEFAULT_GOLD_RATE = 0.1  # share of the items a review queue shows that are gold, unless the project says


@dataclass(frozen=True)
class GoldScore:
    """One annotator's answers to gold items, scored."""

    annotator: str
    n_items: int
    emotion_f1: float
    intensity_mae: float | None
    cause_f1: float | None


def gold_rate(settings: dict | None) -> float:
    """The share of gold items in review queues: the project's ``gold_rate`` setting, else 10%."""
    return float((settings or {}).get("gold_rate", DEFAULT_GOLD_RATE))


def set_f1(given: set[str], gold: set[str]) -> float:
    """F1 of an emotion set against the gold set (1 when both are empty)."""
    if not given and not gold:
        return 1.0
    return 2 * len(given & gold) / (len(given) + len(gold))


def gold_scores(db: Session, project_name: str) -> list[GoldScore]:
    """Every annotator who answered a gold item of the project, scored (see the module docstring), by name."""
    project = repo.get_project_or_raise(db, project_name)
    answers = repo.gold_answers(db, project.id)
    if not answers:
        return []
    by_annotator: dict[str, list[tuple[float, float | None, float | None]]] = {}
    for item_id, anns in repo.annotations_for_items(db, list(answers)).items():
        gold, text = answers[item_id]
        offsets = token_offsets(text)
        truth = span_mask(offsets, as_span(gold.cause_start, gold.cause_end))
        for a in anns:
            if a.status != AnnotationStatus.ACCEPTED:
                continue
            error = abs(a.intensity - gold.intensity) if a.intensity is not None and gold.intensity is not None else None
            mine = span_mask(offsets, as_span(a.cause_start, a.cause_end) if a.cause_turn is None else None)
            by_annotator.setdefault(a.annotator, []).append(
                (set_f1(set(a.emotions), set(gold.emotions)), error, span_f1(mine, truth)))
    return [GoldScore(name, len(rows), fmean(r[0] for r in rows),
                      _mean(r[1] for r in rows), _mean(r[2] for r in rows))
            for name, rows in sorted(by_annotator.items())]


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None
