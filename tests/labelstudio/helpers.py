"""Seeding helpers for the Label Studio sync tests."""

from __future__ import annotations

from sqlalchemy import Engine

from annotator import repo
from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.projects.service import create_project
from annotator.tables import Item, Prediction
from annotator.taxonomy import get_taxonomy


def seed(engine: Engine, name: str, n: int, *, version: str = "emollm-v1", overlap: int = 2,
         first: int = 0) -> list[int]:
    """A project with the Ekman taxonomy and ``n`` items, each with a prediction of ``version``.

    Confidence falls with the item number, so uncertainty order is the reverse of id order.
    Returns the item ids.
    """
    labels = get_taxonomy("ekman").labels
    with session_scope(engine) as db:
        project = repo.find_project(db, name) or create_project(db, name, get_taxonomy("ekman"), {"overlap": overlap})
        items = []
        for i in range(first, first + n):
            text = f"Item {i}: my sister finally came home after a year away and I cried with relief."
            items.append(Item(project_id=project.id, external_id=f"utt-{i:05d}", text=text,
                              content_hash=content_hash(text)))
        db.add_all(items)
        db.flush()
        db.add_all([
            Prediction(item_id=item.id, adapter_version=version,
                       emotions={label: (0.9 if k == i % len(labels) else 0.1) for k, label in enumerate(labels)},
                       intensity=round((i % 10) / 10, 2), cause_start=8, cause_end=33,
                       cause_text=item.text[8:33], confidence=round(1.0 - i / (first + n + 1), 6))
            for i, item in zip(range(first, first + n), items)
        ])
        return [item.id for item in items]
