"""What push selects and in which order, and the annotation upsert, on SQLite and PostgreSQL (no server)."""

from __future__ import annotations

from sqlalchemy import select

from annotator import repo
from annotator.correct.labelstudio import store
from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.tables import Adapter, Annotation, Item, Prediction
from tests.labelstudio.helpers import seed

LS = 77  # a Label Studio project id


def _plan(engine, order="uncertainty", limit=None):
    with session_scope(engine) as db:
        return store.plan_push(db, repo.get_project_or_raise(db, "p"), LS, order, limit)


def test_plan_orders_and_limits(engine):
    ids = seed(engine, "p", 5)  # confidence falls with the id
    with session_scope(engine) as db:
        extra = Item(project_id=repo.get_project_or_raise(db, "p").id, text="no prediction",
                     content_hash=content_hash("no prediction"))
        db.add(extra)
    assert [r.item_id for r in _plan(engine)] == [*reversed(ids), extra.id]  # unpredicted last
    assert [r.item_id for r in _plan(engine, "id")] == [*ids, extra.id]
    assert sorted(r.item_id for r in _plan(engine, "random")) == sorted([*ids, extra.id])
    assert [r.item_id for r in _plan(engine, limit=2)] == list(reversed(ids))[:2]


def test_plan_skips_pushed_items_until_re_predicted(engine):
    ids = seed(engine, "p", 3)
    plan = _plan(engine)
    with session_scope(engine) as db:
        store.mark_pending(db, repo.get_project_or_raise(db, "p").id, LS, plan)
        store.confirm_tasks(db, LS, {r.item_id: 1000 + r.item_id for r in plan})
    assert _plan(engine) == []
    with session_scope(engine) as db:
        db.add(Prediction(item_id=ids[1], adapter_version="v2", emotions={"joy": 0.9}, confidence=0.3))
    (row,) = _plan(engine)
    assert (row.item_id, row.version, row.ls_task_id) == (ids[1], "v2", 1000 + ids[1])


def test_active_adapter_prediction_wins_over_newer_ones(engine):
    ids = seed(engine, "p", 2, version="v1")
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, "p")
        adapter = Adapter(version="v1", project_id=project.id, base_model="smollm2", path="adapters/v1")
        db.add(adapter)
        db.flush()
        project.active_adapter_id = adapter.id
        db.add(Prediction(item_id=ids[0], adapter_version="v9", emotions={"joy": 0.9}, confidence=0.01))
    assert {r.version for r in _plan(engine)} == {"v1"}


def test_upsert_annotations_by_item_and_annotator(engine):
    ids = seed(engine, "p", 1)

    def row(emotions, ref):
        return store.AnnotationRow(item_id=ids[0], annotator="a@x.org", emotions=emotions, intensity=0.5,
                                   cause_start=None, cause_end=None, cause_text=None, status="accepted",
                                   rejection_reason=None, lead_time=1.0, external_ref=ref, based_on_adapter="v1",
                                   created_at=None, updated_at=None)

    with session_scope(engine) as db:
        assert repo.upsert_annotations(db, [vars(row(["joy"], "1"))], "labelstudio") == (1, 0)
    with session_scope(engine) as db:
        assert repo.upsert_annotations(db, [vars(row(["anger"], "1"))], "labelstudio") == (0, 1)
    with session_scope(engine) as db:
        (a,) = db.scalars(select(Annotation)).all()
        assert (a.emotions, a.source, a.external_ref) == (["anger"], "labelstudio", "1")
