"""What annotators did with the labeler's pre-labels: per label kept/added, time per item by situation,
computed from stored annotations and predictions, and shown on the Models page."""

from __future__ import annotations

import pytest

from annotator import repo
from annotator.agree.prelabel_value import prelabel_value
from annotator.db import session_scope
from tests.ui.conftest import VERSION
from tests.ui.test_app import login


def _annotate(engine, seeded) -> None:
    joy_item, train_item, move_item = seeded.item_ids  # proposed: joy / anger / fear (ITEMS)
    rows = [
        ("alice", joy_item, ["joy"], 4.0, VERSION),                # kept as proposed
        ("alice", train_item, ["anger", "sadness"], 10.0, VERSION),  # corrected: sadness added
        ("alice", move_item, ["fear"], 6.0, VERSION),              # kept as proposed
        ("root", train_item, ["anger"], None, VERSION),            # kept, not timed
        ("root", joy_item, ["surprise"], 20.0, None),              # labeled without a pre-label
    ]
    with session_scope(engine) as db:
        for who, item, emotions, lead, based_on in rows:
            repo.upsert_annotations(db, [{"item_id": item, "annotator": who, "emotions": emotions,
                                          "intensity": 0.5, "lead_time": lead, "based_on_adapter": based_on}],
                                    "dashboard")


def test_keep_rates_and_times_follow_the_stored_annotations(engine, seeded):
    _annotate(engine, seeded)
    with session_scope(engine) as db:
        value = prelabel_value(db, "demo")
    assert (value.on_prelabel, value.accepted) == (4, 3)
    by_label = {v.label: v for v in value.labels}
    assert (by_label["anger"].proposed, by_label["anger"].kept, by_label["anger"].keep_rate) == (2, 2, 1.0)
    assert (by_label["sadness"].proposed, by_label["sadness"].added, by_label["sadness"].keep_rate) == (0, 1, None)
    assert by_label["surprise"].added == 0  # root's surprise was not given on a pre-label
    times = {t.situation: t for t in value.times}
    assert (times["pre-label accepted"].annotations, times["pre-label accepted"].timed) == (3, 2)
    assert times["pre-label accepted"].median_seconds == pytest.approx(5.0)
    assert times["pre-label corrected"].median_seconds == pytest.approx(10.0)
    assert times["no pre-label"].median_seconds == pytest.approx(20.0)


def test_a_threshold_set_on_the_project_decides_what_was_proposed(engine, seeded):
    _annotate(engine, seeded)
    with session_scope(engine) as db:
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "emotion_threshold", lambda _: 0.9)
        value = prelabel_value(db, "demo")
    # at 0.9 only joy (0.95) is proposed: the anger and fear answers now add to an empty proposal
    assert value.accepted == 1
    assert {v.label: v.added for v in value.labels}["anger"] == 2


def test_the_models_page_shows_what_the_pre_labels_are_worth(engine, seeded):
    _annotate(engine, seeded)
    at = login("alice")
    at.switch_page("views/models.py").run()
    assert not at.exception, at.exception
    assert any("Of **4** annotations made on a pre-label, **3** (75%)" in m.value for m in at.markdown)
    _adapters, times, per_label = (d.value for d in at.dataframe)
    assert list(times["situation"]) == ["pre-label accepted", "pre-label corrected", "no pre-label"]
    assert list(times["median seconds per item"]) == [5.0, 10.0, 20.0]
    per_label = per_label.set_index("label")
    assert per_label.loc["sadness", "added by annotators"] == 1
    assert per_label.loc["anger", "keep rate"] == 1.0
    assert "disgust" not in per_label.index  # neither proposed nor added


def test_the_models_page_has_no_such_section_before_anyone_annotated_a_pre_label(seeded):
    at = login("alice")
    at.switch_page("views/models.py").run()
    assert not at.exception
    assert not any("pre-labels are worth" in h.value for h in at.subheader)
