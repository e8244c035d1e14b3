"""Gold (honeypot) items: known answers imported, mixed into every annotator's review queue at the project's
rate whatever the overlap, and each annotator's answers scored against them (CLI and Agreement page)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator import repo
from annotator.cli.main import app
from annotator.correct import dashboard
from annotator.agree.gold import gold_scores, set_f1
from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.tables import Item, Prediction
from tests.ui.conftest import VERSION
from tests.ui.test_app import login


def _gold_file(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join((json.dumps(line) if not isinstance(line, str) else line) + "\n" for line in lines))
    return path


def _more_items(engine, n: int) -> list[int]:
    """n more predicted items in 'demo' (confidence 0.5), with external ids g0, g1, ..."""
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, "demo")
        items = [Item(project_id=project.id, external_id=f"g{k}", text=f"Gold text {k}: my cat is back home.",
                      content_hash=content_hash(f"Gold text {k}: my cat is back home.")) for k in range(n)]
        db.add_all(items)
        db.flush()
        db.add_all([Prediction(item_id=i.id, adapter_version=VERSION, confidence=0.5, intensity=0.5,
                               emotions={label: 0.1 for label in project.labels}) for i in items])
        return [i.id for i in items]


def test_gold_import_keeps_good_lines_and_says_why_bad_ones_failed(engine, seeded, runner, tmp_path):
    _more_items(engine, 2)
    path = _gold_file(tmp_path, [
        {"id": "g0", "emotions": ["joy"], "intensity": 0.8, "cause": "my cat is back home"},
        {"id": "g1", "emotions": ["joy", "surprise"]},
        {"id": "nope", "emotions": ["joy"]},
        {"id": "g1", "emotions": ["elation"]},
        "{not json",
    ])
    result = runner.invoke(app, ["gold", "import", str(path), "--project", "demo"])
    assert result.exit_code == 1, result.output
    assert "2 added" in result.output and "3 rejected" in result.output
    with session_scope(engine) as db:
        answers = repo.gold_answers(db, repo.get_project_or_raise(db, "demo").id)
    (g0, text0), (g1, _) = sorted(answers.values(), key=lambda a: a[0].item_id)
    assert g0.emotions == ["joy"] and g0.intensity == 0.8 and text0[g0.cause_start:g0.cause_end] == "my cat is back home"
    assert g1.emotions == ["joy", "surprise"] and g1.cause_start is None
    # importing again replaces an item's answer, it does not add a second one
    again = runner.invoke(app, ["gold", "import", str(_gold_file(tmp_path, [{"id": "g1", "emotions": ["fear"]}])),
                                "--project", "demo"])
    assert again.exit_code == 0 and "0 added, 1 updated" in again.output, again.output


def test_gold_items_are_mixed_into_every_queue_at_the_project_rate(engine, seeded, runner, tmp_path):
    gold_ids = _more_items(engine, 2)
    runner.invoke(app, ["gold", "import", str(_gold_file(tmp_path, [
        {"id": "g0", "emotions": ["joy"]}, {"id": "g1", "emotions": ["fear"]}])), "--project", "demo"])
    first, second, third = seeded.item_ids
    with session_scope(engine) as db:
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "gold_rate", lambda _: 0.5)
    with session_scope(engine) as db:
        queue = dashboard.review_queue(db, "demo", "alice", "confidence")
        # every 2nd item shown is gold; the regular items keep their confidence order
        assert [r.item_id for r in queue] == [second, gold_ids[0], third, gold_ids[1], first]
        assert [r.gold for r in queue] == [False, True, False, True, False]
        assert dashboard.review_waiting(db, "demo", "alice") == 5
        # overlap 1 does not keep a gold item from a second person: everyone answers every gold item
        dashboard.save_correction(db, "demo", gold_ids[0], "bob", ["joy"], None, None)
        assert gold_ids[0] in [r.item_id for r in dashboard.review_queue(db, "demo", "alice", "confidence")]
        assert gold_ids[0] not in [r.item_id for r in dashboard.review_queue(db, "demo", "bob", "confidence")]
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "gold_rate", lambda _: 0.0)
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "carol", "confidence")] == [second, third, first]


def test_each_annotator_is_scored_on_the_gold_items_they_answered(engine, seeded, runner, tmp_path):
    gold_ids = _more_items(engine, 2)
    runner.invoke(app, ["gold", "import", str(_gold_file(tmp_path, [
        {"id": "g0", "emotions": ["joy"], "intensity": 0.8, "cause": "my cat is back home"},
        {"id": "g1", "emotions": ["fear", "sadness"], "intensity": 0.4}])), "--project", "demo"])
    text = "Gold text 0: my cat is back home."
    at = text.index("my cat is back home")
    with session_scope(engine) as db:
        dashboard.save_correction(db, "demo", gold_ids[0], "alice", ["joy"], 0.7, (at, at + 19))
        dashboard.save_correction(db, "demo", gold_ids[1], "alice", ["fear"], 0.4, None)
        dashboard.save_correction(db, "demo", gold_ids[0], "bob", ["anger"], 0.2, (0, 4))
        dashboard.save_correction(db, "demo", seeded.item_ids[0], "bob", ["joy"], 0.2, None)  # not gold: not scored
        scores = {s.annotator: s for s in gold_scores(db, "demo")}
    alice, bob = scores["alice"], scores["bob"]
    assert alice.n_items == 2 and alice.emotion_f1 == pytest.approx((1.0 + set_f1({"fear"}, {"fear", "sadness"})) / 2)
    assert alice.intensity_mae == pytest.approx(0.05) and alice.cause_f1 == pytest.approx(1.0)
    assert bob.n_items == 1 and bob.emotion_f1 == 0.0 and bob.intensity_mae == pytest.approx(0.6)
    assert bob.cause_f1 == pytest.approx(0.0)
    out = runner.invoke(app, ["gold", "scores", "--project", "demo", "--json"])
    assert out.exit_code == 0 and [json.loads(line)["annotator"] for line in out.output.splitlines()] == ["alice", "bob"]

    at_page = login("alice")
    at_page.switch_page("views/agreement.py").run()
    assert not at_page.exception, at_page.exception
    table = at_page.dataframe[0].value
    assert table["annotator"].tolist() == ["alice", "bob"] and table["gold items"].tolist() == [2, 1]


def test_set_f1():
    assert set_f1(set(), set()) == 1.0 and set_f1({"joy"}, set()) == 0.0 and set_f1({"a", "b"}, {"a"}) == pytest.approx(2 / 3)


def test_the_gold_rule_leaves_a_careless_annotator_out_of_consensus_and_says_so(engine, seeded, runner, tmp_path):
    """Three gold items: alice answers them right, mallory wrong. With gold_min_f1 0.5 mallory's annotations
    no longer make consensus (her vote against alice's on a regular item is gone), and the dataset says so."""
    from annotator.agree.consensus_data import consensus_dataset

    gold_ids = _more_items(engine, 3)
    runner.invoke(app, ["gold", "import", str(_gold_file(tmp_path, [
        {"id": f"g{k}", "emotions": ["joy"]} for k in range(3)])), "--project", "demo"])
    first = seeded.item_ids[0]
    with session_scope(engine) as db:
        for item in gold_ids:
            dashboard.save_correction(db, "demo", item, "alice", ["joy"], None, None)
            dashboard.save_correction(db, "demo", item, "mallory", ["anger"], None, None)
        for who, emotions in (("alice", ["joy"]), ("bob", ["joy"]), ("mallory", ["anger"])):
            dashboard.save_correction(db, "demo", first, who, emotions, None, None)
        project = repo.get_project_or_raise(db, "demo")
        repo.change_project_setting(db, project, "gold_fraction", lambda _: 0.0)
        repo.change_project_setting(db, project, "min_agreement", lambda _: 0.9)
    before = consensus_dataset(engine, "demo")
    assert before.left_out == [] and first not in {i.item_id for i in before.train}  # mallory's vote disagrees
    with session_scope(engine) as db:
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "gold_min_f1", lambda _: 0.5)
    after = consensus_dataset(engine, "demo")
    assert after.left_out == ["mallory"] and after.rule["gold_min_f1"] == 0.5
    assert {i.item_id: i.emotions for i in after.train}[first] == {"joy"}
    assert after.data_hash != before.data_hash
