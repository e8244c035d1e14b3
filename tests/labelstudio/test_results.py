"""Label Studio results -> our fields: a table of valid and invalid results (no server)."""

from __future__ import annotations

import pytest

from annotator.correct.labelstudio.results import parse_result

LABELS = ["joy", "sadness", "anger", "fear"]
TEXT = "I lost my keys and then found them in the fridge."


def emo(*choices: str) -> dict:
    return {"from_name": "emotions", "to_name": "text", "type": "choices", "value": {"choices": list(choices)}}


def num(x: object) -> dict:
    return {"from_name": "intensity", "to_name": "text", "type": "number", "value": {"number": x}}


def span(start: object, end: object, text: str | None = None, labels: list | None = None) -> dict:
    value: dict = {"start": start, "end": end, "labels": labels or ["cause"]}
    if text is not None:
        value["text"] = text
    return {"from_name": "cause", "to_name": "text", "type": "labels", "value": value}


def test_valid_result_reads_all_three_fields():
    f = parse_result([emo("fear", "joy"), num(0.42), span(2, 14, TEXT[2:14])], TEXT, LABELS)
    assert f.status == "accepted" and f.rejection_reason is None
    assert f.emotions == ["joy", "fear"]  # taxonomy order
    assert (f.intensity, f.cause_start, f.cause_end, f.cause_text) == (0.42, 2, 14, "lost my keys")


def test_intensity_and_cause_are_optional():
    f = parse_result([emo("sadness")], TEXT, LABELS)
    assert f.status == "accepted" and (f.intensity, f.cause_start) == (None, None)


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ([], "emotions: none chosen"),
        ([emo()], "emotions: none chosen"),
        ([emo("joy", "nope")], "not in the project's labels: 'nope'"),
        ([emo("joy", "joy")], "repeated choices"),
        ([emo("joy"), num(1.5)], "outside [0, 1]"),
        ([emo("joy"), num(-0.01)], "outside [0, 1]"),
        ([emo("joy"), num("0.5")], "not a number"),
        ([emo("joy"), num(True)], "not a number"),
        ([emo("joy"), num(float("nan"))], "not a number"),
        ([emo("joy"), span(5, 2)], "outside the text"),
        ([emo("joy"), span(0, len(TEXT) + 1)], "outside the text"),
        ([emo("joy"), span(-1, 3)], "outside the text"),
        ([emo("joy"), span("0", 3)], "start/end must be integers"),
        ([emo("joy"), span(2, 14, "something else")], "does not match the item text"),
        ([emo("joy"), span(2, 14, labels=["other"])], "expected ['cause']"),
        ([emo("joy"), span(2, 6), span(7, 14)], "cause: 2 result items"),
        ([emo("joy"), emo("fear")], "emotions: 2 result items"),
        ([emo("joy"), {"from_name": "mood", "type": "choices", "value": {}}], "unknown control 'mood'"),
        ([{**emo("joy"), "type": "labels"}], "expected 'choices'"),
        ([emo("joy"), "garbage"], "result item 1 is not an object"),
        ("not a list", "result is not a list"),
    ],
)
def test_invalid_results_are_rejected_with_a_reason(result, reason):
    f = parse_result(result, TEXT, LABELS)
    assert f.status == "rejected"
    assert reason in f.rejection_reason


def test_rejected_result_keeps_what_was_readable():
    f = parse_result([emo("joy", "nope"), num(3.0), span(2, 14)], TEXT, LABELS)
    assert f.status == "rejected"
    assert f.emotions == ["joy", "nope"] and f.intensity == 3.0 and f.cause_text == "lost my keys"
    assert f.rejection_reason.count(";") == 1  # both problems reported


def test_offsets_are_code_points():
    text = "🎉 we won the final!"
    f = parse_result([emo("joy"), span(2, 8, "we won")], text, LABELS)
    assert f.status == "accepted" and f.cause_text == "we won"


# --- dialogue projects: a cause in an earlier turn, or outside the conversation --------------------------

EARLIER = "Shall we see a movie tomorrow?"
SHOWN = [(0, EARLIER), None]  # paragraph 0 shows turn 0; paragraph 1 names no stored earlier turn


def para(index: object, start: object, end: object, text: str | None = None, end_index: object = None) -> dict:
    value: dict = {"start": index, "end": index if end_index is None else end_index, "startOffset": start,
                   "endOffset": end, "paragraphlabels": ["cause"]}
    if text is not None:
        value["text"] = text
    return {"from_name": "context_cause", "to_name": "dialogue", "type": "paragraphlabels", "value": value}


OUTSIDE = {"from_name": "cause_outside", "to_name": "text", "type": "choices",
           "value": {"choices": ["not in the conversation"]}}


def test_a_cause_in_an_earlier_turn_is_read_with_its_turn():
    f = parse_result([emo("joy"), para("0", 9, 20, "see a movie")], TEXT, LABELS, SHOWN)
    assert f.status == "accepted", f.rejection_reason
    assert (f.cause_turn, f.cause_start, f.cause_end, f.cause_text) == (0, 9, 20, "see a movie")
    f = parse_result([emo("joy"), OUTSIDE], TEXT, LABELS, SHOWN)
    assert f.status == "accepted" and f.cause_outside is True and f.cause_start is None


@pytest.mark.parametrize("result, reason", [
    ([emo("joy"), para("1", 0, 5)], "paragraph 1 is not an earlier turn"),
    ([emo("joy"), para("7", 0, 5)], "paragraph 7 is not an earlier turn"),
    ([emo("joy"), para("0", 0, 5, end_index="1")], "inside one turn"),
    ([emo("joy"), para("x", 0, 5)], "inside one turn"),
    ([emo("joy"), para("0", 20, 500)], "outside turn 0"),
    ([emo("joy"), para("0", 0, 5, "Hello")], "does not match turn 0"),
    ([emo("joy"), para("0", 0, 5, "Shall"), span(2, 6)], "both given"),
    ([emo("joy"), OUTSIDE, span(2, 6)], "both given"),
    ([emo("joy"), {**OUTSIDE, "value": {"choices": ["elsewhere"]}}], "expected ['not in the conversation']"),
])
def test_invalid_dialogue_causes_are_rejected_with_a_reason(result, reason):
    f = parse_result(result, TEXT, LABELS, SHOWN)
    assert f.status == "rejected" and reason in (f.rejection_reason or ""), f.rejection_reason


def test_dialogue_controls_are_unknown_outside_a_dialogue_project():
    f = parse_result([emo("joy"), para("0", 9, 20)], TEXT, LABELS)
    assert f.status == "rejected" and "unknown control 'context_cause'" in (f.rejection_reason or "")
