"""The promotion gate, retraining parameters, correction pairs and the beat schedule: pure logic, no model."""

from __future__ import annotations

import math

import pytest

from annotator.agree.consensus_data import ConsensusItem
from annotator.retrain.gate import GatePolicy, decide, improvement, lower_is_better
from annotator.retrain.job import correction_pairs, retrain_params
from annotator.retrain.schedule import CHECK_TASK, CRON_TASK, beat_schedule, parse_cron
from annotator.settings import get_settings

POLICY = GatePolicy(primary="emotion_macro_f1", margin=0.01, tolerance=0.02)


@pytest.mark.parametrize(
    ("candidate", "active", "promote", "why"),
    [
        ({"emotion_macro_f1": 0.50}, {"emotion_macro_f1": 0.45}, True, "promoted"),
        ({"emotion_macro_f1": 0.455}, {"emotion_macro_f1": 0.45}, False, "less than the margin"),
        ({"emotion_macro_f1": 0.46}, {"emotion_macro_f1": 0.45}, True, "promoted"),  # exactly the margin
        ({"emotion_macro_f1": 0.40}, {"emotion_macro_f1": 0.45}, False, "less than the margin"),
        # the primary passes but another metric drops beyond the tolerance
        ({"emotion_macro_f1": 0.60, "cause_f1": 0.30}, {"emotion_macro_f1": 0.45, "cause_f1": 0.35}, False,
         "cause_f1 -0.0500"),
        # a drop within the tolerance is fine
        ({"emotion_macro_f1": 0.60, "cause_f1": 0.34}, {"emotion_macro_f1": 0.45, "cause_f1": 0.35}, True, "promoted"),
        # an error metric going up is a drop
        ({"emotion_macro_f1": 0.60, "intensity_mae": 0.30}, {"emotion_macro_f1": 0.45, "intensity_mae": 0.20},
         False, "intensity_mae -0.1000"),
        ({"emotion_macro_f1": 0.60, "intensity_mae": 0.10}, {"emotion_macro_f1": 0.45, "intensity_mae": 0.20},
         True, "promoted"),
        # missing or non-finite metrics are not compared; a missing primary refuses
        ({"emotion_macro_f1": 0.60, "alpha_emotions": math.nan}, {"emotion_macro_f1": 0.45, "alpha_emotions": 0.9},
         True, "promoted"),
        ({"cause_f1": 0.9}, {"emotion_macro_f1": 0.45, "cause_f1": 0.1}, False, "missing"),
    ],
)
def test_gate(candidate, active, promote, why) -> None:
    decision = decide(candidate, active, POLICY)
    assert decision.promote is promote
    assert why in decision.reason
    assert decision.reason.startswith("promoted" if promote else "refused")


def test_gate_records_signed_improvements_and_skips() -> None:
    decision = decide({"emotion_macro_f1": 0.5, "intensity_mae": 0.1, "x": None},
                      {"emotion_macro_f1": 0.4, "intensity_mae": 0.3}, POLICY)
    assert decision.improvements == pytest.approx({"emotion_macro_f1": 0.1, "intensity_mae": 0.2})
    assert decision.skipped == ["x"]
    assert lower_is_better("intensity_mae") and not lower_is_better("cause_f1")
    assert improvement("eval_loss", 1.0, 2.0) == 1.0
    # a negative margin lets a slightly worse candidate through (used to force a promotion)
    assert decide({"emotion_macro_f1": 0.44}, {"emotion_macro_f1": 0.45}, GatePolicy(margin=-0.05)).promote


def test_params_come_from_settings_and_job_overrides(monkeypatch) -> None:
    monkeypatch.setenv("ANNOTATOR_RETRAIN_MARGIN", "0.05")
    monkeypatch.setenv("ANNOTATOR_RETRAIN_SFT_STEPS", "7")
    get_settings.cache_clear()
    params = retrain_params({"sft_steps": 3})
    assert params.margin == 0.05 and params.sft_steps == 3 and params.policy().margin == 0.05
    with pytest.raises(ValueError, match="unknown retraining parameter"):
        retrain_params({"steps": 3})
    with pytest.raises(ValueError):
        retrain_params({"batch_size": 0})


def _item(emotions, corrected, cause=None, text="They cancelled my flight, I'm furious.") -> ConsensusItem:
    return ConsensusItem(item_id=1, text=text, emotions=frozenset(emotions), intensity=0.7, cause=cause,
                         agreement=1.0, n_annotations=3, corrected_from=corrected)


def test_correction_pairs_follow_empo() -> None:
    wrong = {"adapter_version": "v1", "emotions": ["joy"], "intensity": 0.2, "cause": None}
    items = [
        _item({"anger"}, wrong, cause=(0, 24)),                      # wrong emotion: a pair
        _item({"anger"}, None),                                      # not corrected: no pair
        _item({"anger"}, {**wrong, "emotions": ["anger"]}, cause=(0, 24)),  # only the cause differed: no pair
    ]
    pairs = correction_pairs(items)
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair.chosen.emotions == frozenset({"anger"}) and pair.rejected.emotions == frozenset({"joy"})
    assert pair.chosen.cause == (0, 24) and pair.rejected.cause == (0, 0)  # the labeler's "none"
    assert pair.rejected.intensity == 0.2 and pair.chosen.text == pair.rejected.text
    # where the consensus has no cause, the labeler's cause is no preference either
    assert correction_pairs([_item({"anger"}, {**wrong, "cause": [0, 4]})])[0].rejected.cause is None


def test_beat_schedule_from_settings(monkeypatch) -> None:
    assert beat_schedule(get_settings()) == {}
    monkeypatch.setenv("ANNOTATOR_RETRAIN_CRON", "30 3 * * 0")
    monkeypatch.setenv("ANNOTATOR_RETRAIN_AFTER_NEW_ITEMS", "500")
    monkeypatch.setenv("ANNOTATOR_RETRAIN_CHECK_EVERY_S", "60")
    get_settings.cache_clear()
    schedule = beat_schedule(get_settings())
    cron = schedule["retrain-cron"]
    assert cron["task"] == CRON_TASK and cron["options"] == {"queue": "train"}
    assert cron["schedule"].minute == {30} and cron["schedule"].hour == {3} and cron["schedule"].day_of_week == {0}
    check = schedule["retrain-after-new-items"]
    assert check["task"] == CHECK_TASK and check["schedule"] == 60.0
    with pytest.raises(ValueError, match="5 fields"):
        parse_cron("0 3 * *")
