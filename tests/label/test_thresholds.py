"""Decision thresholds: pure rules, and where a project's come from (its own, its adapter's, or 0.5)."""

from __future__ import annotations

import pytest

from annotator.db import session_scope
from annotator.label.thresholds import decided, decision_margin, decision_thresholds, threshold_of
from annotator.projects.service import create_project
from annotator.tables import Adapter
from annotator.taxonomy import custom_taxonomy

SCORES = {"joy": 0.30, "anger": 0.60, "fear": 0.05}


@pytest.mark.parametrize(("thresholds", "expected"), [
    (0.5, ["anger"]),
    ({"joy": 0.25, "anger": 0.7}, ["joy"]),  # fear: not in the mapping, so 0.5
    (0.0, ["anger", "fear", "joy"]),
])
def test_decided_uses_each_labels_threshold(thresholds, expected):
    assert decided(SCORES, thresholds) == expected
    assert threshold_of({"joy": 0.25}, "fear") == 0.5


def test_decision_margin_is_the_old_confidence_at_one_half_and_follows_the_thresholds():
    assert decision_margin(SCORES, 0.5) == pytest.approx(min(max(p, 1 - p) for p in SCORES.values()))
    assert decision_margin({"joy": 0.25}, {"joy": 0.25}) == pytest.approx(0.5)  # right at its threshold
    assert decision_margin({"joy": 1.0, "anger": 0.0}, {"joy": 0.1, "anger": 0.9}) == pytest.approx(1.0)
    assert decision_margin({}, 0.5) is None


def test_a_project_threshold_overrides_the_adapters_and_a_missing_head_falls_back(engine):
    labels = ("joy", "anger", "fear")
    with session_scope(engine) as db:
        own = create_project(db, "own", custom_taxonomy(list(labels)), settings={"emotion_threshold": 0.4})
        plain = create_project(db, "plain", custom_taxonomy(list(labels)))
        other = create_project(db, "other", custom_taxonomy(["joy", "sadness"]))
        db.add(Adapter(version="v1", base_model="b", path="p", readout="onepass.v1",
                       thresholds={"custom": {"joy": 0.2, "anger": 0.6, "fear": 0.3}}))
        db.flush()
        assert decision_thresholds(db, own)("v1") == 0.4
        assert decision_thresholds(db, plain)("v1") == {"joy": 0.2, "anger": 0.6, "fear": 0.3}
        assert decision_thresholds(db, plain)("unknown-version") == 0.5
        assert decision_thresholds(db, other)("v1") == 0.5  # no head with exactly these labels
