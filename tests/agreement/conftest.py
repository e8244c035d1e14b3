"""Helpers for the agreement tests: a project with items, and JSONL annotation files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from annotator.db import session_scope
from annotator.hashing import content_hash
from annotator.projects.service import create_project
from annotator.tables import Item
from annotator.taxonomy import Taxonomy, get_taxonomy


def make_project(engine: Engine, name: str, texts: dict[str, str], taxonomy: Taxonomy | None = None,
                 settings: dict[str, Any] | None = None) -> dict[str, int]:
    """A project with the given {external id: text} items; returns {external id: item id}."""
    with session_scope(engine) as db:
        project = create_project(db, name, taxonomy or get_taxonomy("ekman"), settings=settings)
        rows = [Item(project_id=project.id, external_id=ext, text=text, content_hash=content_hash(text))
                for ext, text in texts.items()]
        db.add_all(rows)
        db.flush()
        return {row.external_id: row.id for row in rows}


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Write rows (dicts, or raw bytes lines) as JSONL."""
    with open(path, "wb") as f:
        for row in rows:
            f.write(row if isinstance(row, bytes) else json.dumps(row).encode() + b"\n")
    return path


EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


def simulate(engine: Engine, tmp_path: Path, project: str = "sim", n_items: int = 60, seed: int = 0,
             settings: dict[str, Any] | None = None, shipped_default: bool = False) -> dict[str, Any]:
    """A project whose items a labeler 'v1' (active; or with ``shipped_default`` the shipped default, not
    promoted) predicted and three annotators corrected:
    alice and bob are the gold with a little noise, carol answers at random. Returns the gold labels by
    item id and the ids. Annotations go in through the import."""
    import random

    from annotator.correct.annotations_import import import_annotations
    from annotator.tables import Adapter, Prediction, Project

    rng = random.Random(seed)
    texts = {f"t{i}": f"Story {i}: the train was late and I missed work" for i in range(n_items)}
    ids = make_project(engine, project, texts, settings=settings)
    gold = {}
    for ext in texts:
        n = int(ext[1:])
        gold[ext] = {"emotions": sorted({EMOTIONS[n % 6], *([EMOTIONS[(n // 6) % 6]] if n % 4 == 0 else [])}),
                     "intensity": (n % 10) / 10, "cause": "the train was late"}
    lines = []
    for ext, g in gold.items():
        for name in ("alice", "bob", "carol"):
            if name == "carol":
                labels = sorted(rng.sample(EMOTIONS, rng.randint(1, 2)))
                row = {"emotions": labels, "intensity": rng.random(), "cause": "I missed work"}
            else:
                flip = rng.random() < 0.1
                labels = [EMOTIONS[(EMOTIONS.index(g["emotions"][0]) + 1) % 6]] if flip else g["emotions"]
                row = {"emotions": labels, "intensity": min(1.0, max(0.0, g["intensity"] + rng.uniform(-0.05, 0.05))),
                       "cause": g["cause"] if not flip else "the train"}
            lines.append({"id": ext, "annotator": name, "based_on_adapter": "v1", **row})
    import_annotations(engine, project, str(write_jsonl(tmp_path / f"{project}-ann.jsonl", lines)))
    with session_scope(engine) as db:
        proj = db.query(Project).filter_by(name=project).one()
        if shipped_default:  # the shipped default labeled it: a project-less row, never promoted
            db.add(Adapter(version="v1", project_id=None, base_model="smollm2", path="adapters/v1", status="default"))
        else:
            adapter = Adapter(version="v1", project_id=proj.id, base_model="smollm2", path="adapters/v1",
                              status="active")
            db.add(adapter)
            db.flush()
            proj.active_adapter_id = adapter.id
        for ext, g in gold.items():
            n = int(ext[1:])
            wrong = n % 3 == 0  # the labeler misses a third of the items
            predicted = {"surprise"} if wrong and "surprise" not in g["emotions"] else set(g["emotions"])
            text = texts[ext]
            start = text.index("the train was late")
            db.add(Prediction(item_id=ids[ext], adapter_version="v1",
                              emotions={e: (0.9 if e in predicted else 0.1) for e in EMOTIONS},
                              intensity=g["intensity"], cause_start=start, cause_end=start + 18,
                              cause_text=text[start:start + 18]))
    return {"gold": gold, "ids": ids, "texts": texts}
