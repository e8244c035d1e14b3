"""Which adapter labels a project: promote a version, roll back to the one before.

A project's promotions are kept in order in ``Project.settings["adapter_history"]`` (versions, the last
is the active one), so a rollback returns to the adapter that was really active before, whatever
order the adapters were created in. Statuses follow: the active adapter is ``active``, the one it
replaced (or that was rolled back) ``retired``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator import repo
from annotator.repo import NotFound
from annotator.tables import Adapter, Project

HISTORY_KEY = "adapter_history"


def _project(db: Session, project: Project | str) -> Project:
    return repo.get_project_or_raise(db, project) if isinstance(project, str) else project


def _adapter(db: Session, project: Project, version: str) -> Adapter:
    adapter = db.scalar(select(Adapter).where(Adapter.version == version))
    if adapter is None:
        raise NotFound(f"no adapter version {version!r}")
    if adapter.project_id not in (None, project.id):
        raise ValueError(f"adapter {version!r} belongs to another project")
    return adapter


def _history(db: Session, project: Project) -> list[str]:
    history = list(project.settings.get(HISTORY_KEY, []))
    if project.active_adapter_id is not None:
        active = db.get(Adapter, project.active_adapter_id)
        # An adapter made active by other means (e.g. set directly) joins the history here.
        if active is not None and (not history or history[-1] != active.version):
            history.append(active.version)
    return history


def _activate(db: Session, project: Project, adapter: Adapter, history: list[str]) -> Adapter:
    if project.active_adapter_id not in (None, adapter.id):
        previous = db.get(Adapter, project.active_adapter_id)
        if previous is not None:
            previous.status = "retired"
    adapter.status = "active"
    project.active_adapter_id = adapter.id
    project.settings = {**project.settings, HISTORY_KEY: history}  # a new dict: JSON columns track assignment
    db.flush()
    return adapter


def adapter_row_values(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Adapter columns an adapter folder's metadata gives: version, base, path, readout, thresholds."""
    onepass = meta.get("onepass") or {}
    return {"version": meta["version"], "base_model": meta["base"]["model_id"],
            "base_model_hash": meta["base"]["sha256"], "path": str(Path(path).resolve()),
            "readout": meta.get("readout", "instruction"), "thresholds": onepass.get("thresholds") or None}


def ensure_adapter_row(db: Session, path: Path, status: str = "candidate") -> Adapter:
    """The adapters-table row of an adapter folder, created (with ``status``) if it has none yet.

    Every adapter that labels gets a row, the shipped default one too (status ``default``), so that its
    tuned thresholds and its version are known to every page, export and agreement figure.
    """
    from models.adapters import read_meta

    meta = read_meta(path)
    if "version" not in meta:
        raise FileNotFoundError(f"{path} is not an adapter folder (no metadata)")
    row = db.scalar(select(Adapter).where(Adapter.version == meta["version"]))
    if row is None:
        row = Adapter(**adapter_row_values(meta, path), metrics=meta.get("metrics", {}), status=status)
        db.add(row)
        db.flush()
    return row


def active_adapter(db: Session, project: Project | str) -> Adapter | None:
    """The adapter that currently labels the project, if any."""
    proj = _project(db, project)
    return db.get(Adapter, proj.active_adapter_id) if proj.active_adapter_id else None


def promote_adapter(db: Session, project: Project | str, version: str) -> Adapter:
    """Make adapter ``version`` the project's active labeler; the previous one is retired. Idempotent."""
    proj = _project(db, project)
    adapter = _adapter(db, proj, version)
    history = _history(db, proj)
    if history and history[-1] == version and proj.active_adapter_id == adapter.id:
        return adapter
    return _activate(db, proj, adapter, [*history, version])


def rollback(db: Session, project: Project | str) -> Adapter:
    """Reactivate the adapter that was active before the current one, and return it."""
    proj = _project(db, project)
    history = _history(db, proj)
    if len(history) < 2:
        raise ValueError(f"project {proj.name!r} has no earlier adapter to roll back to")
    previous = _adapter(db, proj, history[-2])
    return _activate(db, proj, previous, history[:-1])


def list_adapters(db: Session, project: Project | str) -> Sequence[Adapter]:
    """The project's adapters (and project-less shared ones), newest first."""
    proj = _project(db, project)
    return db.scalars(
        select(Adapter).where((Adapter.project_id == proj.id) | (Adapter.project_id.is_(None)))
        .order_by(Adapter.created_at.desc(), Adapter.id.desc())
    ).all()
