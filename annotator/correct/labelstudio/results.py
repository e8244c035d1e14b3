"""A Label Studio annotation result -> our annotation fields, validated against the project.

Label Studio stores whatever a client sends (unknown choices, numbers out of range, spans past the
end of the text). We check every result item against the project's labels, the intensity range and
the text, and turn an invalid result into a *rejected* annotation with every reason, never drop it.
Pure functions: no database, no network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.correct.labelstudio import config as cfg
from annotator.states import AnnotationStatus


@dataclass
class AnnotationFields:
    """What one annotation says about one item, and whether it is valid."""

    emotions: list[str] = field(default_factory=list)
    intensity: float | None = None
    intensities: dict[str, float] = field(default_factory=dict)  # per chosen emotion
    cause_start: int | None = None
    cause_end: int | None = None
    cause_text: str | None = None
    cause_turn: int | None = None  # an earlier turn of the conversation the cause span lies in
    cause_outside: bool | None = None  # the cause is not in the conversation
    no_emotion: bool = False  # the annotator chose "no emotion" (``emotions`` is then empty)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """'accepted' or 'rejected'."""
        return AnnotationStatus.REJECTED if self.errors else AnnotationStatus.ACCEPTED

    @property
    def rejection_reason(self) -> str | None:
        """All problems found, joined; None when valid."""
        return "; ".join(self.errors) if self.errors else None


_TYPES = {cfg.EMOTIONS: "choices", cfg.INTENSITY: "number", cfg.CAUSE: "labels",
          cfg.CONTEXT_CAUSE: "paragraphlabels", cfg.CAUSE_OUTSIDE: "choices"}
_DIALOGUE_ONLY = (cfg.CONTEXT_CAUSE, cfg.CAUSE_OUTSIDE)

# paragraph index of the task's dialogue -> (the earlier turn it shows, that turn's stored text), or None
# where the paragraph is not a stored earlier turn of the item's conversation
Paragraphs = Sequence["tuple[int, str] | None"]


def parse_result(result: Any, text: str, labels: Sequence[str], paragraphs: Paragraphs | None = None) -> AnnotationFields:
    """Read emotions, intensity and cause from a result list; collect every problem in ``errors``.

    Rules: at least one emotion, each from ``labels``, or only "no emotion" (where the config offers it:
    a taxonomy without ``neutral``); intensity optional, a finite number in [0, 1];
    cause optional, at most one span with 0 <= start < end <= len(text) whose ``text`` (if sent) matches.
    For a turn of a conversation (``paragraphs``: what its task's dialogue shows), the cause may instead be
    a span inside one earlier turn (checked against that turn's stored text), or "not in the conversation".
    Fields that are readable are kept even when another field is invalid.
    """
    out = AnnotationFields()
    if not isinstance(result, list):
        out.errors.append(f"result is not a list: {type(result).__name__}")
        return out
    seen: dict[str, int] = {}
    per_emotion: dict[str, Any] = {}
    for n, entry in enumerate(result):
        if not isinstance(entry, dict):
            out.errors.append(f"result item {n} is not an object")
            continue
        name = entry.get("from_name")
        label = name[len(cfg.EMOTION_INTENSITY_PREFIX):] if isinstance(name, str) and name.startswith(
            cfg.EMOTION_INTENSITY_PREFIX) else None
        if isinstance(name, str) and label is not None and label in labels:
            seen[name] = seen.get(name, 0) + 1
            value = entry.get("value")
            if entry.get("type") != "number" or not isinstance(value, dict):
                out.errors.append(f"{name}: expected a number result")
            else:
                per_emotion[label] = value.get("number")
            continue
        if name not in _TYPES or (name in _DIALOGUE_ONLY and paragraphs is None):
            out.errors.append(f"unknown control {name!r} in result item {n}")
            continue
        seen[name] = seen.get(name, 0) + 1
        if entry.get("type") != _TYPES[name]:
            out.errors.append(f"{name}: type {entry.get('type')!r}, expected {_TYPES[name]!r}")
            continue
        value = entry.get("value")
        if not isinstance(value, dict):
            out.errors.append(f"{name}: value is not an object")
            continue
        if name == cfg.EMOTIONS:
            _read_emotions(value, labels, out)
        elif name == cfg.INTENSITY:
            _read_intensity(value, out)
        elif name == cfg.CAUSE:
            _read_cause(value, text, out)
        elif name == cfg.CONTEXT_CAUSE:
            _read_context_cause(value, paragraphs or (), out)
        else:
            _read_outside(value, out)
    for name, k in seen.items():
        if k > 1:
            out.errors.append(f"{name}: {k} result items, expected at most one")
    causes = [name for name in (cfg.CAUSE, cfg.CONTEXT_CAUSE, cfg.CAUSE_OUTSIDE) if name in seen]
    if len(causes) > 1:
        out.errors.append(f"causes: {' and '.join(causes)} both given, expected one")
    for label, number in per_emotion.items():
        if label not in out.emotions:
            continue  # set, then the emotion was unchosen: Label Studio may still send it; it says nothing
        name = cfg.emotion_intensity(label)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            out.errors.append(f"{name}: not a number: {number!r}")
        elif not cfg.INTENSITY_MIN <= number <= cfg.INTENSITY_MAX:
            out.errors.append(f"{name}: {number} outside [{cfg.INTENSITY_MIN:g}, {cfg.INTENSITY_MAX:g}]")
        else:
            out.intensities[label] = float(number)
    if out.intensity is None and out.intensities:
        out.intensity = max(out.intensities.values())  # the item's intensity: its strongest emotion's
    if not out.emotions and not out.no_emotion and not any(e.startswith(f"{cfg.EMOTIONS}:") for e in out.errors):
        out.errors.append(f"{cfg.EMOTIONS}: none chosen")
    return out


def _read_emotions(value: dict[str, Any], labels: Sequence[str], out: AnnotationFields) -> None:
    choices = value.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        out.errors.append(f"{cfg.EMOTIONS}: choices must be a list of strings, got {choices!r}")
        return
    if cfg.NO_EMOTION in choices and cfg.no_emotion_choice(labels):
        if len(choices) > 1:
            out.errors.append(f"{cfg.EMOTIONS}: {cfg.NO_EMOTION!r} chosen with emotions {choices!r}")
            return
        out.no_emotion = True  # an answer: the item carries none of the labels
        return
    unknown = [c for c in choices if c not in labels]
    if unknown:
        out.errors.append(f"{cfg.EMOTIONS}: not in the project's labels: {', '.join(map(repr, unknown))}")
    if len(set(choices)) != len(choices):
        out.errors.append(f"{cfg.EMOTIONS}: repeated choices {choices!r}")
    # keep what was chosen (unknown labels too) so a rejected row shows what the annotator sent
    out.emotions = sorted(set(choices), key=lambda c: (labels.index(c) if c in labels else len(labels), c))


def _read_intensity(value: dict[str, Any], out: AnnotationFields) -> None:
    number = value.get("number")
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        out.errors.append(f"{cfg.INTENSITY}: not a number: {number!r}")
        return
    out.intensity = float(number)
    if not cfg.INTENSITY_MIN <= number <= cfg.INTENSITY_MAX:
        out.errors.append(f"{cfg.INTENSITY}: {number} outside [{cfg.INTENSITY_MIN:g}, {cfg.INTENSITY_MAX:g}]")


def _read_cause(value: dict[str, Any], text: str, out: AnnotationFields) -> None:
    if out.cause_start is not None:
        return  # the duplicate is reported once, by the caller's count
    start, end, span_labels = value.get("start"), value.get("end"), value.get("labels")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        out.errors.append(f"{cfg.CAUSE}: start/end must be integers, got {start!r}/{end!r}")
        return
    out.cause_start, out.cause_end = start, end
    if not 0 <= start < end <= len(text):
        out.errors.append(f"{cfg.CAUSE}: span [{start}, {end}) outside the text (length {len(text)})")
        return
    out.cause_text = text[start:end]
    sent = value.get("text")
    if sent is not None and sent != out.cause_text:
        out.errors.append(f"{cfg.CAUSE}: span text {sent!r} does not match the item text at [{start}, {end})")
    if span_labels is not None and span_labels != [cfg.CAUSE_LABEL]:
        out.errors.append(f"{cfg.CAUSE}: labels {span_labels!r}, expected [{cfg.CAUSE_LABEL!r}]")


def _read_context_cause(value: dict[str, Any], paragraphs: Paragraphs, out: AnnotationFields) -> None:
    name = cfg.CONTEXT_CAUSE
    first, last = _index(value.get("start")), _index(value.get("end"))
    if first is None or last is None or first != last:
        out.errors.append(f"{name}: a cause lies inside one turn, got paragraphs {value.get('start')!r}.."
                          f"{value.get('end')!r}")
        return
    shown = paragraphs[first] if 0 <= first < len(paragraphs) else None
    if shown is None:
        out.errors.append(f"{name}: paragraph {first} is not an earlier turn of this item's conversation")
        return
    turn, turn_text = shown
    start, end = value.get("startOffset"), value.get("endOffset")
    if type(start) is not int or type(end) is not int or not 0 <= start < end <= len(turn_text):
        out.errors.append(f"{name}: offsets {start!r}..{end!r} outside turn {turn} (length {len(turn_text)})")
        return
    sent = value.get("text")
    if sent is not None and sent != turn_text[start:end]:
        out.errors.append(f"{name}: span text {sent!r} does not match turn {turn} at [{start}, {end})")
        return
    if value.get("paragraphlabels") not in (None, [cfg.CAUSE_LABEL]):
        out.errors.append(f"{name}: labels {value.get('paragraphlabels')!r}, expected [{cfg.CAUSE_LABEL!r}]")
    out.cause_turn, out.cause_start, out.cause_end, out.cause_text = turn, start, end, turn_text[start:end]


def _index(value: Any) -> int | None:
    """A paragraph index as Label Studio writes it: an integer or a string of digits."""
    if type(value) is int:
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _read_outside(value: dict[str, Any], out: AnnotationFields) -> None:
    choices = value.get("choices")
    if choices != [cfg.OUTSIDE_CHOICE]:
        out.errors.append(f"{cfg.CAUSE_OUTSIDE}: choices {choices!r}, expected [{cfg.OUTSIDE_CHOICE!r}]")
        return
    out.cause_outside = True
