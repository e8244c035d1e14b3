"""Pure functions that turn several labels for one item into one: the item's current best labels.

Human annotations win over machine predictions. Among humans: emotions by (optionally
reliability-weighted) majority, a label chosen by at least half of the annotators' weight; intensity by
the mean (or median); cause by the most frequent span, or, where the item's text is known, by token
majority turned back into a span. The same rules give the leave-one-out consensus agreement compares
each annotator with, and the consensus labels retraining learns from.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from annotator.agree.spans import Span, as_span, mask_to_span, span_mask, token_offsets
from annotator.label.predictions import PredictionFields
from annotator.label.thresholds import DEFAULT_THRESHOLD, Thresholds, decided
from annotator.states import AnnotationStatus


class HumanLabels(Protocol):
    annotator: str
    emotions: list[Any]
    intensity: float | None
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None
    cause_turn: int | None  # an earlier turn of the item's conversation the span lies in (None: its own text)
    cause_outside: bool | None  # the cause is not in the conversation


@dataclass
class BestLabels:
    """An item's current best labels and where they came from."""

    emotions: list[str] = field(default_factory=list)
    scores: dict[str, float] | None = None
    intensity: float | None = None
    intensities: dict[str, float] | None = None  # per chosen emotion, where known
    cause: dict[str, Any] | None = None
    source: str | None = None  # "human", "model" or None (nothing yet)
    adapter_version: str | None = None
    annotators: list[str] = field(default_factory=list)


def cause_dict(start: int | None, end: int | None, text: str | None, turn: int | None = None,
          outside: bool | None = None) -> dict[str, Any] | None:
    """A cause as the export and the pages show it: start, end, its text, the earlier turn it lies in (None:
    the item's own text), and whether it is outside the conversation (then there is no span)."""
    if outside:
        return {"start": None, "end": None, "text": None, "turn": None, "outside": True}
    span = as_span(start, end)
    return None if span is None else {"start": span[0], "end": span[1], "text": text, "turn": turn, "outside": False}


def majority_emotions(label_sets: Sequence[Iterable[str]], weights: Sequence[float] | None = None) -> list[str]:
    """Labels chosen by at least half of the annotators' total weight (every weight 1 when None), sorted."""
    if weights is None:
        weights = [1.0] * len(label_sets)
    votes: dict[str, float] = {}
    for labels, weight in zip(label_sets, weights):
        for label in set(labels):
            votes[label] = votes.get(label, 0.0) + weight
    total = sum(weights)
    return sorted(label for label, w in votes.items() if total > 0 and 2 * w >= total - 1e-12)


def combine_intensity(values: Iterable[float | None], method: str = "mean") -> float | None:
    """Mean or median of the intensities given (None values skipped; None if there are none)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if method == "median":
        return float(statistics.median(present))
    if method != "mean":
        raise ValueError(f"unknown intensity consensus {method!r}; use mean or median")
    return sum(present) / len(present)


def token_majority_span(spans: Sequence[Span | None], text: str) -> Span | None:
    """The tokens at least half of the annotators put inside the cause (an annotator without a cause
    puts none), as one span: the longest contiguous run of them. None when no token has a majority."""
    if not spans:
        return None
    offsets = token_offsets(text)
    votes = np.zeros(len(offsets), dtype=np.int64)
    for span in spans:
        votes += span_mask(offsets, span)
    return mask_to_span(offsets, 2 * votes >= len(spans))


def from_humans(annotations: Sequence[HumanLabels]) -> BestLabels:
    """Majority emotions, mean intensity and most frequent cause (a span, wherever it lies, or "outside the
    conversation") over accepted annotations."""
    emotions = majority_emotions([a.emotions for a in annotations])
    spans = Counter((a.cause_start, a.cause_end, a.cause_text, a.cause_turn, bool(a.cause_outside))
                    for a in annotations if a.cause_start is not None or a.cause_outside)
    cause = cause_dict(*spans.most_common(1)[0][0]) if spans else None
    per_emotion = {label: combine_intensity((getattr(a, "intensities", None) or {}).get(label) for a in annotations)
                   for label in emotions}
    return BestLabels(
        emotions=emotions,
        intensity=combine_intensity(a.intensity for a in annotations),
        intensities={k: v for k, v in per_emotion.items() if v is not None} or None,
        cause=cause,
        source="human",
        annotators=sorted({a.annotator for a in annotations}),
    )


def from_machine(prediction: PredictionFields, thresholds: Thresholds) -> BestLabels:
    """Labels whose probability reaches their threshold, with every label's probability kept as scores."""
    scores = {label: float(p) for label, p in prediction.emotions.items()}
    emotions = decided(scores, thresholds)
    own = getattr(prediction, "intensities", None) or {}
    return BestLabels(
        emotions=emotions,
        scores=scores,
        intensity=prediction.intensity,
        intensities={label: float(own[label]) for label in emotions if label in own} or None,
        cause=cause_dict(prediction.cause_start, prediction.cause_end, prediction.cause_text,
                         prediction.cause_turn),
        source="model",
        adapter_version=prediction.adapter_version,
    )


def best_labels(annotations: Sequence[Any], predictions: Sequence[PredictionFields],
                thresholds: Thresholds | Callable[[str], Thresholds] = DEFAULT_THRESHOLD,
                preferred_adapter: str | None = None) -> BestLabels:
    """Humans if any accepted annotation exists, else the preferred adapter's prediction, else the newest.

    ``predictions`` must be newest first. ``thresholds`` may depend on the adapter version that made the
    prediction (a callable version -> thresholds).
    """
    accepted = [a for a in annotations if getattr(a, "status", AnnotationStatus.ACCEPTED) == AnnotationStatus.ACCEPTED]
    if accepted:
        best = from_humans(accepted)
        chosen = pick_prediction(predictions, preferred_adapter)
        if chosen is not None:
            best.adapter_version = chosen.adapter_version  # what the humans were correcting
        return best
    chosen = pick_prediction(predictions, preferred_adapter)
    if chosen is None:
        return BestLabels()
    return from_machine(chosen, thresholds(chosen.adapter_version) if callable(thresholds) else thresholds)


T = TypeVar("T")


def pick_prediction(predictions: Sequence[T], preferred: str | None,
                    version_of: Callable[[T], str] = lambda p: p.adapter_version) -> T | None:  # type: ignore[attr-defined]
    """The prediction of the preferred adapter version, else the newest (``predictions`` newest first)."""
    if not predictions:
        return None
    if preferred is not None:
        for p in predictions:
            if version_of(p) == preferred:
                return p
    return predictions[0]
