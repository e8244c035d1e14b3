"""Dataset examples -> training records for a target taxonomy.

A training record is the JSON object ``models.training.data`` reads (this module never imports ``models/``)::

    {"text": str, "emotions": [label, ...] | null, "intensity": float | null, "cause": [start, end] | null}

``null`` means "not annotated": the trainer learns nothing about that field from the record. Rules:

- **emotions** are kept only where the dataset's labels mean something in the target taxonomy: the same
  taxonomy, or a mapping in :data:`LABEL_MAPS` (GoEmotions <-> SemEval E-c, by shared emotion words). A record
  whose labels do not all map gets ``null`` emotions (a partial label set would teach "no" for a label the
  rater chose). SemEval's explicit "no emotion" (``()``) becomes ``neutral`` where the target has it.
  Datasets with their own taxonomies (RECCON, GNE, Emotion-Stimulus) map to nothing: their labels are
  annotated for a different purpose (the cause's emotion, a reader's emotion) and are left out.
- **intensity** is kept as is (SemEval EI-reg: the tweet's intensity of the emotion in its file).
- **cause** is the span where the dataset gives one. RECCON annotates every cause of an utterance, so its
  utterances without an in-text span are "no cause here" (the empty span ``[0, 0]``); elsewhere a missing
  span stays ``null`` (GNE rows whose span could not be located are not "no cause").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from annotator.datasets.types import Example

# (source taxonomy, target taxonomy) -> {source label: target label}
_SHARED_GOEMOTIONS_SEMEVAL = ("anger", "disgust", "fear", "joy", "love", "optimism", "sadness", "surprise")
LABEL_MAPS: dict[tuple[str, str], dict[str, str]] = {
    ("semeval_ec", "goemotions"): {label: label for label in _SHARED_GOEMOTIONS_SEMEVAL},
    ("goemotions", "semeval_ec"): {label: label for label in _SHARED_GOEMOTIONS_SEMEVAL},
}

# Formats whose cause annotation is exhaustive: an example without a span has no cause in its text.
EXHAUSTIVE_CAUSE_FORMATS = frozenset({"reccon"})

DEV_FRACTION = 0.1  # share of an unsplit dataset (split "all") that :func:`assign_split` calls "dev"


def map_emotions(emotions: tuple[str, ...] | None, source: str, target: str, target_labels: tuple[str, ...]) -> list[str] | None:
    """The example's labels in the target taxonomy, or ``None`` where they cannot be carried over whole."""
    if emotions is None:
        return None
    if source == target:
        mapped = list(emotions)
    else:
        table = LABEL_MAPS.get((source, target))
        if table is None or any(label not in table for label in emotions):
            return None
        mapped = [table[label] for label in emotions]
        if not mapped and "neutral" in target_labels:
            mapped = ["neutral"]
    if any(label not in target_labels for label in mapped):
        return None
    return sorted(set(mapped))


def to_training_record(example: Example, fmt: str, target: str, target_labels: tuple[str, ...]) -> dict[str, Any] | None:
    """The training record for one example, or ``None`` when no field survives the mapping."""
    cause: list[int] | None = None
    if example.cause is not None:
        cause = [example.cause.start, example.cause.end]
    elif fmt in EXHAUSTIVE_CAUSE_FORMATS:
        cause = [0, 0]
    record = {
        "text": example.text,
        "emotions": map_emotions(example.emotions, example.taxonomy, target, target_labels),
        "intensity": example.intensity,
        "cause": cause,
    }
    if record["emotions"] is None and record["intensity"] is None and record["cause"] is None:
        return None
    return record


def assign_split(example: Example, dev_fraction: float = DEV_FRACTION) -> str:
    """The example's own split, or for unsplit datasets a stable hash split of its id into train/dev."""
    if example.split != "all":
        return example.split
    bucket = int(hashlib.sha256(example.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < dev_fraction else "train"


def training_records(
    examples: Iterable[Example], fmt: str, target: str, target_labels: tuple[str, ...], split: str | None = None
) -> Iterator[dict[str, Any]]:
    """Training records for the examples of ``split`` (any split when ``None``) that keep some field."""
    for example in examples:
        if split is not None and assign_split(example) != split:
            continue
        record = to_training_record(example, fmt, target, target_labels)
        if record is not None:
            yield record
