"""Labeling config from a taxonomy, and our items -> task JSON (no server)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from label_studio_sdk.label_interface import LabelInterface

from annotator.correct.labelstudio.config import labeling_config
from annotator.correct.labelstudio.results import parse_result
from annotator.correct.labelstudio.tasks import ITEM_ID, dialogue_data, prediction_json, task_json
from annotator.taxonomy import get_taxonomy


@dataclass
class FakeRow:  # plain value objects with the fields the functions read (not a stand-in for a service)
    id: int = 7
    text: str = "My dog ran away and I cannot stop crying."
    external_id: str | None = "utt-7"
    adapter_version: str = "emollm-v3"
    emotions: dict | None = None
    intensity: float | None = 0.734
    cause_start: int | None = 0
    cause_end: int | None = 17
    confidence: float | None = 0.61234
    cause_turn: int | None = None


@pytest.mark.parametrize("taxonomy", ["ekman", "goemotions", "semeval_ec", "plutchik"])
def test_config_has_every_label_and_the_three_controls(taxonomy):
    labels = list(get_taxonomy(taxonomy).labels)
    interface = LabelInterface(labeling_config(labels))
    # a taxonomy without "neutral" also offers "no emotion" (the choice is required)
    assert interface.get_control("emotions").labels == labels + ([] if "neutral" in labels else ["no emotion"])
    assert interface.get_control("emotions").attr["choice"] == "multiple"
    number = interface.get_control("intensity")
    assert (number.attr["min"], number.attr["max"], number.attr["step"]) == ("0", "1", "0.01")
    assert interface.get_control("cause").labels == ["cause"]


def test_config_refuses_an_empty_taxonomy():
    with pytest.raises(ValueError):
        labeling_config([])


def test_task_embeds_a_prediction_that_label_studio_accepts_and_we_read_back():
    labels = ["joy", "sadness", "anger"]
    row = FakeRow(emotions={"joy": 0.1, "sadness": 0.92, "anger": 0.5})
    task = task_json(row, row, labels, threshold=0.5)
    assert task["data"] == {"text": row.text, ITEM_ID: 7, "external_id": "utt-7"}
    (pred,) = task["predictions"]
    assert pred["model_version"] == "emollm-v3" and pred["score"] == 0.6123
    assert LabelInterface(labeling_config(labels)).validate_prediction(pred, return_errors=True) == []
    back = parse_result(pred["result"], row.text, labels)
    assert back.status == "accepted"
    assert (back.emotions, back.intensity, back.cause_text) == (["sadness", "anger"], 0.73, "My dog ran away a")


def test_prediction_without_cause_or_emotions_above_threshold():
    row = FakeRow(emotions={"joy": 0.2, "neutral": 0.1}, cause_start=None, cause_end=None, intensity=None,
                  confidence=None)
    pred = prediction_json(row.text, row, ["joy", "neutral"], 0.5, task_id=42)
    assert pred == {"model_version": "emollm-v3", "result": [], "task": 42}
    assert "predictions" not in task_json(row, None, ["joy"], 0.5)


def test_no_emotion_is_a_choice_where_the_taxonomy_has_no_neutral_and_reads_back_as_none():
    labels = ["joy", "sadness"]
    row = FakeRow(emotions={"joy": 0.2, "sadness": 0.1}, cause_start=None, cause_end=None, intensity=None)
    (pred,) = task_json(row, row, labels, 0.5)["predictions"]
    assert pred["result"] == [{"id": "emotions", "from_name": "emotions", "to_name": "text", "type": "choices",
                               "value": {"choices": ["no emotion"]}}]
    assert LabelInterface(labeling_config(labels)).validate_prediction(pred, return_errors=True) == []
    back = parse_result(pred["result"], row.text, labels)
    assert (back.status, back.emotions, back.no_emotion) == ("accepted", [], True)
    mixed = parse_result([{"from_name": "emotions", "to_name": "text", "type": "choices",
                           "value": {"choices": ["joy", "no emotion"]}}], row.text, labels)
    assert mixed.status == "rejected" and "'no emotion' chosen with emotions" in mixed.rejection_reason
    nothing = parse_result([], row.text, labels)  # an unanswered field is not "none"
    assert nothing.status == "rejected" and "none chosen" in nothing.rejection_reason
    # where "neutral" is a label, it is the way to say so; "no emotion" is not offered
    assert "no emotion" not in labeling_config(["joy", "neutral"])
    assert parse_result([{"from_name": "emotions", "to_name": "text", "type": "choices",
                          "value": {"choices": ["no emotion"]}}], row.text, ["joy", "neutral"]).status == "rejected"


def test_out_of_text_cause_is_not_sent():
    row = FakeRow(emotions={"joy": 0.9}, cause_start=3, cause_end=999)
    assert [r["from_name"] for r in prediction_json(row.text, row, ["joy"], 0.5)["result"]] == ["emotions", "intensity"]


def test_the_dialogue_config_shows_the_turns_before_and_accepts_a_cause_in_them():
    labels = ["joy", "sadness"]
    config = labeling_config(labels, dialogue=True)
    interface = LabelInterface(config)
    assert {"dialogue", "context_cause", "cause_outside", "cause", "emotions"} <= set(interface._controls) | set(
        interface._objects)
    result = [{"from_name": "emotions", "to_name": "text", "type": "choices", "value": {"choices": ["joy"]}},
              {"from_name": "context_cause", "to_name": "dialogue", "type": "paragraphlabels",
               "value": {"start": "0", "end": "0", "startOffset": 0, "endOffset": 5, "text": "Shall",
                         "paragraphlabels": ["cause"]}}]
    assert interface.validate_prediction({"result": result}, return_errors=True) == []
    row = FakeRow(emotions={"joy": 0.9})
    task = task_json(row, None, labels, 0.5, dialogue_data([(0, "Ann", "Shall we?"), (1, None, "Sure.")]))
    assert task["data"]["dialogue"] == [{"speaker": "Ann", "text": "Shall we?", "turn": 0},
                                        {"speaker": "", "text": "Sure.", "turn": 1}]
    assert labeling_config(labels) == labeling_config(labels, dialogue=False) and "Paragraphs" not in labeling_config(labels)


def test_a_predicted_cause_in_an_earlier_turn_is_a_paragraph_span_there_and_reads_back_exactly():
    labels = ["joy", "sadness"]
    shown = dialogue_data([(3, "Ann", "Shall we see a movie tomorrow?"), (4, "Bob", "Or go bowling?")])
    row = FakeRow(text="Sounds like a good plan", emotions={"joy": 0.9}, cause_start=9, cause_end=29, cause_turn=3)
    task = task_json(row, row, labels, 0.5, shown)
    (pred,) = task["predictions"]
    (span,) = [r for r in pred["result"] if r["from_name"] == "context_cause"]
    assert span["value"] == {"start": "0", "end": "0", "startOffset": 9, "endOffset": 29,
                             "text": "see a movie tomorrow", "paragraphlabels": ["cause"]}
    assert not any(r["from_name"] == "cause" for r in pred["result"])  # nothing marked in the turn itself
    assert LabelInterface(labeling_config(labels, dialogue=True)).validate_prediction(pred, return_errors=True) == []
    back = parse_result(pred["result"], row.text, labels, [(3, shown[0]["text"]), (4, shown[1]["text"])])
    assert back.status == "accepted" and back.errors == []
    assert (back.cause_turn, back.cause_start, back.cause_end, back.cause_text) == (3, 9, 29, "see a movie tomorrow")
    # a turn the task does not show (or a span that does not fit it) is not sent
    for turn, end in ((2, 29), (3, 99)):
        hidden = FakeRow(text=row.text, emotions={"joy": 0.9}, cause_start=9, cause_end=end, cause_turn=turn)
        result = prediction_json(hidden.text, hidden, labels, 0.5, dialogue=shown)["result"]
        assert [r["from_name"] for r in result] == ["emotions", "intensity"]
