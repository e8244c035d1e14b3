"""Promotion and rollback of a project's adapters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator import repo
from annotator.db import session_scope
from annotator.label.adapters import active_adapter, list_adapters, promote_adapter, rollback
from annotator.projects.service import create_project
from annotator.repo import NotFound
from annotator.tables import Adapter
from annotator.taxonomy import get_taxonomy


def _setup(engine, versions):
    with session_scope(engine) as db:
        project = create_project(db, "p", get_taxonomy("ekman"))
        other = create_project(db, "other", get_taxonomy("ekman"))
        for v in versions:
            db.add(Adapter(version=v, project_id=project.id, base_model="smollm2", path=f"adapters/{v}"))
        db.add(Adapter(version="foreign", project_id=other.id, base_model="smollm2", path="adapters/foreign"))


def _state(engine):
    with session_scope(engine) as db:
        active = active_adapter(db, "p")
        return (active.version if active else None), {a.version: a.status for a in list_adapters(db, "p")}


def test_promote_then_roll_back_in_promotion_order(engine):
    _setup(engine, ["v1", "v2", "v3"])
    for version in ("v2", "v1", "v3"):  # promotion order differs from creation order
        with session_scope(engine) as db:
            promote_adapter(db, "p", version)
    assert _state(engine) == ("v3", {"v1": "retired", "v2": "retired", "v3": "active"})
    with session_scope(engine) as db:
        assert promote_adapter(db, "p", "v3").version == "v3"  # idempotent: no history entry added
        assert rollback(db, "p").version == "v1"
    assert _state(engine) == ("v1", {"v1": "active", "v2": "retired", "v3": "retired"})
    with session_scope(engine) as db:
        assert rollback(db, "p").version == "v2"
    with pytest.raises(ValueError, match="no earlier adapter"), session_scope(engine) as db:
        rollback(db, "p")
    assert _state(engine)[0] == "v2"


def test_promote_refuses_unknown_and_foreign_adapters(engine):
    _setup(engine, ["v1"])
    with pytest.raises(NotFound), session_scope(engine) as db:
        promote_adapter(db, "p", "v9")
    with pytest.raises(ValueError, match="another project"), session_scope(engine) as db:
        promote_adapter(db, "p", "foreign")
    assert _state(engine)[0] is None


def test_adapter_set_active_directly_joins_the_history(engine):
    _setup(engine, ["v1", "v2"])
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, "p")
        project.active_adapter_id = db.scalar(select(Adapter.id).where(Adapter.version == "v1"))
    with session_scope(engine) as db:
        promote_adapter(db, "p", "v2")
        assert rollback(db, "p").version == "v1"
