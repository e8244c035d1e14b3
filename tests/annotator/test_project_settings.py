"""Two writers of a project's settings at once (a Label Studio push and a promotion) both keep their change."""

from __future__ import annotations

from sqlalchemy.orm import Session

from annotator.correct.labelstudio.store import ls_settings, save_ls_settings
from annotator.db import session_scope
from annotator.label.adapters import HISTORY_KEY, promote_adapter
from annotator.projects.service import create_project
from annotator.repo import get_project_or_raise
from annotator.tables import Adapter
from annotator.taxonomy import get_taxonomy


def test_interleaved_writers_of_different_keys_both_land(engine):
    with session_scope(engine) as db:
        create_project(db, "p", get_taxonomy("ekman"))
        db.add(Adapter(version="v1", base_model="b", path="x"))
    push, promotion = Session(engine), Session(engine)
    try:
        stale_for_push = get_project_or_raise(push, "p")  # both read the settings before either writes
        stale_for_promotion = get_project_or_raise(promotion, "p")
        save_ls_settings(push, stale_for_push, project_id=7, url="http://ls")
        push.commit()
        promote_adapter(promotion, stale_for_promotion, "v1")
        promotion.commit()
    finally:
        push.close()
        promotion.close()
    with session_scope(engine) as db:
        project = get_project_or_raise(db, "p")
        assert ls_settings(project) == {"project_id": 7, "url": "http://ls"}
        assert project.settings[HISTORY_KEY] == ["v1"] and project.settings["overlap"] == 1
