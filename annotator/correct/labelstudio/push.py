"""`annotator labelstudio push`: send items and their current predictions to Label Studio.

Idempotent and resumable. Before a chunk is imported its items are written to ``labelstudio_tasks``
as *pending* and committed; after the import they are confirmed with the task ids the server returned
(in input order). If the import fails, or this process dies, nobody knows whether the server committed
it, so :func:`reconcile` asks the server: every task above the highest confirmed task id whose
``data.item_id`` is pending is confirmed, and the pending rows it does not find are dropped and sent
again. A re-predicted item keeps its task and gets the new prediction added to it; that step is
recovered the same way, from the task ids recorded in ``Project.settings["labelstudio"]``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk.core.request_options import RequestOptions
from label_studio_sdk.data_manager import Column, Filters, Operator, Type
from sqlalchemy import Engine

from annotator import repo
from annotator.correct.labelstudio import store
from annotator.correct.labelstudio.client import (
    Connection,
    LabelStudioError,
    call,
    import_tasks,
    ls_id,
    wait_after_failure,
)
from annotator.correct.labelstudio.config import labeling_config
from annotator.correct.labelstudio.tasks import ITEM_ID, dialogue_data, prediction_json, task_json
from annotator.db import session_scope
from annotator.label.thresholds import DEFAULT_THRESHOLD, decision_thresholds
from annotator.settings import get_settings
from annotator.tables import Project

log = logging.getLogger(__name__)
NO_RETRY: RequestOptions = {"max_retries": 0}  # imports are not idempotent: never let the SDK repeat them


@dataclass
class PushReport:
    """What one push did."""

    ls_project_id: int
    created: int = 0  # new tasks
    repredicted: int = 0  # new predictions added to existing tasks
    recovered: int = 0  # tasks of an interrupted import found on the server and confirmed
    resent: int = 0  # tasks of an interrupted import not on the server, sent again
    retries: int = 0
    seconds: float = 0.0
    chunks: list[float] = field(default_factory=list)  # seconds per import request

    @property
    def sent(self) -> int:
        """Tasks and predictions sent by this run."""
        return self.created + self.repredicted


def push(engine: Engine, conn: Connection, project_name: str, *, limit: int | None = None,
         order: str = "selected", chunk_size: int = 1000,
         on_chunk: Callable[[PushReport], None] | None = None) -> PushReport:
    """Push a project's new and re-predicted items to Label Studio; see the module docstring."""
    began = time.monotonic()
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, project_name)
        ls_pid = ensure_project(conn, db, project)
        labels = list(project.labels)
        dialogue = repo.has_conversations(db, project.id)
        project_id = project.id  # every later step re-reads the project by id, in its own transaction
    report = PushReport(ls_project_id=ls_pid)
    report.recovered += reconcile(conn, engine, ls_pid)[0]
    _recover_predictions(conn, engine, project_id, ls_pid)
    with session_scope(engine) as db:
        plan = store.plan_push(db, repo.get_project_by_id(db, project_id), ls_pid, order, limit)
    new = [r for r in plan if r.ls_task_id is None]
    again = [r for r in plan if r.ls_task_id is not None]

    for chunk in _chunks(new, chunk_size):
        with session_scope(engine) as db:
            items, preds = store.load_chunk(db, chunk)
            thresholds = decision_thresholds(db, repo.get_project_by_id(db, project_id))
            shown = _shown_dialogues(db, items) if dialogue else {}
            tasks = {}
            for r in chunk:
                pred = preds.get(r.prediction_id) if r.prediction_id is not None else None
                decide_at = thresholds(pred.adapter_version) if pred is not None else DEFAULT_THRESHOLD
                tasks[r.item_id] = task_json(items[r.item_id], pred, labels, decide_at, shown.get(r.item_id))
            store.mark_pending(db, project_id, ls_pid, chunk)
        _import_tasks(conn, engine, ls_pid, project_id, chunk, tasks, report)
        report.created += len(chunk)
        if on_chunk:
            on_chunk(report)

    for chunk in _chunks(again, chunk_size):
        with session_scope(engine) as db:
            items, preds = store.load_chunk(db, chunk)
            project = repo.get_project_by_id(db, project_id)
            thresholds = decision_thresholds(db, project)
            shown = _shown_dialogues(db, items) if dialogue else {}
            body = []
            for r in chunk:  # a re-predicted row always has its task and its new prediction
                pred = preds[int(r.prediction_id or 0)]
                body.append(prediction_json(items[r.item_id].text, pred, labels, thresholds(pred.adapter_version),
                                            r.ls_task_id, dialogue=shown.get(r.item_id)))
            store.save_ls_settings(db, project, inflight_predictions={str(r.ls_task_id): r.version for r in chunk})
        _import_predictions(conn, ls_pid, body, report)
        with session_scope(engine) as db:
            store.set_prediction_versions(db, ls_pid, {r.item_id: r.version for r in chunk if r.version})
            store.save_ls_settings(db, repo.get_project_by_id(db, project_id), inflight_predictions=None)
        report.repredicted += len(chunk)
        if on_chunk:
            on_chunk(report)
    report.seconds = time.monotonic() - began
    return report


def _shown_dialogues(db: Any, items: dict[int, Any]) -> dict[int, list[dict[str, Any]]]:
    """Per item of a dialogue project, the turns before it as its task shows them (``data["dialogue"]``; []
    for a lone item)."""
    context = repo.earlier_turns(db, list(items.values()), get_settings().context_turns)
    return {item_id: dialogue_data([(t.turn, t.speaker, t.text) for t in context.get(item_id, []) if t.turn is not None])
            for item_id in items}


def ensure_project(conn: Connection, db: Any, project: Project) -> int:
    """Find the project's Label Studio project (or create it); keep its config and overlap in step."""
    config = labeling_config(project.labels, dialogue=repo.has_conversations(db, project.id))
    overlap = int((project.settings or {}).get("overlap", 1))
    saved = store.ls_settings(project)
    ls_project = None
    if saved.get("project_id") is not None and saved.get("url") == conn.url:
        try:
            ls_project = call(conn, conn.client.projects.get, id=saved["project_id"])
        except LabelStudioError as exc:
            if exc.status != 404:
                raise
            log.warning("labelstudio.project_gone", extra={"ls_project_id": saved["project_id"]})
    if ls_project is None:
        ls_project = _create_project(conn, title=_title(project), config=config, overlap=overlap)
        ls_pid = _project_id(ls_project, conn)
        store.save_ls_settings(db, project, project_id=ls_pid, url=conn.url, inflight_predictions=None)
        return ls_pid
    ls_pid = _project_id(ls_project, conn)
    changes: dict[str, Any] = {}
    if (ls_project.label_config or "").strip() != config.strip():
        changes["label_config"] = config
    if ls_project.maximum_annotations != overlap:
        changes["maximum_annotations"] = overlap
    if changes:
        call(conn, conn.client.projects.update, id=ls_pid, **changes)
    return ls_pid


def _project_id(ls_project: Any, conn: Connection) -> int:
    """The id of a project the server answered with, or LabelStudioError when the answer holds none."""
    pid = ls_id(getattr(ls_project, "id", None))
    if pid is None:
        raise LabelStudioError(f"{conn.url} answered a project request without a project id ({ls_project!r:.80}); "
                               "is ANNOTATOR_LABELSTUDIO_URL a Label Studio server?")
    return pid


def _title(project: Project) -> str:
    return f"emo-annotator: {project.name}"  # Label Studio wants 3+ characters


def _create_project(conn: Connection, *, title: str, config: str, overlap: int) -> Any:
    """Create a project; after a transient failure, adopt the one with that title if it was created."""
    attempt = 0
    while True:
        try:
            return conn.client.projects.create(title=title, label_config=config, maximum_annotations=overlap,
                                               description="Pre-labeled by emo-annotator; synced both ways.",
                                               request_options=NO_RETRY)
        except Exception as exc:
            wait_after_failure(conn, exc, attempt, "creating the project", "run the push again")
            attempt += 1
            listed: list[Any] = call(conn, lambda: list(conn.client.projects.list(title=title)))
            found = [p for p in listed if p.title == title]
            if found:
                return call(conn, conn.client.projects.get, id=found[-1].id)


def _import_tasks(conn: Connection, engine: Engine, ls_pid: int, project_id: int, chunk: Sequence[store.PushRow],
                  tasks: dict[int, dict[str, Any]], report: PushReport) -> None:
    """Import one chunk; on a transient failure reconcile, then send only what the server lacks."""
    todo = list(chunk)
    attempt = 0
    while todo:
        started = time.monotonic()
        try:
            ids = import_tasks(conn, ls_pid, [tasks[r.item_id] for r in todo])
        except Exception as exc:
            wait_after_failure(conn, exc, attempt, f"a task import into project {ls_pid}",
                               "run the push again: it resumes without duplicating tasks")
            attempt += 1
            report.retries += 1
            recovered, dropped = reconcile(conn, engine, ls_pid)
            report.recovered += recovered
            todo = [r for r in todo if r.item_id in dropped]
            if todo:
                with session_scope(engine) as db:
                    store.mark_pending(db, project_id, ls_pid, todo)
                report.resent += len(todo)
            continue
        report.chunks.append(time.monotonic() - started)
        if len(ids) != len(todo):  # never seen; reconcile rather than guess the mapping
            reconcile(conn, engine, ls_pid)
            return
        with session_scope(engine) as db:
            store.confirm_tasks(db, ls_pid, {r.item_id: tid for r, tid in zip(todo, ids)})
        return


def _import_predictions(conn: Connection, ls_pid: int, body: list[dict[str, Any]], report: PushReport) -> None:
    """Add predictions to existing tasks; a failed attempt is checked against the server before resending."""
    attempt = 0
    while body:
        try:
            conn.client.projects.import_predictions(id=ls_pid, request=body,  # type: ignore[arg-type]  # dicts the API takes
                                                    request_options=NO_RETRY)
            return
        except Exception as exc:
            wait_after_failure(conn, exc, attempt, f"a prediction import into project {ls_pid}",
                               "run the push again: it resumes without duplicating predictions")
            attempt += 1
            report.retries += 1
            have = _tasks_with_versions(conn, ls_pid, {p["task"]: p["model_version"] for p in body})
            body = [p for p in body if p["task"] not in have]


def reconcile(conn: Connection, engine: Engine, ls_pid: int) -> tuple[int, set[int]]:
    """Settle pending map rows against the server: confirm those it has, drop the rest.

    Returns (confirmed, dropped item ids).
    """
    with session_scope(engine) as db:
        pending = store.pending_items(db, ls_pid)
        floor = store.max_task_id(db, ls_pid)
    if not pending:
        return 0, set()
    query = json.dumps({"filters": Filters.create(Filters.AND, [
        Filters.item(Column.id, Operator.GREATER, Type.Number, Filters.value(floor))])})
    tasks: list[Any] = call(conn, lambda: list(conn.client.tasks.list(project=ls_pid, fields="task_only", query=query,
                                                                       page_size=1000)))
    listed = [(task.id, (task.data or {}).get(ITEM_ID)) for task in tasks]
    found: dict[int, int] = {}
    for task_id, item_id in sorted(listed):
        if item_id in pending and item_id not in found:
            found[item_id] = task_id
    dropped = pending - set(found)
    with session_scope(engine) as db:
        store.confirm_tasks(db, ls_pid, found)
        store.drop_pending(db, ls_pid, dropped)
    if found or dropped:
        log.info("labelstudio.reconciled", extra={"confirmed": len(found), "dropped": len(dropped)})
    return len(found), dropped


def _tasks_with_versions(conn: Connection, ls_pid: int, wanted: dict[int, str]) -> set[int]:
    """Of the tasks in ``wanted`` ({task_id: model_version}), those that already carry that version."""
    if not wanted:
        return set()
    query = json.dumps({"filters": Filters.create(Filters.AND, [
        Filters.item(Column.id, Operator.GREATER_OR_EQUAL, Type.Number, Filters.value(min(wanted))),
        Filters.item(Column.id, Operator.LESS_OR_EQUAL, Type.Number, Filters.value(max(wanted))),
    ])})
    have: set[int] = set()
    tasks: list[Any] = call(conn, lambda: list(conn.client.tasks.list(project=ls_pid, query=query, page_size=100)))
    for task in tasks:
        versions = {getattr(p, "model_version", None) for p in (task.predictions or [])}
        if task.id in wanted and wanted[task.id] in versions:
            have.add(task.id)
    return have


def _recover_predictions(conn: Connection, engine: Engine, project_id: int, ls_pid: int) -> None:
    """Finish the bookkeeping of a prediction import that an earlier run could not confirm."""
    with session_scope(engine) as db:
        project = repo.get_project_by_id(db, project_id)
        inflight = store.ls_settings(project).get("inflight_predictions") or {}
    if not inflight:
        return
    have = _tasks_with_versions(conn, ls_pid, {int(t): v for t, v in inflight.items()})
    with session_scope(engine) as db:
        by_task = store.task_map(db, ls_pid, sorted(have))
        store.set_prediction_versions(db, ls_pid, {by_task[t][0]: inflight[str(t)] for t in have if t in by_task})
        store.save_ls_settings(db, repo.get_project_by_id(db, project_id), inflight_predictions=None)


def _chunks(rows: Sequence[store.PushRow], size: int) -> list[Sequence[store.PushRow]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]
