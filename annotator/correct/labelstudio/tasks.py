"""Our item and its current prediction -> a Label Studio task with the prediction embedded.

The task's ``data`` carries the text and our item id (``item_id``): the stable id that push uses to
reconcile after an interrupted import. The embedded prediction holds one result item per field
(emotions, intensity, cause), ``model_version`` = the adapter version and ``score`` = our confidence.
Span offsets are code points, as in Python: Label Studio's Text tag stores code-point offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from annotator.correct.labelstudio import config as cfg
from annotator.label.predictions import PredictionFields
from annotator.label.thresholds import Thresholds, decided

ITEM_ID = "item_id"  # key of our item id in task data
EXTERNAL_ID = "external_id"  # the item's id in the user's source, shown as a column in Label Studio
TURN = "turn"  # key of the turn number in each entry of data["dialogue"]


class ItemLike(Protocol):
    id: int
    text: str
    external_id: str | None


def _number(name: str, value: float) -> dict[str, Any]:
    value = min(max(float(value), cfg.INTENSITY_MIN), cfg.INTENSITY_MAX)
    return {"id": name, "from_name": name, "to_name": cfg.TEXT, "type": "number", "value": {"number": round(value, 2)}}


def prediction_result(text: str, labels: Sequence[str], prediction: PredictionFields,
                      thresholds: Thresholds, dialogue: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Result items for one prediction: the emotions at or above their threshold (taxonomy order), the
    intensity and each chosen emotion's intensity rounded to the config's step, and the cause span when
    it lies inside the text, or (``dialogue``: the task's :func:`dialogue_data`) inside the earlier turn it
    names, as a paragraph span there."""
    result: list[dict[str, Any]] = []
    present = set(decided(prediction.emotions, thresholds))
    chosen = [label for label in labels if label in present]
    if not chosen and cfg.no_emotion_choice(labels):
        chosen = [cfg.NO_EMOTION]  # the labeler's answer is "none of them", as an annotator would say it
    if chosen:
        result.append({
            "id": cfg.EMOTIONS, "from_name": cfg.EMOTIONS, "to_name": cfg.TEXT, "type": "choices",
            "value": {"choices": chosen},
        })
    if prediction.intensity is not None:
        result.append(_number(cfg.INTENSITY, prediction.intensity))
    own = getattr(prediction, "intensities", None) or {}
    result.extend(_number(cfg.emotion_intensity(label), own[label]) for label in chosen if own.get(label) is not None)
    start, end = prediction.cause_start, prediction.cause_end
    turn = getattr(prediction, "cause_turn", None)
    if turn is not None:
        result.extend(_paragraph_cause(dialogue or (), turn, start, end))
    elif start is not None and end is not None and 0 <= start < end <= len(text):
        result.append({
            "id": cfg.CAUSE, "from_name": cfg.CAUSE, "to_name": cfg.TEXT, "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [cfg.CAUSE_LABEL]},
        })
    return result


def _paragraph_cause(dialogue: Sequence[dict[str, Any]], turn: int, start: int | None,
                     end: int | None) -> list[dict[str, Any]]:
    """The cause as a span of the shown turn ``turn`` (none when that turn is not shown or the span does
    not fit its text)."""
    index = next((i for i, entry in enumerate(dialogue) if entry.get(TURN) == turn), None)
    if index is None or start is None or end is None:
        return []
    said = str(dialogue[index]["text"])
    if not 0 <= start < end <= len(said):
        return []
    return [{"id": cfg.CONTEXT_CAUSE, "from_name": cfg.CONTEXT_CAUSE, "to_name": cfg.DIALOGUE,
             "type": "paragraphlabels",
             "value": {"start": str(index), "end": str(index), "startOffset": start, "endOffset": end,
                       "text": said[start:end], "paragraphlabels": [cfg.CAUSE_LABEL]}}]


def dialogue_data(turns: Sequence[tuple[int, str | None, str]]) -> list[dict[str, Any]]:
    """``data["dialogue"]`` of a task: the turns before the item (``(turn, speaker, text)``, oldest first)
    as the Paragraphs tag reads them; the turn number lets a pulled cause say which turn it marks."""
    return [{"speaker": speaker or "", "text": text, TURN: turn} for turn, speaker, text in turns]


def task_json(item: ItemLike, prediction: PredictionFields | None, labels: Sequence[str],
              threshold: Thresholds, dialogue: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The import JSON of one task; without a prediction the task carries none. ``dialogue`` (a dialogue
    project's tasks; [] for a lone item): :func:`dialogue_data` of the turns before the item."""
    data: dict[str, Any] = {cfg.TEXT: item.text, ITEM_ID: item.id}
    if item.external_id is not None:
        data[EXTERNAL_ID] = item.external_id
    if dialogue is not None:
        data[cfg.DIALOGUE] = dialogue
    task: dict[str, Any] = {"data": data}
    if prediction is not None:
        task["predictions"] = [prediction_json(item.text, prediction, labels, threshold, dialogue=dialogue)]
    return task


def prediction_json(text: str, prediction: PredictionFields, labels: Sequence[str], threshold: Thresholds,
                    task_id: int | None = None, dialogue: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One prediction; with ``task_id`` in the form ``import_predictions`` takes for an existing task;
    ``dialogue``: the task's turns shown before the item (where a cause in an earlier turn is marked)."""
    out: dict[str, Any] = {
        "model_version": prediction.adapter_version,
        "result": prediction_result(text, labels, prediction, threshold, dialogue),
    }
    if prediction.confidence is not None:
        out["score"] = round(float(prediction.confidence), 4)
    if task_id is not None:
        out["task"] = task_id
    return out
