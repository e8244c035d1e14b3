"""Held-out metrics: pure functions of gold examples and predictions."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from models.prediction import Prediction
from models.tasks.base import Example
from models.tasks.cause.parser import trim_span

Thresholds = float | Mapping[str, float]


def _threshold(thresholds: Thresholds, label: str) -> float:
    return float(thresholds) if isinstance(thresholds, (int, float)) else float(thresholds.get(label, 0.5))


def emotion_f1(gold: Sequence[Example], pred: Sequence[Prediction], labels: Sequence[str],
               threshold: Thresholds = 0.5) -> dict[str, float]:
    """Micro and macro F1 of thresholded label probabilities, over examples with annotated emotions.

    ``threshold``: one for every label, or one per label (a label missing from the mapping uses 0.5).
    """
    pairs = [(g, p) for g, p in zip(gold, pred) if g.emotions is not None and p.emotions]
    if not pairs:
        return {}
    per_label = []
    tp_all = fp_all = fn_all = 0
    for label in labels:
        cut = _threshold(threshold, label)
        tp = sum(1 for g, p in pairs if label in g.emotions and p.emotions[label] >= cut)
        fp = sum(1 for g, p in pairs if label not in g.emotions and p.emotions[label] >= cut)
        fn = sum(1 for g, p in pairs if label in g.emotions and p.emotions[label] < cut)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        if tp + fn:
            per_label.append(2 * tp / (2 * tp + fp + fn))
    micro = 2 * tp_all / (2 * tp_all + fp_all + fn_all) if tp_all + fp_all + fn_all else 0.0
    return {"emotion_micro_f1": micro, "emotion_macro_f1": sum(per_label) / len(per_label) if per_label else 0.0}


def intensity_pairs(gold: Sequence[Example], pred: Sequence[Prediction]) -> dict[str, list[tuple[float, float]]]:
    """(gold, predicted) intensities by emotion: the gold emotion's own intensity where the prediction has one
    per emotion (the one-pass readout), else the item's overall intensity; ``"*"`` for an item-level gold."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    for g, p in zip(gold, pred):
        targets = dict(g.intensities or {}) or ({"*": g.intensity} if g.intensity is not None else {})
        for label, value in targets.items():
            guess = p.intensities.get(label) if p.intensities and label in p.intensities else p.intensity
            if guess is not None:
                pairs.setdefault(label, []).append((float(value), float(guess)))
    return pairs


def intensity_mae(gold: Sequence[Example], pred: Sequence[Prediction]) -> dict[str, float]:
    """Mean absolute error of intensity (see :func:`intensity_pairs`), over annotated intensities."""
    errors = [abs(g - p) for pairs in intensity_pairs(gold, pred).values() for g, p in pairs]
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


def cause_f1(gold: Sequence[Example], pred: Sequence[Prediction],
             turns: Mapping[tuple[str, int], str] | None = None) -> dict[str, float]:
    """Mean character-overlap F1 and exact-match rate of cause spans, over examples with an annotated cause
    (a span in another turn than the gold's overlaps nothing; ``turns`` as in :func:`cause_token_f1`)."""
    pairs = [(g, p, _gold_cause(g, turns)) for g, p in zip(gold, pred) if g.cause is not None]
    pairs = [(g, p, found) for g, p, found in pairs if found is not None]
    if not pairs:
        return {}
    scores, exact = [], []
    for g, p, (text, span) in pairs:
        said = p.cause[:2] if p.cause and p.cause_turn == g.cause_turn else None
        other_turn = p.cause is not None and said is None
        scores.append(0.0 if other_turn else span_f1(span, said))
        exact.append(0.0 if other_turn else 1.0 if (said is None and span[0] == span[1])
                     or (said is not None and tuple(said) == tuple(span)) else 0.0)
    return {"cause_f1": sum(scores) / len(scores), "cause_exact": sum(exact) / len(exact)}


def _gold_cause(g: Example, turns: Mapping[tuple[str, int], str] | None) -> tuple[str, tuple[int, int]] | None:
    """The text the gold cause indexes and its trimmed span; None for a cause in a turn ``turns`` lacks."""
    assert g.cause is not None
    if g.cause_turn is None:
        text = g.text
    elif turns is None or g.conversation is None or (g.conversation, g.cause_turn) not in turns:
        return None
    else:
        text = turns[(g.conversation, g.cause_turn)]
    return text, trim_span(text, *g.cause)


def emotion_jaccard(gold: Sequence[Example], pred: Sequence[Prediction], threshold: Thresholds = 0.5) -> dict[str, float]:
    """Mean per-example Jaccard index of gold and thresholded label sets (SemEval E-c's accuracy); both empty = 1."""
    scores = []
    for g, p in zip(gold, pred):
        if g.emotions is None or not p.emotions:
            continue
        predicted = {label for label, prob in p.emotions.items() if prob >= _threshold(threshold, label)}
        union = predicted | set(g.emotions)
        scores.append(len(predicted & set(g.emotions)) / len(union) if union else 1.0)
    return {"emotion_jaccard": sum(scores) / len(scores)} if scores else {}


def expected_calibration_error(probs: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> float:
    """ECE of binary probabilities: bin by probability, weight |mean outcome - mean probability| by bin size."""
    if len(probs) != len(outcomes) or not probs:
        raise ValueError("need as many outcomes as probabilities, at least one")
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, sum of probabilities, sum of outcomes
    for prob, outcome in zip(probs, outcomes):
        cell = totals[min(bins - 1, int(prob * bins))]
        cell[0] += 1
        cell[1] += prob
        cell[2] += float(outcome)
    return sum(abs(s_out - s_prob) for _, s_prob, s_out in totals) / len(probs)


def emotion_ece(gold: Sequence[Example], pred: Sequence[Prediction], labels: Sequence[str], bins: int = 10) -> dict[str, float]:
    """Calibration of every (example, label) probability against whether the label is gold."""
    probs, outcomes = [], []
    for g, p in zip(gold, pred):
        if g.emotions is None or not p.emotions:
            continue
        for label in labels:
            probs.append(p.emotions[label])
            outcomes.append(label in g.emotions)
    return {"emotion_ece": expected_calibration_error(probs, outcomes, bins)} if probs else {}


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation; 0.0 when either side is constant (no linear signal to report)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("pearson needs two equally long sequences of at least 2 values")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def intensity_pearson(gold: Sequence[Example], pred: Sequence[Prediction]) -> dict[str, float]:
    """Pearson r of intensity (SemEval EI-reg's official metric), per gold emotion and their mean.

    ``intensity_pearson`` is the mean over emotions with at least two pairs (SemEval's macro average over
    anger, fear, joy and sadness); ``intensity_pearson/<emotion>`` each emotion's own.
    """
    per = {label: pearson([g for g, _ in pairs], [p for _, p in pairs])
           for label, pairs in intensity_pairs(gold, pred).items() if len(pairs) >= 2}
    if not per:
        return {}
    out = {"intensity_pearson": sum(per.values()) / len(per)}
    if len(per) > 1 or "*" not in per:
        out.update({f"intensity_pearson/{label}": r for label, r in sorted(per.items())})
    return out


def token_f1(gold: str, pred: str) -> float:
    """SQuAD-style F1 of the whitespace tokens of two strings; empty vs empty is 1."""
    g, p = gold.split(), pred.split()
    if not g or not p:
        return 1.0 if not g and not p else 0.0
    remaining = list(g)
    common = 0
    for token in p:
        if token in remaining:
            remaining.remove(token)
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def cause_token_f1(gold: Sequence[Example], pred: Sequence[Prediction],
                   turns: Mapping[tuple[str, int], str] | None = None) -> dict[str, float]:
    """Mean token F1 of cause span texts ("no cause" counts as the empty string; a predicted span in another
    turn than the gold's shares no token with it).

    ``turns``: ``(conversation, turn) -> text``, where gold causes lie in earlier turns (``cause_turn``);
    then ``cause_token_f1/same_turn`` (gold span in the item's own text), ``/earlier_turn`` and ``/none``
    (gold: no cause) are reported beside the mean, with their counts.
    """
    groups: dict[str, list[float]] = {"same_turn": [], "earlier_turn": [], "none": []}
    for g, p in zip(gold, pred):
        if g.cause is None:
            continue
        found = _gold_cause(g, turns)
        if found is None:
            continue
        text, (start, end) = found
        group = "none" if end <= start else "same_turn" if g.cause_turn is None else "earlier_turn"
        other_turn = p.cause is not None and p.cause_turn != g.cause_turn
        groups[group].append(0.0 if other_turn else token_f1(text[start:end], p.cause[2] if p.cause else ""))
    scores = [x for values in groups.values() for x in values]
    if not scores:
        return {}
    out = {"cause_token_f1": sum(scores) / len(scores)}
    if turns is not None:
        for name, values in groups.items():
            out[f"n_cause/{name}"] = float(len(values))
            if values:
                out[f"cause_token_f1/{name}"] = sum(values) / len(values)
    return out


def all_metrics(gold: Sequence[Example], pred: Sequence[Prediction], labels: Sequence[str],
                thresholds: Thresholds = 0.5, turns: Mapping[tuple[str, int], str] | None = None) -> dict[str, float]:
    """Every metric that applies to the annotated fields (emotion decisions at ``thresholds``; ``turns``: the
    conversations' turn texts, for causes in earlier turns)."""
    return {
        **emotion_f1(gold, pred, labels, thresholds),
        **emotion_jaccard(gold, pred, thresholds),
        **emotion_ece(gold, pred, labels),
        **intensity_pearson(gold, pred),
        **intensity_mae(gold, pred),
        **cause_token_f1(gold, pred, turns),
        **cause_f1(gold, pred, turns),
    }
