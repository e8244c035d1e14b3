"""Held-out metrics: pure functions of gold examples and predictions."""

from __future__ import annotations

from typing import Sequence

from models.labeler import Prediction
from models.tasks.base import Example
from models.tasks.cause.parser import trim_span


def emotion_f1(gold: Sequence[Example], pred: Sequence[Prediction], labels: Sequence[str], threshold: float = 0.5) -> dict[str, float]:
    """Micro and macro F1 of thresholded label probabilities, over examples with annotated emotions."""
    pairs = [(g, p) for g, p in zip(gold, pred) if g.emotions is not None and p.emotions]
    if not pairs:
        return {}
    per_label = []
    tp_all = fp_all = fn_all = 0
    for label in labels:
        tp = sum(1 for g, p in pairs if label in g.emotions and p.emotions[label] >= threshold)
        fp = sum(1 for g, p in pairs if label not in g.emotions and p.emotions[label] >= threshold)
        fn = sum(1 for g, p in pairs if label in g.emotions and p.emotions[label] < threshold)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        if tp + fn:
            per_label.append(2 * tp / (2 * tp + fp + fn))
    micro = 2 * tp_all / (2 * tp_all + fp_all + fn_all) if tp_all + fp_all + fn_all else 0.0
    return {"emotion_micro_f1": micro, "emotion_macro_f1": sum(per_label) / len(per_label) if per_label else 0.0}


def intensity_mae(gold: Sequence[Example], pred: Sequence[Prediction]) -> dict[str, float]:
    """Mean absolute error of intensity, over examples with an annotated intensity."""
    errors = [abs(g.intensity - p.intensity) for g, p in zip(gold, pred) if g.intensity is not None and p.intensity is not None]
    return {"intensity_mae": sum(errors) / len(errors)} if errors else {}


def span_f1(gold: tuple[int, int] | None, pred: tuple[int, int] | None) -> float:
    """Character-overlap F1 of two spans; empty vs empty is 1, empty vs non-empty is 0."""
    if not gold or gold[0] == gold[1]:
        return 1.0 if pred is None else 0.0
    if pred is None:
        return 0.0
    overlap = max(0, min(gold[1], pred[1]) - max(gold[0], pred[0]))
    if overlap == 0:
        return 0.0
    precision, recall = overlap / (pred[1] - pred[0]), overlap / (gold[1] - gold[0])
    return 2 * precision * recall / (precision + recall)


def cause_f1(gold: Sequence[Example], pred: Sequence[Prediction]) -> dict[str, float]:
    """Mean character-overlap F1 and exact-match rate of cause spans, over examples with an annotated cause."""
    pairs = [(trim_span(g.text, *g.cause), p.cause[:2] if p.cause else None) for g, p in zip(gold, pred) if g.cause is not None]
    if not pairs:
        return {}
    scores = [span_f1(g, p) for g, p in pairs]
    exact = [1.0 if (p is None and g[0] == g[1]) or (p is not None and tuple(p) == tuple(g)) else 0.0 for g, p in pairs]
    return {"cause_f1": sum(scores) / len(scores), "cause_exact": sum(exact) / len(exact)}


def all_metrics(gold: Sequence[Example], pred: Sequence[Prediction], labels: Sequence[str]) -> dict[str, float]:
    """Every metric that applies to the annotated fields."""
    return {**emotion_f1(gold, pred, labels), **intensity_mae(gold, pred), **cause_f1(gold, pred)}
