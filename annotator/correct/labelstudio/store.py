"""The database side of the Label Studio sync: the item <-> task map, what to push, annotation upserts.

Kept beside the sync rather than in ``annotator/repo.py`` only while the parallel work lands; every
function takes a session (the caller owns the transaction).

Map rows (``labelstudio_tasks``) have two states: ``ls_task_id`` NULL = an import was started for
this item and its outcome is unknown (written and committed *before* the import is sent), set = the
task exists and carries the prediction ``prediction_version``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from annotator import repo
from annotator.correct.selection_data import MAX_CANDIDATES, selected_order
from annotator.tables import Adapter, Item, LabelStudioTask, Prediction, Project, utcnow

SETTINGS_KEY = "labelstudio"  # Project.settings["labelstudio"] = {"project_id": ..., "url": ...}


@dataclass(frozen=True)
class PushRow:
    """One item to send: a new task (``ls_task_id`` None) or a new prediction for an existing task."""

    item_id: int
    prediction_id: int | None
    version: str | None
    confidence: float | None
    ls_task_id: int | None


def ls_settings(project: Project) -> dict[str, Any]:
    """The project's Label Studio settings (empty when never pushed)."""
    return dict((project.settings or {}).get(SETTINGS_KEY) or {})


def save_ls_settings(db: Session, project: Project, **values: Any) -> None:
    """Merge ``values`` into Project.settings["labelstudio"], without losing another writer's change."""
    repo.change_project_setting(db, project, SETTINGS_KEY, lambda current: {**(current or {}), **values})


def project_for_ls_project(db: Session, ls_project_id: int) -> Project | None:
    """Our project whose Label Studio project id is ``ls_project_id``."""
    for project in db.scalars(select(Project)):
        if ls_settings(project).get("project_id") == ls_project_id:
            return project
    return None


def _current_prediction_ids(project: Project, active_version: str | None):  # noqa: ANN202 - a subquery
    """Per item of the project, the id of its current prediction: the active adapter's, else the newest."""
    newest = func.max(Prediction.id)
    chosen: ColumnElement[Any] = newest
    if active_version is not None:
        chosen = func.coalesce(func.max(case((Prediction.adapter_version == active_version, Prediction.id))), newest)
    return (
        select(Prediction.item_id.label("item_id"), chosen.label("prediction_id"))
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project.id)
        .group_by(Prediction.item_id)
        .subquery()
    )


def active_version(db: Session, project: Project) -> str | None:
    """The version of the project's active adapter, if one is set."""
    if project.active_adapter_id is None:
        return None
    return db.scalar(select(Adapter.version).where(Adapter.id == project.active_adapter_id))


def plan_push(db: Session, project: Project, ls_project_id: int, order: str, limit: int | None) -> list[PushRow]:
    """Items whose task is missing or whose current prediction differs from the one last sent.

    ``order``: 'selected' (:mod:`annotator.correct.selection`'s choice first, then by uncertainty),
    'uncertainty' (lowest confidence first; items without a prediction last), 'random' or 'id'.
    """
    current = _current_prediction_ids(project, active_version(db, project))
    mapped = LabelStudioTask.__table__.alias("m")
    stmt = (
        select(Item.id, Prediction.id, Prediction.adapter_version, Prediction.confidence, mapped.c.ls_task_id)
        .select_from(Item)
        .outerjoin(current, current.c.item_id == Item.id)
        .outerjoin(Prediction, Prediction.id == current.c.prediction_id)
        .outerjoin(mapped, and_(mapped.c.item_id == Item.id, mapped.c.ls_project_id == ls_project_id))
        .where(Item.project_id == project.id)
        .where(or_(
            mapped.c.id.is_(None),
            and_(Prediction.id.is_not(None),
                 or_(mapped.c.prediction_version.is_(None),
                     mapped.c.prediction_version != Prediction.adapter_version)),
        ))
    )
    if order in ("selected", "uncertainty"):
        stmt = stmt.order_by(Prediction.confidence.is_(None), Prediction.confidence, Item.id)
    elif order == "random":
        stmt = stmt.order_by(func.random())
    elif order == "id":
        stmt = stmt.order_by(Item.id)
    else:
        raise ValueError(f"unknown order {order!r}; use selected, uncertainty, random or id")
    if order == "selected":
        return _selected_first(db, project, [PushRow(*row) for row in db.execute(stmt)], limit,
                               active_version(db, project))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [PushRow(*row) for row in db.execute(stmt)]


def _selected_first(db: Session, project: Project, rows: list[PushRow], limit: int | None,
                    version: str | None) -> list[PushRow]:
    """``rows`` (least confident first) with the selector's choice of ``limit`` (or as many as it weighs) first.

    The selector weighs at most MAX_CANDIDATES predicted rows: the least confident half of them and an even
    spread over the rest, so items it would pick for rare labels or disagreement are among them.
    """
    predicted = [r for r in rows if r.prediction_id is not None]
    half = MAX_CANDIDATES // 2
    rest = predicted[half:]
    weighed = predicted[:half] + rest[:: max(1, math.ceil(len(rest) / half))]
    preds = {p.id: p for p in db.scalars(select(Prediction).where(Prediction.id.in_([r.prediction_id for r in weighed])))}
    if version is None:  # no active adapter: the version most of the predictions come from
        versions = Counter(r.version for r in weighed)
        version = versions.most_common(1)[0][0] if versions else None
    first = selected_order(db, project, [(r.item_id, preds.get(r.prediction_id or 0)) for r in weighed],
                           limit if limit is not None else len(weighed), version)[: limit if limit is not None else None]
    by_item = {r.item_id: r for r in rows}
    chosen = set(first)
    ordered = [by_item[i] for i in first] + [r for r in rows if r.item_id not in chosen]
    return ordered[:limit] if limit is not None else ordered


def load_chunk(db: Session, rows: Sequence[PushRow]) -> tuple[dict[int, Item], dict[int, Prediction]]:
    """The items and predictions of a chunk of push rows, by id."""
    items = {i.id: i for i in db.scalars(select(Item).where(Item.id.in_([r.item_id for r in rows])))}
    pred_ids = [r.prediction_id for r in rows if r.prediction_id is not None]
    preds = {p.id: p for p in db.scalars(select(Prediction).where(Prediction.id.in_(pred_ids)))} if pred_ids else {}
    return items, preds


def mark_pending(db: Session, project_id: int, ls_project_id: int, rows: Sequence[PushRow]) -> None:
    """Record that tasks for these items are about to be imported (outcome unknown until confirmed)."""
    now = utcnow()
    db.execute(insert(LabelStudioTask), [
        {"project_id": project_id, "item_id": r.item_id, "ls_project_id": ls_project_id, "ls_task_id": None,
         "prediction_version": r.version, "pushed_at": now} for r in rows
    ])


def confirm_tasks(db: Session, ls_project_id: int, task_ids: dict[int, int]) -> None:
    """Store the Label Studio task id of each item (``{item_id: task_id}``) for pending rows."""
    _set_per_item(db, ls_project_id, "ls_task_id", task_ids)


def set_prediction_versions(db: Session, ls_project_id: int, versions: dict[int, str]) -> None:
    """Record the prediction version now on each item's task (``{item_id: version}``)."""
    _set_per_item(db, ls_project_id, "prediction_version", versions)


def _set_per_item(db: Session, ls_project_id: int, column: str, values: dict[int, Any]) -> None:
    """Set ``column`` (and ``pushed_at``) of each item's task row: ``{item_id: value}``."""
    if not values:
        return
    table = cast(Table, LabelStudioTask.__table__)
    db.execute(
        update(table).where(table.c.ls_project_id == ls_project_id, table.c.item_id == bindparam("item"))
        .values({column: bindparam("value"), "pushed_at": utcnow()}),
        [{"item": item, "value": value} for item, value in values.items()],
    )


def pending_items(db: Session, ls_project_id: int) -> set[int]:
    """Items whose import was started but never confirmed."""
    return set(db.scalars(select(LabelStudioTask.item_id).where(
        LabelStudioTask.ls_project_id == ls_project_id, LabelStudioTask.ls_task_id.is_(None))))


def drop_pending(db: Session, ls_project_id: int, item_ids: Iterable[int]) -> None:
    """Forget unconfirmed imports that the server does not have (they will be sent again)."""
    ids = list(item_ids)
    if ids:
        db.execute(delete(LabelStudioTask).where(LabelStudioTask.ls_project_id == ls_project_id,
                                                 LabelStudioTask.ls_task_id.is_(None),
                                                 LabelStudioTask.item_id.in_(ids)))


def max_task_id(db: Session, ls_project_id: int) -> int:
    """The largest confirmed task id of the Label Studio project (0 when none)."""
    return db.scalar(select(func.max(LabelStudioTask.ls_task_id)).where(
        LabelStudioTask.ls_project_id == ls_project_id)) or 0


def task_map(db: Session, ls_project_id: int,
             task_ids: Sequence[int] | None = None) -> dict[int, tuple[int, str | None]]:
    """``{ls_task_id: (item_id, prediction_version)}`` for confirmed tasks (all, or the given ones)."""
    stmt = select(LabelStudioTask.ls_task_id, LabelStudioTask.item_id, LabelStudioTask.prediction_version).where(
        LabelStudioTask.ls_project_id == ls_project_id, LabelStudioTask.ls_task_id.is_not(None))
    if task_ids is None:
        return {t: (i, v) for t, i, v in db.execute(stmt) if t is not None}
    ids = list(task_ids)
    out: dict[int, tuple[int, str | None]] = {}
    for n in range(0, len(ids), 900):  # keep under SQLite's bound-parameter limit
        rows = db.execute(stmt.where(LabelStudioTask.ls_task_id.in_(ids[n:n + 900])))
        out.update({t: (i, v) for t, i, v in rows if t is not None})
    return out


def earlier_turn_texts(db: Session, project_id: int, item_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """``{item_id: {turn: text}}``: every stored turn before each given turn of a conversation of the project."""
    ids = list(set(item_ids))
    items: list[Item] = []
    for i in range(0, len(ids), 900):
        items += db.scalars(select(Item).where(Item.project_id == project_id, Item.id.in_(ids[i:i + 900])))
    return {item_id: {t.turn: t.text for t in turns if t.turn is not None}
            for item_id, turns in repo.earlier_turns(db, items).items()}


def item_texts(db: Session, project_id: int, item_ids: Iterable[int]) -> dict[int, str]:
    """``{item_id: text}`` for the given items of one project (ids of other projects are left out)."""
    ids = list(set(item_ids))
    out: dict[int, str] = {}
    for i in range(0, len(ids), 900):
        rows = db.execute(select(Item.id, Item.text).where(Item.project_id == project_id,
                                                           Item.id.in_(ids[i:i + 900])))
        out.update({item_id: text for item_id, text in rows})
    return out


@dataclass
class AnnotationRow:
    """One annotation as the sync writes it (keyed by item and annotator)."""

    item_id: int
    annotator: str
    emotions: list[str]
    intensity: float | None
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None
    status: str
    rejection_reason: str | None
    lead_time: float | None
    external_ref: str
    based_on_adapter: str | None
    created_at: datetime | None
    updated_at: datetime | None
    intensities: dict[str, float] | None = None  # per chosen emotion
    cause_turn: int | None = None  # the earlier turn of the conversation the cause span lies in
    cause_outside: bool | None = None  # the cause is not in the conversation

