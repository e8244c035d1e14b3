"""Dataset examples -> training records for a target taxonomy.

A training record is the JSON object ``models.training.data`` reads (this module never imports ``models/``)::

    {"text": str, "taxonomy": str, "emotions": [label, ...] | null, "intensity": float | null,
     "intensity_emotion": str | null, "cause": [start, end] | null}

``null`` means "not annotated": the trainer learns nothing about that field from the record. Rules:

- **emotions** are kept only where the dataset's labels mean something in the target taxonomy: the same
  taxonomy, or a mapping in :data:`LABEL_MAPS` under which the dataset's full label set (absent labels
  included) determines the target's. A record whose labels do not all map gets ``null`` emotions (a partial
  label set would teach "no" for a label the rater chose). Mapped: GoEmotions -> Ekman (the GoEmotions
  authors' grouping), Ekman + neutral (RECCON, EmotionLines) -> Ekman, and SemEval E-c rows whose labels
  are all Ekman's -> Ekman. Not mapped: GoEmotions <-> E-c (an E-c "joy" tweet may be GoEmotions
  "gratitude", which E-c cannot say), nor GNE or Emotion-Stimulus, whose labels are annotated for a
  different purpose (the cause's emotion, a reader's emotion). SemEval's explicit "no emotion" (``()``)
  becomes ``neutral`` where the target has it.
- **intensity** is kept as is, with the emotion it measures (SemEval EI-reg: the emotion of its file) as
  ``intensity_emotion``.
- **cause** is the span where the dataset gives one. RECCON annotates every cause of an utterance, so its
  utterances without an in-text span are "no cause here" (the empty span ``[0, 0]``); elsewhere a missing
  span stays ``null`` (GNE rows whose span could not be located are not "no cause"). Read as conversations,
  a RECCON utterance whose cause lies only in earlier turns gets the span of the nearest one, with
  ``"cause_turn"`` naming that turn (its offsets index that turn's text).
- a row whose gold label the reader could not use (``DatasetRow.label_error``) is skipped and counted.
- with ``conversations=True``, a row that is a turn of a conversation (its ``meta`` names ``conversation``
  and ``turn``, as the RECCON and EmotionLines readers set) adds ``conversation``, ``turn`` and ``speaker``
  to its record, and a turn with no usable field is kept as a context record (every field ``null``): it is
  read as an earlier turn of the others, never trained on or scored.

Each record names its ``taxonomy`` (the target), so records of one text for several taxonomies can train
a head each (the one-pass trainer merges them by text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from annotator.datasets.types import DatasetRow

# (source taxonomy, target taxonomy) -> {source label: the target labels it means}
GOEMOTIONS_TO_EKMAN: dict[str, tuple[str, ...]] = {
    **{label: ("anger",) for label in ("anger", "annoyance", "disapproval")},
    "disgust": ("disgust",),
    **{label: ("fear",) for label in ("fear", "nervousness")},
    **{label: ("joy",) for label in ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
                                     "relief", "pride", "admiration", "desire", "caring")},
    **{label: ("sadness",) for label in ("sadness", "disappointment", "embarrassment", "grief", "remorse")},
    **{label: ("surprise",) for label in ("surprise", "realization", "confusion", "curiosity")},
    "neutral": (),
}
_EKMAN = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
LABEL_MAPS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("goemotions", "ekman"): GOEMOTIONS_TO_EKMAN,
    ("ekman_neutral", "ekman"): {**{label: (label,) for label in _EKMAN}, "neutral": ()},
    ("semeval_ec", "ekman"): {label: (label,) for label in _EKMAN},
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
        mapped = [out for label in emotions for out in table[label]]
        if not emotions and "neutral" in target_labels:
            mapped = ["neutral"]
    if any(label not in target_labels for label in mapped):
        return None
    return sorted(set(mapped))


def to_training_record(example: DatasetRow, fmt: str, target: str, target_labels: tuple[str, ...]) -> dict[str, Any] | None:
    """The training record for one example, or ``None`` when no field survives the mapping."""
    cause: list[int] | None = None
    if example.cause is not None:
        cause = [example.cause.start, example.cause.end]
    elif fmt in EXHAUSTIVE_CAUSE_FORMATS:
        cause = [0, 0]
    record = {
        "text": example.text,
        "taxonomy": target,
        "emotions": map_emotions(example.emotions, example.taxonomy, target, target_labels),
        "intensity": example.intensity,
        "intensity_emotion": example.meta.get("intensity_emotion") if example.intensity is not None else None,
        "cause": cause,
    }
    if record["emotions"] is None and record["intensity"] is None and record["cause"] is None:
        return None
    return record


def assign_split(example: DatasetRow, dev_fraction: float = DEV_FRACTION) -> str:
    """The example's own split, or for unsplit datasets a stable hash split of its id into train/dev."""
    if example.split != "all":
        return example.split
    bucket = int(hashlib.sha256(example.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < dev_fraction else "train"


@dataclass
class Skipped:
    """Rows a conversion left out because their gold label was unusable, with the first few reasons."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(reason)


def training_records(
    examples: Iterable[DatasetRow], fmt: str, target: str, target_labels: tuple[str, ...], split: str | None = None,
    skipped: Skipped | None = None, conversations: bool = False,
) -> Iterator[dict[str, Any]]:
    """Training records for the examples of ``split`` (any split when ``None``) that keep some field (and,
    with ``conversations``, context records for the other turns of conversations).

    Rows with a :attr:`~annotator.datasets.types.DatasetRow.label_error` are left out and counted in ``skipped``.
    """
    for example in examples:
        if split is not None and assign_split(example) != split:
            continue
        turn = conversation_turn(example) if conversations else None
        record = None
        if example.label_error is not None:
            if skipped is not None:
                skipped.add(example.label_error)
        else:
            record = to_training_record(example, fmt, target, target_labels)
        if turn is not None:
            record = record or {"text": example.text, "taxonomy": target, "emotions": None, "intensity": None,
                                "intensity_emotion": None, "cause": None}
            record.update(turn)
            earlier = earlier_cause(example)
            if record["cause"] == [0, 0] and earlier is not None:
                record["cause"], record["cause_turn"] = [earlier[1], earlier[2]], earlier[0]
        if record is not None:
            yield record


def earlier_cause(example: DatasetRow) -> tuple[int, int, int] | None:
    """``(turn, start, end)`` of the cause span in the nearest earlier turn of the row's conversation (RECCON's
    ``meta["cause_spans"]``), for a row with no cause in its own text; None where there is none."""
    own = example.meta.get("turn")
    spans = [s for s in example.meta.get("cause_spans") or ()
             if isinstance(s, dict) and isinstance(s.get("turn"), int) and isinstance(own, int)
             and s["turn"] < own and s.get("start") is not None and s.get("end", 0) > s["start"]]
    if example.cause is not None or not spans:
        return None
    nearest = max(spans, key=lambda s: s["turn"])
    return nearest["turn"], int(nearest["start"]), int(nearest["end"])


def conversation_turn(example: DatasetRow) -> dict[str, Any] | None:
    """``{"conversation", "turn", "speaker"}`` of a row that is a turn of a conversation, else None."""
    conversation, turn = example.meta.get("conversation"), example.meta.get("turn")
    if conversation is None or not isinstance(turn, int):
        return None
    speaker = example.meta.get("speaker")
    return {"conversation": str(conversation), "turn": turn, "speaker": str(speaker) if speaker else None}
