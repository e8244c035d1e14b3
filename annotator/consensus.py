"""Pure functions that turn several labels for one item into one: the item's current best labels.

Human annotations win over machine predictions. Among humans: emotions by majority (a label chosen
by at least half of the annotators), intensity by the mean, cause by the most frequent span.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class HumanLabels(Protocol):
    annotator: str
    emotions: list[Any]
    intensity: float | None
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None


class MachineLabels(Protocol):
    adapter_version: str
    emotions: dict[str, Any]
    intensity: float | None
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None


@dataclass
class BestLabels:
    """An item's current best labels and where they came from."""

    emotions: list[str] = field(default_factory=list)
    scores: dict[str, float] | None = None
    intensity: float | None = None
    cause: dict[str, Any] | None = None
    source: str | None = None  # "human", "model" or None (nothing yet)
    adapter_version: str | None = None
    annotators: list[str] = field(default_factory=list)


def _span(start: int | None, end: int | None, text: str | None) -> dict[str, Any] | None:
    if start is None or end is None:
        return None
    return {"start": start, "end": end, "text": text}


def from_humans(annotations: Sequence[HumanLabels]) -> BestLabels:
    """Majority emotions, mean intensity and most frequent cause span over accepted annotations."""
    n = len(annotations)
    votes = Counter(label for a in annotations for label in set(a.emotions))
    emotions = sorted(label for label, k in votes.items() if 2 * k >= n)
    intensities = [a.intensity for a in annotations if a.intensity is not None]
    spans = Counter((a.cause_start, a.cause_end, a.cause_text) for a in annotations if a.cause_start is not None)
    cause = _span(*spans.most_common(1)[0][0]) if spans else None
    return BestLabels(
        emotions=emotions,
        intensity=sum(intensities) / len(intensities) if intensities else None,
        cause=cause,
        source="human",
        annotators=sorted({a.annotator for a in annotations}),
    )


def from_machine(prediction: MachineLabels, threshold: float) -> BestLabels:
    """Labels whose probability reaches ``threshold``, with every label's probability kept as scores."""
    scores = {label: float(p) for label, p in prediction.emotions.items()}
    return BestLabels(
        emotions=sorted(label for label, p in scores.items() if p >= threshold),
        scores=scores,
        intensity=prediction.intensity,
        cause=_span(prediction.cause_start, prediction.cause_end, prediction.cause_text),
        source="model",
        adapter_version=prediction.adapter_version,
    )


def best_labels(annotations: Sequence[Any], predictions: Sequence[MachineLabels], threshold: float = 0.5,
                preferred_adapter: str | None = None) -> BestLabels:
    """Humans if any accepted annotation exists, else the preferred adapter's prediction, else the newest.

    ``predictions`` must be newest first.
    """
    accepted = [a for a in annotations if getattr(a, "status", "accepted") == "accepted"]
    if accepted:
        best = from_humans(accepted)
        chosen = _pick(predictions, preferred_adapter)
        if chosen is not None:
            best.adapter_version = chosen.adapter_version  # what the humans were correcting
        return best
    chosen = _pick(predictions, preferred_adapter)
    return from_machine(chosen, threshold) if chosen is not None else BestLabels()


def _pick(predictions: Sequence[MachineLabels], preferred: str | None) -> MachineLabels | None:
    if not predictions:
        return None
    if preferred is not None:
        for p in predictions:
            if p.adapter_version == preferred:
                return p
    return predictions[0]
