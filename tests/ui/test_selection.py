"""What to label next: the selector's signals, its batch choice, and its use by the dashboard queue and the
Label Studio push plan."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from annotator import repo
from annotator.correct import dashboard
from annotator.correct.labelstudio import store
from annotator.correct.selection import (
    Candidate,
    Weights,
    choose,
    label_error_rates,
    label_rarity,
    uncertainty,
)
from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.label.predictions import pack_embedding, unpack_embedding
from annotator.projects.service import create_project
from annotator.tables import Item, Prediction
from annotator.taxonomy import get_taxonomy

LABELS = ["joy", "anger", "fear"]
HALF = dict.fromkeys(LABELS, 0.5)


@pytest.mark.parametrize(("probs", "thresholds", "expected"), [
    ({"joy": 0.5, "anger": 0.0}, HALF, 1.0),  # a label exactly on its threshold
    ({"joy": 1.0, "anger": 0.0}, HALF, 0.0),  # every label as sure as it can be
    ({"joy": 0.25}, HALF, 0.5),
    ({"joy": 0.2}, {"joy": 0.2}, 1.0),  # a tuned threshold moves the doubt with it
    ({"joy": 0.6}, {"joy": 0.2}, 0.5),  # 0.4 above 0.2, out of 0.8 of room
])
def test_uncertainty_is_the_doubt_of_the_label_nearest_its_threshold(probs, thresholds, expected):
    assert uncertainty(probs, thresholds) == pytest.approx(expected)


def test_error_rates_and_rarity_follow_what_people_did():
    # joy: proposed 3 times, people kept it twice and added it once more -> 1 - 2/4; anger: always right;
    # fear: nobody used it -> the mean of the others
    pairs = [({"joy"}, {"joy"}), ({"joy"}, {"joy"}), ({"joy", "anger"}, {"anger"}), (set(), {"joy"})]
    rates = label_error_rates(pairs, LABELS)
    assert rates["joy"] == pytest.approx(0.5) and rates["anger"] == pytest.approx(0.0)
    assert rates["fear"] == pytest.approx(0.25)
    assert label_error_rates([], LABELS) == dict.fromkeys(LABELS, 0.5)
    rarity = label_rarity({"joy": 3, "anger": 0}, LABELS)
    assert rarity == pytest.approx({"joy": 0.5, "anger": 1.0, "fear": 1.0})


def test_rare_labels_and_disputed_labels_go_first():
    sure_joy = Candidate(1, {"joy": 0.95, "anger": 0.01, "fear": 0.01})
    sure_fear = Candidate(2, {"joy": 0.01, "anger": 0.01, "fear": 0.95})
    rarity = label_rarity({"joy": 500, "anger": 40, "fear": 0}, LABELS)
    flat = dict.fromkeys(LABELS, 0.0)
    assert choose([sure_joy, sure_fear], 1, HALF, flat, rarity) == [2]  # nobody has labelled fear yet
    disputed = {"joy": 0.9, "anger": 0.0, "fear": 0.0}
    same = dict.fromkeys(LABELS, 0.0)
    assert choose([sure_joy, sure_fear], 1, HALF, disputed, same) == [1]  # people keep correcting joy


def test_a_batch_spreads_over_what_the_items_say():
    rng = np.random.default_rng(0)
    complaint, praise = rng.normal(size=64), rng.normal(size=64)
    # ten near-copies of one complaint, slightly more doubtful than five different texts
    copies = [Candidate(i, {"anger": 0.45}, complaint + 0.01 * rng.normal(size=64)) for i in range(10)]
    others = [Candidate(100 + i, {"anger": 0.4}, v) for i, v in enumerate([praise, *rng.normal(size=(4, 64))])]
    flat = dict.fromkeys(LABELS, 0.0)
    picked = choose(copies + others, 5, HALF, flat, flat)
    assert sum(key < 100 for key in picked) == 1 and len(set(picked)) == 5
    no_spread = choose(copies + others, 5, HALF, flat, flat, Weights(diversity=0.0))
    assert all(key < 100 for key in no_spread)
    # candidates without an embedding are chosen on their score alone
    plain = [Candidate(i, {"anger": 0.45 - i / 100}) for i in range(6)]
    assert choose(plain, 3, HALF, flat, flat) == [0, 1, 2]
    assert choose([], 3, HALF, flat, flat) == [] and choose(plain, 0, HALF, flat, flat) == []


def test_embeddings_round_trip_as_float16():
    vector = np.linspace(-3, 3, 64)
    blob = pack_embedding(vector)
    assert len(blob) == 128 and unpack_embedding(None) is None
    np.testing.assert_allclose(unpack_embedding(blob), vector, atol=2e-3)


def _diverse_project(engine) -> tuple[list[int], list[int]]:
    """A GoEmotions project: six near-copies of one text and four different ones, all equally doubtful."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=64)
    copies, different = [], []
    with session_scope(engine) as db:
        project = create_project(db, "pick", get_taxonomy("goemotions"))
        for n in range(10):
            text = f"text number {n}"
            item = Item(project_id=project.id, text=text, content_hash=content_hash(text))
            db.add(item)
            db.flush()
            vector = base + 0.01 * rng.normal(size=64) if n < 6 else rng.normal(size=64)
            emotions = {label: 0.02 for label in project.labels} | {"annoyance": 0.45}
            db.add(Prediction(item_id=item.id, adapter_version="v1", emotions=emotions, confidence=0.1,
                              embedding=pack_embedding(vector)))
            (copies if n < 6 else different).append(item.id)
    return copies, different


def test_the_dashboard_queue_and_the_label_studio_plan_use_the_selector(engine):
    copies, different = _diverse_project(engine)
    with session_scope(engine) as db:
        queue = dashboard.review_queue(db, "pick", "alice", "selected", limit=5)
        assert len({r.item_id for r in queue} & set(copies)) == 1  # one of the copies, the rest spread
        assert dashboard.review_waiting(db, "pick", "alice", "selected") == 10
        by_confidence = dashboard.review_queue(db, "pick", "alice", "confidence", limit=5)
        assert [r.item_id for r in by_confidence] == copies[:5]  # equal confidence: id order, all copies
        project = repo.get_project_or_raise(db, "pick")
        plan = store.plan_push(db, project, ls_project_id=1, order="selected", limit=5)
        assert len({r.item_id for r in plan} & set(copies)) == 1 and len(plan) == 5
        everything = store.plan_push(db, project, ls_project_id=1, order="selected", limit=None)
        assert sorted(r.item_id for r in everything) == sorted(copies + different)
    with session_scope(engine) as db:  # what alice annotated leaves her queue; the others stay
        first = queue[0].item_id
        dashboard.save_correction(db, "pick", first, "alice", ["annoyance"], 0.5, None)
        again = dashboard.review_queue(db, "pick", "alice", "selected", limit=10)
        assert first not in {r.item_id for r in again} and len(again) == 9


def test_the_batch_is_shared_among_labels_by_their_worth():
    # ten items leaning to each label, all equally doubtful; nobody has given joy yet
    candidates = [Candidate(10 * g + i, {label: (0.45 if label == own else 0.01) for label in LABELS})
                  for g, own in enumerate(LABELS) for i in range(10)]
    rarity = label_rarity({"joy": 0, "anger": 100, "fear": 100}, LABELS)
    flat = dict.fromkeys(LABELS, 0.0)
    picked = choose(candidates, 9, HALF, flat, rarity)
    per_label = {label: sum(key // 10 == g for key in picked) for g, label in enumerate(LABELS)}
    assert per_label["joy"] > per_label["anger"] >= 1 and per_label["fear"] >= 1 and len(set(picked)) == 9


def test_a_damaged_stored_prediction_does_not_stop_the_queue(engine):
    assert unpack_embedding(b"") is None and unpack_embedding(b"\x01" * 11) is None
    assert unpack_embedding(np.full(64, np.nan, dtype="<f2").tobytes()) is None
    copies, different = _diverse_project(engine)
    with session_scope(engine) as db:
        first, second = (db.get(Prediction, p) for p in db.scalars(
            select(Prediction.id).where(Prediction.item_id.in_(copies[:2]))))
        first.embedding = b"\x01" * 11
        second.emotions = {**second.emotions, "annoyance": None, "not-a-label": 0.49}
        dashboard.save_correction(db, "pick", different[0], "bob", ["annoyance"], 0.5, None, based_on_adapter="v1")
        dashboard.save_correction(db, "pick", copies[1], "bob", ["anger"], 0.5, None, based_on_adapter="v1")
    with session_scope(engine) as db:
        queue = dashboard.review_queue(db, "pick", "alice", "selected", limit=10)
        assert len(queue) == 8  # bob filled two of the ten (overlap 1)
        project = repo.get_project_or_raise(db, "pick")
        assert len(store.plan_push(db, project, ls_project_id=1, order="selected", limit=None)) == 10


def test_the_item_someone_has_open_stays_first_while_others_save(engine):
    copies, different = _diverse_project(engine)
    with session_scope(engine) as db:
        opened = dashboard.review_queue(db, "pick", "alice", "selected", limit=5)[0].item_id
        assert dashboard.claim(db, "pick", opened, "alice")
    for item in [i for i in copies + different if i != opened][:4]:
        with session_scope(engine) as db:  # bob's answers change the labeler's error rates and the rarities
            dashboard.save_correction(db, "pick", item, "bob", ["grief", "relief"], 0.5, None, based_on_adapter="v1")
        with session_scope(engine) as db:
            assert dashboard.review_queue(db, "pick", "alice", "selected", limit=5)[0].item_id == opened
