"""Metric functions: perfect predictions score 1 (or 0 error), known cases give known numbers."""

from __future__ import annotations

import pytest

from models.prediction import Prediction
from models.tasks.base import Example
from models.training.metrics import (
    all_metrics,
    expected_calibration_error,
    pearson,
    token_f1,
)

LABELS = ("joy", "anger", "fear")
TEXT = "I love my new bike"


def _pred(emotions: dict[str, float], intensity: float | None = None, cause=None) -> Prediction:
    return Prediction(emotions=emotions, intensity=intensity, cause=cause, adapter_version="t")


GOLD = [
    Example(TEXT, frozenset({"joy"}), 0.8, (7, 18)),
    Example("Get out, I hate you", frozenset({"anger"}), 0.9, (0, 0)),
    Example("Spiders scare me", frozenset({"fear", "anger"}), 0.3, (0, 7)),
]
PERFECT = [
    _pred({"joy": 1.0, "anger": 0.0, "fear": 0.0}, 0.8, (7, 18, TEXT[7:18])),
    _pred({"joy": 0.0, "anger": 1.0, "fear": 0.0}, 0.9, None),
    _pred({"joy": 0.0, "anger": 1.0, "fear": 1.0}, 0.3, (0, 7, "Spiders")),
]


def test_perfect_predictions_score_perfectly():
    m = all_metrics(GOLD, PERFECT, LABELS)
    for key in ("emotion_macro_f1", "emotion_micro_f1", "emotion_jaccard", "intensity_pearson",
                "cause_token_f1", "cause_exact", "cause_f1"):
        assert m[key] == pytest.approx(1.0), key
    assert m["emotion_ece"] == pytest.approx(0.0) and m["intensity_mae"] == pytest.approx(0.0)


def test_wrong_predictions_score_zero():
    wrong = [_pred({"joy": 0.0, "anger": 1.0, "fear": 0.0}, 0.1, (0, 1, "I")),
             _pred({"joy": 1.0, "anger": 0.0, "fear": 0.0}, 0.5, (0, 3, "Get")),
             _pred({"joy": 1.0, "anger": 0.0, "fear": 0.0}, 0.9, None)]
    m = all_metrics(GOLD, wrong, LABELS)
    assert m["emotion_micro_f1"] == 0.0 and m["emotion_jaccard"] == 0.0
    assert m["cause_token_f1"] == 0.0 and m["cause_exact"] == 0.0
    # 7 of the 9 (item, label) probabilities are confidently wrong (0 or 1), the other 2 confidently right
    assert m["intensity_pearson"] < 0 and m["emotion_ece"] == pytest.approx(7 / 9)


def test_unannotated_fields_are_not_scored():
    gold = [Example("text one"), Example("text two", intensity=0.5)]
    m = all_metrics(gold, [_pred({}, 0.4), _pred({}, 0.6)], LABELS)
    assert m == {"intensity_mae": pytest.approx(0.1)}  # one intensity: no Pearson, no emotion or cause metric


def test_ece_and_pearson_known_values():
    # bin [0.8, 0.9): mean prob 0.8, half correct -> |0.5 - 0.8| = 0.3 over all 4 -> weighted 0.3
    assert expected_calibration_error([0.8, 0.8, 0.8, 0.8], [True, False, True, False]) == pytest.approx(0.3)
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [5, 5, 5]) == 0.0
    assert token_f1("the red bike", "red bike today") == pytest.approx(2 / 3)


def test_a_cause_in_an_earlier_turn_is_scored_against_that_turn_and_reported_apart():
    said = "Shall we see a movie tomorrow?"
    turns = {("c", 0): said, ("c", 1): "Sounds like a good plan", ("c", 2): "I lost my keys in the snow"}
    gold = [Example("Sounds like a good plan", cause=(15, 29), conversation="c", turn=1, cause_turn=0),
            Example("I lost my keys in the snow", cause=(2, 14), conversation="c", turn=2),
            Example("Okay", cause=(0, 0), conversation="c", turn=3)]
    right = [Prediction({}, None, (15, 29, said[15:29]), "t", cause_turn=0),
             Prediction({}, None, (2, 14, "lost my keys"), "t"), Prediction({}, None, None, "t")]
    m = all_metrics(gold, right, LABELS, turns=turns)
    assert m["cause_token_f1"] == m["cause_f1"] == m["cause_exact"] == 1.0
    assert m["cause_token_f1/earlier_turn"] == m["cause_token_f1/same_turn"] == m["cause_token_f1/none"] == 1.0
    assert (m["n_cause/earlier_turn"], m["n_cause/same_turn"], m["n_cause/none"]) == (1.0, 1.0, 1.0)
    # the same words in the wrong turn share nothing with the gold; "no cause" misses an earlier-turn cause
    wrong_turn = [Prediction({}, None, (15, 29, said[15:29]), "t"), right[1], right[2]]
    missed = [Prediction({}, None, None, "t"), right[1], right[2]]
    for predictions in (wrong_turn, missed):
        m = all_metrics(gold, predictions, LABELS, turns=turns)
        assert m["cause_token_f1/earlier_turn"] == 0.0 == m["cause_exact"] - 2 / 3
        assert m["cause_token_f1"] == pytest.approx(2 / 3)
    # without the conversations' texts, a cause in another turn cannot be scored and is left out
    assert all_metrics(gold, right, LABELS)["cause_token_f1"] == 1.0
