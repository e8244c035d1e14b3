"""`annotator labelstudio pull` (and the webhook): Label Studio annotations -> our annotations table.

One row per (item, annotator): the annotator is the Label Studio user's email, ``external_ref`` the
Label Studio annotation id, ``based_on_adapter`` the model version of the prediction the annotator
saw. Results are validated (:mod:`annotator.correct.labelstudio.results`); invalid ones are stored as
rejected with the reason. Skipped (cancelled) annotations are not corrections and are not stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from annotator import repo
from annotator.correct.labelstudio import store
from annotator.correct.labelstudio.client import Connection, LabelStudioError, call, ls_id
from annotator.correct.labelstudio.config import DIALOGUE
from annotator.correct.labelstudio.results import parse_result
from annotator.correct.labelstudio.tasks import ITEM_ID, TURN
from annotator.db import session_scope
from annotator.states import AnnotationStatus

SOURCE = "labelstudio"


@dataclass
class PullReport:
    """What one pull (or one webhook delivery) stored."""

    tasks: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0  # of inserted + updated, stored with status 'rejected'
    skipped: int = 0  # cancelled annotations
    unknown_tasks: int = 0  # tasks that are not ours (no map row, no valid item_id)
    malformed: int = 0  # tasks or annotations of a shape Label Studio does not write (no id, not an object, ...)
    seconds: float = 0.0


class UserDirectory:
    """Label Studio user id -> email, fetched once and refreshed when an unknown id turns up."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._emails: dict[int, str] = {}

    def email(self, completed_by: Any) -> str:
        """The email of ``completed_by`` (a user id, or a user object as some exports give)."""
        if isinstance(completed_by, dict):
            if completed_by.get("email"):
                return str(completed_by["email"])
            completed_by = completed_by.get("id")
        if not isinstance(completed_by, int):
            raise LabelStudioError(f"annotation without a usable completed_by: {completed_by!r}")
        if completed_by not in self._emails:
            users = call(self._conn, self._conn.client.users.list)
            self._emails.update({u.id: u.email or u.username or f"labelstudio-user-{u.id}" for u in users})
        return self._emails.get(completed_by, f"labelstudio-user-{completed_by}")


def pull(engine: Engine, conn: Connection, project_name: str) -> PullReport:
    """Import every annotation of the project's Label Studio project (idempotent: upsert by item, annotator)."""
    began = time.monotonic()
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, project_name)
        ls_pid = store.ls_settings(project).get("project_id")
        if ls_pid is None:
            raise LabelStudioError(
                f"project {project_name!r} has no Label Studio project yet: run `annotator labelstudio push "
                f"--project {project_name}` first"
            )
    # The export streams every annotated task with its annotations and predictions in one request,
    # several times faster than paging through the task list on the development server.
    raw = call(conn, lambda: b"".join(conn.client.projects.exports.download_sync(
        id=ls_pid, export_type="JSON", download_all_tasks=False)))
    try:
        tasks = json.loads(raw)
    except (ValueError, RecursionError):
        tasks = None
    if not isinstance(tasks, list):
        raise LabelStudioError(f"Label Studio's export of project {ls_pid} is not a JSON list of tasks; "
                               "is ANNOTATOR_LABELSTUDIO_URL a Label Studio server?")
    users = UserDirectory(conn)
    with session_scope(engine) as db:
        report = store_tasks(db, repo.get_project_or_raise(db, project_name), ls_pid, tasks, users)
    report.seconds = time.monotonic() - began
    return report


def store_tasks(db: Session, project: Any, ls_pid: int, tasks: Sequence[dict[str, Any]],
                users: UserDirectory, annotations: Iterable[tuple[int, dict[str, Any]]] | None = None) -> PullReport:
    """Upsert the annotations of ``tasks`` (each with its ``annotations``), or only ``annotations``
    (pairs of task index and annotation) when given, as the webhook does."""
    report = PullReport(tasks=len(tasks))
    usable = [n for n, t in enumerate(tasks) if isinstance(t, dict) and ls_id(t.get("id")) is not None]
    report.malformed = len(tasks) - len(usable)
    mapping = store.task_map(db, ls_pid, [tasks[n]["id"] for n in usable])
    item_of: dict[int, int] = {}
    for t in (tasks[n] for n in usable):
        data = t.get("data")
        if t["id"] in mapping:
            item_of[t["id"]] = mapping[t["id"]][0]
        elif isinstance(data, dict) and ls_id(data.get(ITEM_ID)) is not None:
            item_of[t["id"]] = data[ITEM_ID]
    texts = store.item_texts(db, project.id, item_of.values())
    earlier = store.earlier_turn_texts(db, project.id, texts) if repo.has_conversations(db, project.id) else None
    pairs = annotations if annotations is not None else (
        (n, a) for n in usable for a in _list(tasks[n].get("annotations")))
    rows: list[store.AnnotationRow] = []
    for n, ann in pairs:
        task = tasks[n]
        if not (isinstance(ann, dict) and ann.get("id") is not None and isinstance(task, dict)):
            report.malformed += 1
            continue
        item_id = item_of.get(task.get("id"))  # type: ignore[arg-type]
        if item_id is None or item_id not in texts:
            report.unknown_tasks += 1
            continue
        if ann.get("was_cancelled"):
            report.skipped += 1
            continue
        try:
            annotator = users.email(ann.get("completed_by"))
        except LabelStudioError:  # no user to file it under
            report.malformed += 1
            continue
        paragraphs = None if earlier is None else _paragraphs(task, earlier.get(item_id, {}))
        fields = parse_result(ann.get("result"), texts[item_id], list(project.labels), paragraphs)
        rows.append(store.AnnotationRow(
            item_id=item_id, annotator=annotator,
            emotions=fields.emotions, intensity=fields.intensity, intensities=fields.intensities or None,
            cause_start=fields.cause_start,
            cause_end=fields.cause_end, cause_text=fields.cause_text, cause_turn=fields.cause_turn,
            cause_outside=fields.cause_outside, status=fields.status,
            rejection_reason=fields.rejection_reason,
            lead_time=float(ann["lead_time"]) if isinstance(ann.get("lead_time"), (int, float)) else None,
            external_ref=str(ann["id"]), based_on_adapter=_based_on(ann, task, mapping.get(task["id"])),
            created_at=_time(ann.get("created_at")), updated_at=_time(ann.get("updated_at")),
        ))
        report.rejected += fields.status == AnnotationStatus.REJECTED
    report.inserted, report.updated = repo.upsert_annotations(db, [vars(r) for r in _last_per_key(rows)], SOURCE)
    return report


def _paragraphs(task: dict[str, Any], earlier: dict[int, str]) -> list[tuple[int, str] | None]:
    """What each paragraph of the task's dialogue shows: (turn, that turn's stored text) where the turn it
    names is a stored earlier turn of the item's conversation, else None (never the task's own copy)."""
    data = task.get("data")
    shown = _list(data.get(DIALOGUE)) if isinstance(data, dict) else []
    out: list[tuple[int, str] | None] = []
    for entry in shown:
        turn = entry.get(TURN) if isinstance(entry, dict) else None
        out.append((turn, earlier[turn]) if type(turn) is int and turn in earlier else None)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _last_per_key(rows: list[store.AnnotationRow]) -> list[store.AnnotationRow]:
    """One row per (item, annotator): the most recently updated annotation wins."""
    best: dict[tuple[int, str], store.AnnotationRow] = {}
    for r in sorted(rows, key=lambda r: r.updated_at.timestamp() if r.updated_at else 0.0):
        best[(r.item_id, r.annotator)] = r
    return list(best.values())


def _based_on(ann: dict[str, Any], task: dict[str, Any], mapped: tuple[int, str | None] | None) -> str | None:
    """Model version of the prediction the annotator started from, else the task's newest, else what we sent."""
    preds = [p for p in _list(task.get("predictions")) if isinstance(p, dict)]
    parent = ann.get("parent_prediction")
    for p in preds:
        if parent is not None and p.get("id") == parent and p.get("model_version"):
            return str(p["model_version"])
    snapshot = ann.get("prediction")  # webhook payloads carry a copy of the task's prediction
    if isinstance(snapshot, dict) and snapshot.get("model_version"):
        return str(snapshot["model_version"])
    if preds:
        newest = max(preds, key=lambda p: p.get("id") or 0)
        if newest.get("model_version"):
            return str(newest["model_version"])
    return mapped[1] if mapped else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
