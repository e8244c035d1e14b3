"""Adjudication: disputed items go to reviewers, whose final label becomes the item's consensus and is
exported with its provenance; the page is for reviewers and admins."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotator import repo
from annotator.agree.consensus_data import consensus_dataset
from annotator.correct import dashboard
from annotator.correct.adjudication import adjudicate, adjudication_queue
from annotator.correct.users import add_user
from annotator.db import session_scope
from annotator.export import export
from annotator.tables import Adjudication

from tests.ui.test_app import login


def _dispute(engine, seeded) -> tuple[int, int]:
    """Item 1: bob and carol agree (joy). Item 3: bob says sadness, carol joy + surprise."""
    first, _, third = seeded.item_ids
    with session_scope(engine) as db:
        for who in ("bob", "carol"):
            dashboard.save_correction(db, "demo", first, who, ["joy"], 0.8, None)
        dashboard.save_correction(db, "demo", third, "bob", ["sadness"], 0.3, None)
        dashboard.save_correction(db, "demo", third, "carol", ["joy", "surprise"], 0.5, None)
        project = repo.get_project_or_raise(db, "demo")
        repo.change_project_setting(db, project, "gold_fraction", lambda _: 0.0)
    return first, third


def test_only_disputed_items_are_queued_and_the_reviewers_label_becomes_the_consensus(engine, seeded, tmp_path):
    first, third = _dispute(engine, seeded)
    with session_scope(engine) as db:
        (disputed,) = adjudication_queue(db, "demo")
        assert disputed.item_id == third and disputed.disagreement == pytest.approx(1.0)
        assert [a["coder"] for a in disputed.answers] == ["bob", "carol", "labeler"]
        assert disputed.answers[-1]["emotions"] == ["fear"]  # the labeler's decided answer (fear 0.6)
    assert third not in {i.item_id for i in consensus_dataset(engine, "demo").train}  # no agreement: no data

    with session_scope(engine) as db:
        with pytest.raises(ValueError, match="not in the project's taxonomy"):
            adjudicate(db, "demo", third, "rita", ["elation"], None, None)
        with pytest.raises(ValueError, match="outside the text"):
            adjudicate(db, "demo", third, "rita", ["joy"], None, (0, 999))
        with pytest.raises(ValueError, match="no annotation"):
            adjudicate(db, "demo", seeded.item_ids[1], "rita", ["joy"], None, None)
        adjudicate(db, "demo", third, "rita", ["surprise"], 0.4, None)
        assert adjudication_queue(db, "demo") == []
    data = consensus_dataset(engine, "demo")
    settled = {i.item_id: i for i in data.train}[third]
    assert settled.emotions == {"surprise"} and settled.adjudicated_by == "rita" and settled.intensity == 0.4
    assert {i.item_id: i.adjudicated_by for i in data.train}[first] is None

    out = tmp_path / "out.jsonl"
    export(engine, "demo", "jsonl", out)
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert (rows[third]["label_source"], rows[third]["emotions"], rows[third]["adjudicated_by"]) == (
        "adjudicated", ["surprise"], "rita")
    assert rows[third]["annotators"] == ["bob", "carol"]
    assert rows[first]["label_source"] == "human" and rows[first]["adjudicated_by"] is None


def test_the_adjudication_page_is_for_reviewers_and_saves_the_final_label(engine, seeded):
    _, third = _dispute(engine, seeded)
    with session_scope(engine) as db:
        add_user(db, "rita", "rita-secret-1", "reviewer")
    at = login("alice")
    at.switch_page("views/adjudication.py").run()
    assert not at.exception and "for reviewers and admins" in at.info[0].value

    at = login("rita", "rita-secret-1")
    at.switch_page("views/adjudication.py").run()
    assert not at.exception, at.exception
    assert f"item {third}" in at.caption[0].value
    table = at.dataframe[0].value
    assert table["who"].tolist() == ["bob", "carol", "labeler"]
    at.radio(key=f"adjudicate-from-{third}").set_value("carol").run()
    assert at.multiselect(key=f"adjudicate-emotions-{third}-carol").value == ["joy", "surprise"]
    (button,) = [b for b in at.button if b.label == "Save final label"]
    button.click().run()
    assert not at.exception and f"Item {third} settled." in at.success[0].value
    with session_scope(engine) as db:
        (row,) = db.scalars(select(Adjudication)).all()
    assert (row.item_id, row.reviewer, row.emotions, row.chosen_from) == (third, "rita", ["joy", "surprise"], "carol")
    assert row.annotators == ["bob", "carol"]
    assert "Nothing to adjudicate" in at.info[0].value


def test_a_dialogue_turn_is_adjudicated_below_its_context_with_a_cause_in_an_earlier_turn(engine, seeded, tmp_path):
    """Two annotators disagree on a reply and on where its cause is; the reviewer sees the turns before it,
    takes the cause one of them marked in the earlier turn, and that turn travels into consensus and export."""
    from tests.ui.conftest import seed_dialogue

    target = seed_dialogue(engine)  # turn 2 "Sounds like a good plan!" after "Shall we see a movie tomorrow?"
    with session_scope(engine) as db:
        dashboard.save_correction(db, "demo", target, "bob", ["joy"], 0.7, (9, 29), cause_turn=0)
        dashboard.save_correction(db, "demo", target, "carol", ["surprise"], 0.4, (0, 6))
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "gold_fraction", lambda _: 0.0)
        add_user(db, "rita", "rita-secret-1", "reviewer")
        (disputed,) = [q for q in adjudication_queue(db, "demo") if q.item_id == target]
        assert [t.text for t in disputed.context] == ["Shall we see a movie tomorrow?", "Or go bowling?"]
        assert disputed.answers[0]["cause"] == {"start": 9, "end": 29, "text": "see a movie tomorrow", "turn": 0,
                                                "outside": False}
        with pytest.raises(ValueError, match="not an earlier turn"):
            adjudicate(db, "demo", target, "rita", ["joy"], None, (0, 5), cause_turn=7)
    at = login("rita", "rita-secret-1")
    at.switch_page("views/adjudication.py").run()
    assert not at.exception, at.exception
    assert f"item {target}" in at.caption[0].value
    body = at.get("html")[0].proto.body
    assert body.index("Shall we see a movie tomorrow?") < body.index("Sounds like a good plan!")
    assert at.dataframe[0].value["cause"].tolist()[:2] == ["see a movie tomorrow (turn 0)", "Sounds"]
    at.radio(key=f"adjudicate-from-{target}").set_value("bob").run()
    assert at.text_input(key=f"adjudicate-cause-{target}-bob").value == "see a movie tomorrow"
    (button,) = [b for b in at.button if b.label == "Save final label"]
    button.click().run()
    assert not at.exception and f"Item {target} settled." in at.success[0].value
    with session_scope(engine) as db:
        (row,) = db.scalars(select(Adjudication)).all()
    assert (row.cause_turn, row.cause_start, row.cause_end, row.cause_text, row.chosen_from) == (
        0, 9, 29, "see a movie tomorrow", "bob")
    settled = {i.item_id: i for i in consensus_dataset(engine, "demo").train + consensus_dataset(engine, "demo").gold}
    assert (settled[target].cause, settled[target].cause_turn) == ((9, 29), 0)
    out = tmp_path / "out.jsonl"
    export(engine, "demo", "jsonl", out)
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows[target]["label_source"] == "adjudicated"
    assert rows[target]["cause"] == {"start": 9, "end": 29, "text": "see a movie tomorrow", "turn": 0, "outside": False}
