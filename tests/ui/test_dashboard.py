"""The dashboard's service functions: queue order, saving corrections, cause spans, distributions."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from annotator import repo
from annotator.correct import dashboard
from annotator.db import session_scope
from annotator.repo import NotFound
from annotator.settings import get_settings
from annotator.tables import AgreementReport, Annotation, ItemClaim
from tests.ui.conftest import ITEMS, VERSION
from ui.render import highlight_html


def test_queue_orders_by_confidence_and_drops_what_i_annotated(engine, seeded):
    first, second, third = seeded.item_ids
    with session_scope(engine) as db:
        queue = dashboard.review_queue(db, "demo", "alice", "confidence")
        assert [r.item_id for r in queue] == [second, third, first]  # confidence 0.2, 0.6, 0.9
        top = queue[0]
        assert top.adapter_version == VERSION and top.proposed == ["anger"]
        assert list(top.probabilities)[:2] == ["anger", "sadness"]
        assert ITEMS[1][0][top.cause_start:top.cause_end] == "The train was cancelled again"
        dashboard.save_correction(db, "demo", second, "alice", ["anger"], 0.7, None)
    with session_scope(engine) as db:
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "alice", "confidence")] == [third, first]
        # overlap 1 (the default): alice's annotation filled the item's one slot, so bob no longer gets it
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "bob", "confidence")] == [third, first]
        assert len(dashboard.review_queue(db, "demo", "alice", "confidence", limit=1)) == 1
        repo.change_project_setting(db, repo.get_project_or_raise(db, "demo"), "overlap", lambda _: 2)
    with session_scope(engine) as db:  # overlap 2: it needs one more person
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "bob", "confidence")] == [second, third, first]


def test_an_item_shown_to_one_annotator_holds_its_slot_until_saved_skipped_or_expired(engine, seeded, monkeypatch):
    first, second, third = seeded.item_ids
    with session_scope(engine) as db:
        assert dashboard.claim(db, "demo", second, "alice")
        assert dashboard.claim(db, "demo", second, "alice")  # renewing one's own claim
        assert not dashboard.claim(db, "demo", second, "bob")  # overlap 1: the slot is alice's
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "bob", "confidence")] == [third, first]
        assert dashboard.review_waiting(db, "demo", "bob") == 2
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "alice", "confidence")] == [second, third, first]
        dashboard.release(db, second, "alice")  # alice skipped it
        assert dashboard.claim(db, "demo", second, "bob")
        dashboard.save_correction(db, "demo", second, "bob", ["anger"], 0.5, None)
        assert not db.scalars(select(ItemClaim)).all()  # the annotation holds the slot now
        assert not dashboard.claim(db, "demo", second, "alice")
        # a claim that has expired frees its slot
        monkeypatch.setenv("ANNOTATOR_CLAIM_MINUTES", "0.0001")
        get_settings.cache_clear()
        assert dashboard.claim(db, "demo", third, "carol")
    time.sleep(0.05)
    with session_scope(engine) as db:
        assert dashboard.claim(db, "demo", third, "dave")
    get_settings.cache_clear()


def test_queue_by_disagreement(engine, seeded):
    first, second, third = seeded.item_ids
    with session_scope(engine) as db:
        # item 1: bob agrees with the labeler (joy); item 3: bob and carol disagree with each other and it.
        dashboard.save_correction(db, "demo", first, "bob", ["joy"], 0.8, None)
        dashboard.save_correction(db, "demo", third, "bob", ["sadness"], 0.3, None)
        dashboard.save_correction(db, "demo", third, "carol", ["joy", "surprise"], 0.3, None)
    with session_scope(engine) as db:
        queue = dashboard.review_queue(db, "demo", "alice", order="disagreement")
        assert [r.item_id for r in queue] == [third, first]
        assert queue[0].disagreement == pytest.approx(1.0) and queue[1].disagreement == 0.0
        assert {o["annotator"] for o in queue[0].other_annotations} == {"bob", "carol"}
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "carol", order="disagreement")] == [first]
        with pytest.raises(ValueError, match="unknown order"):
            dashboard.review_queue(db, "demo", "alice", order="random")


@pytest.mark.parametrize(("label_sets", "expected"), [
    ([], 0.0), ([{"joy"}], 0.0), ([{"joy"}, {"joy"}], 0.0), ([set(), set()], 0.0),
    # MASI, as agreement and consensus measure it: a subset agrees 1/2 x 2/3, so disagrees 2/3
    ([{"joy"}, {"anger"}], 1.0), ([{"joy", "anger"}, {"joy"}], 2 / 3), ([{"a"}, {"a"}, {"b"}], 1 - 1 / 3),
])
def test_disagreement(label_sets, expected):
    assert dashboard.disagreement(label_sets) == pytest.approx(expected)


@pytest.mark.parametrize(("phrase", "near", "expected"), [
    ("", None, None), ("  ", 3, None), ("the cat", None, (0, 7)), ("cat", None, (4, 7)),
    ("the cat", 20, (15, 22)), ("the cat", 9, (15, 22)), ("the cat", 7, (0, 7)),
])
def test_cause_span(phrase, near, expected):
    assert dashboard.cause_span("the cat sat on the cat", phrase, near) == expected


def test_cause_span_refuses_text_not_in_the_item():
    with pytest.raises(ValueError, match="not a part of the text"):
        dashboard.cause_span("the cat sat", "the dog")


def test_save_correction_upserts_and_validates(engine, seeded):
    item = seeded.item_ids[2]
    text = ITEMS[2][0]
    with session_scope(engine) as db:
        dashboard.save_correction(db, "demo", item, "alice", ["fear"], 0.4, (0, 3), based_on_adapter=VERSION,
                                  lead_time=4.2)
    with session_scope(engine) as db:
        dashboard.save_correction(db, "demo", item, "alice", ["surprise", "fear"], 0.9,
                                  dashboard.cause_span(text, "<b>tomorrow</b>"), based_on_adapter=VERSION)
    with session_scope(engine) as db:
        (ann,) = db.scalars(select(Annotation).where(Annotation.item_id == item)).all()
        assert (ann.annotator, ann.source, ann.status, ann.based_on_adapter) == ("alice", "dashboard", "accepted",
                                                                                 VERSION)
        assert ann.emotions == ["fear", "surprise"] and ann.intensity == 0.9  # taxonomy order
        assert ann.cause_text == "<b>tomorrow</b>" and text[ann.cause_start:ann.cause_end] == ann.cause_text
        for bad in (dict(emotions=["hope"]), dict(intensity=1.5), dict(cause=(5, 500)), dict(cause=(4, 4))):
            args = {"emotions": ["fear"], "intensity": 0.5, "cause": None, **bad}
            with pytest.raises(ValueError):
                dashboard.save_correction(db, "demo", item, "alice", args["emotions"], args["intensity"],
                                          args["cause"])
        with pytest.raises(NotFound):
            dashboard.save_correction(db, "demo", 10_000, "alice", [], 0.5, None)


def test_overview_and_label_distribution(engine, seeded):
    with session_scope(engine) as db:
        dashboard.save_correction(db, "demo", seeded.item_ids[0], "alice", ["joy", "surprise"], 0.8, None)
    with session_scope(engine) as db:
        assert dashboard.overview(db, "demo") == {"items": 3, "predicted": 3, "corrected": 1, "annotations": 1,
                                                  "labeler": VERSION, "labeler_status": "active"}
        rows = {(r["label"], r["source"]): r["items"] for r in dashboard.label_distribution(db, "demo")}
    # human: joy+surprise on item 1; model (threshold 0.5): anger on item 2, fear on item 3
    assert rows[("joy", "human")] == 1 and rows[("surprise", "human")] == 1
    assert rows[("anger", "model")] == 1 and rows[("fear", "model")] == 1 and rows[("joy", "model")] == 0
    assert sum(rows.values()) == 4 and len(rows) == 12  # 6 labels x 2 sources, zeros included


def test_agreement_history_and_latest(engine, seeded):
    with session_scope(engine) as db:
        pid = repo.get_project_or_raise(db, "demo").id
        for i, value in enumerate([0.4, 0.55]):
            db.add(AgreementReport(project_id=pid, field="intensity", coders="human-human", value=value,
                                   n_items=10 + i, n_coders=2))
        db.flush()
        history = dashboard.agreement_history(db, "demo")
    assert [r["value"] for r in history] == [0.4, 0.55]
    assert [r["value"] for r in dashboard.latest_agreement(history)] == [0.55]


def test_highlight_html_escapes_and_marks():
    html = highlight_html("a <b>x</b> & y", 2, 10)
    assert "<mark>&lt;b&gt;x&lt;/b&gt;</mark>" in html and "&amp; y" in html and "<b>" not in html
    assert "<mark>" not in highlight_html("abc", None, None) and "<mark>" not in highlight_html("abc", 2, 9)


def test_two_annotators_at_once_never_both_take_the_last_slot(engine, seeded):
    """Many rounds of two people claiming the same item at the same moment: exactly one gets it each time."""
    import threading

    from annotator.hashing import content_hash
    from annotator.tables import Item

    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, "demo")
        items = [Item(project_id=project.id, text=f"race {n}", content_hash=content_hash(f"race {n}"))
                 for n in range(15)]
        db.add_all(items)
        db.flush()
        ids = [i.id for i in items]
    for item_id in ids:
        barrier, won = threading.Barrier(2), []

        def take(name: str, item_id: int = item_id) -> None:
            barrier.wait()
            with session_scope(engine) as db:
                if dashboard.claim(db, "demo", item_id, name):
                    won.append(name)

        threads = [threading.Thread(target=take, args=(name,)) for name in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(won) == 1, (item_id, won)
    with session_scope(engine) as db:
        assert len(db.scalars(select(ItemClaim).where(ItemClaim.item_id.in_(ids))).all()) == len(ids)
