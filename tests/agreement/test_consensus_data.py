"""consensus_dataset: consensus rules, thresholds, trusted annotators, corrected_from, and the gold slice."""

from __future__ import annotations

from annotator.agree.consensus_data import (
    MIN_WEIGHT,
    consensus_dataset,
    consensus_rules,
    in_gold_slice,
    reliability_weights,
)
from annotator.agree.service import load_codings
from annotator.correct.annotations_import import import_annotations
from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.tables import Annotation, Project
from tests.agreement.conftest import make_project, simulate, write_jsonl


def test_consensus_recovers_gold_and_gold_slice_is_disjoint_and_stable(engine, tmp_path):
    sim = simulate(engine, tmp_path, settings={"gold_fraction": 0.25, "min_agreement": 0.0})
    data = consensus_dataset(engine, "sim")
    by_id = {v: k for k, v in sim["ids"].items()}
    train_ids = {i.item_id for i in data.train}
    gold_ids = {i.item_id for i in data.gold}
    assert not train_ids & gold_ids and len(train_ids | gold_ids) == 60
    assert 5 <= len(gold_ids) <= 25  # about a quarter of 60
    # alice and bob are the gold with 10% noise, carol is noise with a weight near the floor: wherever
    # alice and bob agree, the weighted majority is their answer.
    for item in data.train + data.gold:
        assert item.n_annotations == 3 and 0 <= item.agreement <= 1
        if item.cause is not None:
            assert item.text[item.cause[0]:item.cause[1]] in ("the train was late", "the train")
    with session_scope(engine) as db:
        said = {(a.item_id, a.annotator): frozenset(a.emotions) for a in db.query(Annotation)}
    both_right = [i for i in data.train + data.gold
                  if said[(i.item_id, "alice")] == said[(i.item_id, "bob")]
                  == frozenset(sim["gold"][by_id[i.item_id]]["emotions"])]
    assert len(both_right) >= 40
    assert all(i.emotions == said[(i.item_id, "alice")] for i in both_right)
    # Same data, same split and hash; the slice depends on the text only.
    again = consensus_dataset(engine, "sim")
    assert again.data_hash == data.data_hash and [i.item_id for i in again.gold] == [i.item_id for i in data.gold]
    assert all(in_gold_slice(content_hash(i.text), 0.25) for i in data.gold)
    # A larger fraction keeps every old gold item in gold (a nested slice) and changes the hash.
    with session_scope(engine) as db:
        project = db.query(Project).filter_by(name="sim").one()
        project.settings = {**project.settings, "gold_fraction": 0.5}
    bigger = consensus_dataset(engine, "sim")
    assert gold_ids <= {i.item_id for i in bigger.gold} and bigger.data_hash != data.data_hash


def test_corrected_from_is_the_labelers_answer_where_it_differs(engine, tmp_path):
    sim = simulate(engine, tmp_path, settings={"gold_fraction": 0.0, "min_agreement": 0.0})
    data = consensus_dataset(engine, "sim")
    by_id = {v: k for k, v in sim["ids"].items()}
    assert data.gold == []
    for item in data.train:
        n = int(by_id[item.item_id][1:])
        wrong = n % 3 == 0 and "surprise" not in sim["gold"][by_id[item.item_id]]["emotions"]
        if item.corrected_from is not None:
            assert item.corrected_from["adapter_version"] == "v1"
            assert (frozenset(item.corrected_from["emotions"]), tuple(item.corrected_from["cause"])) != \
                (item.emotions, item.cause)
        elif wrong:
            raise AssertionError(f"item {n}: the labeler said surprise, the consensus {item.emotions}")
    assert sum(i.corrected_from is not None for i in data.train) >= 15


def test_thresholds_and_trusted_single_annotator(engine, tmp_path, monkeypatch):
    texts = {"a": "one text here", "b": "another text there", "c": "a third text", "d": "fourth and last"}
    make_project(engine, "p", texts, settings={"gold_fraction": 0.0})
    lines = [
        {"id": "a", "annotator": "x", "emotions": ["joy"], "intensity": 0.2},
        {"id": "a", "annotator": "y", "emotions": ["joy"], "intensity": 0.4},
        {"id": "a", "annotator": "z", "emotions": ["joy"], "intensity": 0.9},
        {"id": "b", "annotator": "x", "emotions": ["joy"]},
        {"id": "b", "annotator": "y", "emotions": ["fear"]},  # agreement 0: below the threshold
        {"id": "c", "annotator": "lead", "emotions": ["sadness"]},  # one trusted annotation
        {"id": "d", "annotator": "x", "emotions": ["anger"]},  # one untrusted annotation
    ]
    import_annotations(engine, "p", str(write_jsonl(tmp_path / "a.jsonl", lines)))
    data = consensus_dataset(engine, "p")
    assert [(i.emotions, round(i.intensity, 6), i.n_annotations, i.agreement) for i in data.train] == [
        (frozenset({"joy"}), 0.5, 3, 1.0)]
    with session_scope(engine) as db:
        project = db.query(Project).filter_by(name="p").one()
        project.settings = {**project.settings, "allow_trusted_single": True, "trusted_annotators": ["lead"],
                            "intensity_method": "median", "min_agreement": 0.0}
    data = consensus_dataset(engine, "p")
    got = {i.text: i for i in data.train}
    assert set(got) == {texts["a"], texts["b"], texts["c"]}
    assert got[texts["a"]].intensity == 0.4 and got[texts["c"]].emotions == frozenset({"sadness"})
    assert got[texts["b"]].emotions == frozenset({"fear", "joy"})  # a tie: each label has half the weight
    monkeypatch.setenv("ANNOTATOR_CONSENSUS_MIN_ANNOTATIONS", "1")
    from annotator.settings import get_settings

    get_settings.cache_clear()
    assert consensus_rules({}).min_annotations == 1
    assert {i.text for i in consensus_dataset(engine, "p").train} == set(texts.values())


def test_reliability_weights_put_the_random_annotator_near_the_floor(engine, tmp_path):
    simulate(engine, tmp_path)
    with session_scope(engine) as db:
        data = load_codings(db, db.query(Project).filter_by(name="sim").one(), with_labeler=False)
    weights = reliability_weights(data.humans, data.texts)
    # With three annotators the others' consensus of alice is bob plus carol's noise, so alice and bob
    # score modestly; carol, who agrees with no one, sits at the floor.
    assert weights["carol"] == MIN_WEIGHT < min(weights["alice"], weights["bob"]) <= 1.0
