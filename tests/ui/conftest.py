"""A small project the dashboard tests share: items with predictions, an active adapter, two accounts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from annotator.correct.users import add_user
from annotator.db import session_scope
from annotator.hashing import content_hash, item_hash
from annotator.label.adapters import promote_adapter
from annotator.projects.service import create_project
from annotator.tables import Adapter, Item, Prediction
from annotator.taxonomy import get_taxonomy

UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
PASSWORDS = {"alice": "alice-secret-1", "root": "root-secret-1"}
VERSION = "ekman-v1"

# (text, probabilities of the labels over 0, intensity, cause phrase, confidence)
ITEMS = [
    ("I finally got the job and I can't stop smiling!", {"joy": 0.95}, 0.8, "I finally got the job", 0.9),
    ("The train was cancelled again, third time this week.", {"anger": 0.52, "sadness": 0.4}, 0.5,
     "The train was cancelled again", 0.2),
    ("Not sure how I feel about the move <b>tomorrow</b>.", {"fear": 0.6, "surprise": 0.3}, 0.4,
     "the move <b>tomorrow</b>", 0.6),
]


@dataclass
class Seeded:
    """Ids of what the fixture created."""

    project: str
    item_ids: list[int]  # in ITEMS order


def seed(engine: Engine) -> Seeded:
    """Create project 'demo' (Ekman), ITEMS with predictions by an active adapter, users alice and root."""
    with session_scope(engine) as db:
        project = create_project(db, "demo", get_taxonomy("ekman"))
        db.add(Adapter(version=VERSION, project_id=project.id, base_model="smollm2", path="adapters/ekman-v1",
                       metrics={"emotions_f1": 0.61, "intensity_mae": 0.18}))
        db.flush()
        promote_adapter(db, project, VERSION)
        ids = []
        for text, probs, intensity, cause, confidence in ITEMS:
            item = Item(project_id=project.id, text=text, content_hash=content_hash(text))
            db.add(item)
            db.flush()
            start = text.index(cause)
            emotions = {label: probs.get(label, 0.02) for label in project.labels}
            db.add(Prediction(item_id=item.id, adapter_version=VERSION, emotions=emotions, intensity=intensity,
                              cause_start=start, cause_end=start + len(cause), cause_text=cause,
                              confidence=confidence))
            ids.append(item.id)
        add_user(db, "alice", PASSWORDS["alice"], "annotator")
        add_user(db, "root", PASSWORDS["root"], "admin")
    return Seeded("demo", ids)


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    """The seeded project in the test's database (also the one ANNOTATOR_DATABASE_URL names)."""
    return seed(engine)


def seed_every_label(engine: Engine, name: str = "all-labels") -> list[str]:
    """A GoEmotions project with one item predicted as each of its 28 labels; returns the labels."""
    with session_scope(engine) as db:
        project = create_project(db, name, get_taxonomy("goemotions"))
        for n, label in enumerate(project.labels):
            text = f"Item {n} says {label}."
            item = Item(project_id=project.id, text=text, content_hash=content_hash(text))
            db.add(item)
            db.flush()
            db.add(Prediction(item_id=item.id, adapter_version=VERSION, confidence=0.5, intensity=0.5,
                              emotions={other: (0.9 if other == label else 0.01) for other in project.labels}))
        return list(project.labels)


def seed_consensus(engine: Engine, project: str = "demo") -> None:
    """Two annotators who agree on every item, and a gold fraction that puts some items in gold and some
    in training: a project the retraining preflight accepts."""
    from annotator import repo
    from annotator.agree.consensus_data import in_gold_slice

    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        items = db.query(Item).filter_by(project_id=proj.id).all()
        fraction = next(f for f in (0.5, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9)
                        if 0 < sum(in_gold_slice(i.content_hash, f) for i in items) < len(items))
        repo.upsert_annotations(db, [{"item_id": i.id, "annotator": who, "emotions": ["joy"], "intensity": 0.5}
                                     for i in items for who in ("alice", "root")], "dashboard")
        repo.change_project_setting(db, proj, "gold_fraction", lambda _: fraction)


def seed_dialogue(engine: Engine, cause: tuple[int, int, int] | None = None) -> int:
    """Three turns of a conversation in 'demo'; the last, predicted with the lowest confidence, is first in
    the queue (``cause``: its predicted cause as (turn, start, end), in an earlier turn). Returns its item id."""
    turns = [("Ann", "Shall we see a movie tomorrow?"), ("Bob", "Or go bowling?"), ("Ann", "Sounds like a good plan!")]
    from annotator import repo

    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, "demo")
        items = []
        for n, (who, text) in enumerate(turns):
            item = Item(project_id=project.id, external_id=f"c1#{n}", text=text, conversation_id="c1", turn=n,
                        speaker=who, content_hash=item_hash(text, "c1", n))
            db.add(item)
            items.append(item)
        db.flush()
        where = {} if cause is None else {"cause_turn": cause[0], "cause_start": cause[1], "cause_end": cause[2],
                                          "cause_text": turns[cause[0]][1][cause[1]:cause[2]]}
        db.add(Prediction(item_id=items[-1].id, adapter_version=VERSION, confidence=0.01, intensity=0.6,
                          emotions={label: (0.51 if label == "joy" else 0.02) for label in project.labels}, **where))
        return items[-1].id
