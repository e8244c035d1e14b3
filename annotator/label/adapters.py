"""Adapters: every lookup, registration and promotion of the adapter that labels a project.

An adapter is a folder (peft LoRA files, one-pass heads where it has them, and its metadata) and a row of
the adapters table. Every adapter that labels gets a row, the shipped default one too (status
``default``), so its version and tuned thresholds are known to every page, export and agreement figure.

Which adapter labels a project (:func:`resolve_adapter`): the one asked for, else the project's active
adapter, else the shipped default (``ANNOTATOR_DEFAULT_ADAPTER``) if it serves the project's labels, else
the zero-shot base. A project's promotions are kept in order in ``Project.settings["adapter_history"]``
(versions, the last is the active one), so a rollback returns to the adapter that was really active
before, whatever order the adapters were created in. Statuses follow: the active adapter is ``active``,
the one it replaced (or that was rolled back) ``retired``.

``models/`` is imported inside the functions (``models.adapters`` reads metadata without torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator import repo
from annotator.repo import NotFound
from annotator.settings import get_settings
from annotator.states import AdapterStatus
from annotator.tables import Adapter, Project

HISTORY_KEY = "adapter_history"
PACKAGED_BASE_NAMES = ("smollm2", "smollm2-135m-instruct")


@dataclass(frozen=True)
class AdapterChoice:
    """Which adapter labels: its version (recorded on every prediction) and its folder (None = the base)."""

    version: str
    path: str | None
    shipped: bool = False  # the shipped default adapter (ANNOTATOR_DEFAULT_ADAPTER)


# --- the configured base and device -------------------------------------------------------------------


def base_spec() -> str | None:
    """The configured base for ``models.base.resolve_base``: ``None`` for the packaged SmolLM2."""
    name = get_settings().base_model
    return None if name.strip().lower() in PACKAGED_BASE_NAMES else name


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# --- folders --------------------------------------------------------------------------------------------


def adapter_meta(path: Path) -> dict[str, Any]:
    """The metadata training wrote into an adapter folder (FileNotFoundError for any other folder)."""
    from models.adapters import ADAPTER_META, read_meta

    meta = read_meta(Path(path))
    if not meta:
        raise FileNotFoundError(f"{path} is not an adapter folder (no {ADAPTER_META})")
    return meta


def default_adapter_path(labels: Sequence[str] | None = None) -> Path | None:
    """The adapter to label with when a project has none active (``ANNOTATOR_DEFAULT_ADAPTER``), or ``None``.

    The setting names an adapter folder, or a folder of adapter versions, of which the newest (by the
    ``created_at`` in its metadata, then name) is used. ``None`` when it is empty, holds no adapter, the
    adapter was trained on another base than the configured one (``ANNOTATOR_BASE_MODEL``), or (with
    ``labels``) it cannot label that taxonomy (a one-pass adapter without a head for it).
    """
    from models.adapters import serves

    chosen = _newest_default_adapter()
    if chosen is None or not _trained_on_configured_base(chosen):
        return None
    return chosen if labels is None or serves(chosen, labels) else None


def _newest_default_adapter() -> Path | None:
    from models.adapters import read_meta

    value = get_settings().default_adapter.strip()
    if not value:
        return None
    folder = Path(value)
    if read_meta(folder):
        return folder
    if not folder.is_dir():
        return None
    versions = [child for child in folder.iterdir() if child.is_dir() and read_meta(child)]
    if not versions:
        return None
    return max(versions, key=lambda child: (str(read_meta(child).get("created_at", "")), child.name))


def _trained_on_configured_base(adapter: Path) -> bool:
    """Whether the adapter's metadata names the configured base (compared by id: nothing is loaded or hashed)."""
    from models.base import DEFAULT_BASE

    trained_on = adapter_meta(adapter).get("base", {}).get("model_id")
    spec = base_spec()
    if spec is None:
        configured = DEFAULT_BASE
    else:
        path = Path(spec).expanduser()
        configured = path.name if path.suffix == ".gguf" else str(path)
    return trained_on is None or trained_on == configured


# --- which adapter labels -------------------------------------------------------------------------------


def resolve_adapter(db: Session | None, project: Project | None, ref: str | None) -> AdapterChoice:
    """``ref`` as a registered version, an adapter folder or ``"base"``; without ``ref``, the project's
    active adapter, else the shipped default adapter if it serves the project's labels, else the base.

    With a project, an adapter asked for by name must be able to label it (a one-pass adapter needs a head
    for its labels): ValueError otherwise. NotFound for a name that is none of the above.
    """
    from models.adapters import BASE_VERSION, adapter_version, head_taxonomies, serves

    if ref:
        row = db.scalar(select(Adapter).where(Adapter.version == ref)) if db is not None else None
        if row is not None:
            choice = AdapterChoice(row.version, row.path)
        elif adapter_meta_or_none(Path(ref)) is not None:
            choice = AdapterChoice(adapter_version(Path(ref)), str(Path(ref).resolve()))
        elif ref == BASE_VERSION:
            return AdapterChoice(BASE_VERSION, None)
        else:
            raise NotFound(f"no adapter {ref!r}: give a registered version, an adapter folder, or 'base'")
        if project is not None and choice.path is not None and not serves(Path(choice.path), project.labels):
            heads = ", ".join(head_taxonomies(Path(choice.path))) or "none"
            raise ValueError(f"adapter {choice.version} has no head for project {project.name!r}'s "
                             f"{len(project.labels)} labels (its heads: {heads}); retrain it on the project")
        return choice
    if project is None:
        raise ValueError("name an adapter, or a project whose adapter to use")
    if project.active_adapter_id is not None and db is not None:
        active = db.get(Adapter, project.active_adapter_id)
        if active is not None:
            return AdapterChoice(active.version, active.path)
    shipped = default_adapter_path(tuple(project.labels))
    if shipped is not None:
        return AdapterChoice(adapter_version(shipped), str(shipped), shipped=True)
    return AdapterChoice(BASE_VERSION, None)


def adapter_meta_or_none(path: Path) -> dict[str, Any] | None:
    """An adapter folder's metadata, or None for anything that is not one."""
    from models.adapters import read_meta

    return read_meta(path) or None if path.is_dir() else None


# --- rows -----------------------------------------------------------------------------------------------


def adapter_row_values(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Adapter columns an adapter folder's metadata gives: version, base, path, readout, thresholds."""
    onepass = meta.get("onepass") or {}
    return {"version": meta["version"], "base_model": meta["base"]["model_id"],
            "base_model_hash": meta["base"]["sha256"], "path": str(Path(path).resolve()),
            "readout": meta.get("readout", "instruction"), "thresholds": onepass.get("thresholds") or None}


def ensure_adapter_row(db: Session, path: Path, status: AdapterStatus = AdapterStatus.CANDIDATE,
                       project: Project | None = None) -> Adapter:
    """The adapters-table row of an adapter folder, created (with ``status``, for ``project``) if it has none."""
    meta = adapter_meta(path)
    row = db.scalar(select(Adapter).where(Adapter.version == meta["version"]))
    if row is None:
        row = Adapter(**adapter_row_values(meta, path), metrics=meta.get("metrics", {}), status=status,
                      project_id=project.id if project is not None else None)
        db.add(row)
        db.flush()
    return row


def register_adapter(db: Session, path: Path, project_name: str | None = None, activate: bool = False) -> Adapter:
    """Record an adapter folder in the adapters table (status 'candidate', or 'active' with ``activate``)."""
    project = repo.get_project_or_raise(db, project_name) if project_name else None
    if activate and project is None:
        raise ValueError("--activate needs --project")
    adapter = ensure_adapter_row(db, path, AdapterStatus.CANDIDATE, project)
    if activate and project is not None:
        return promote_adapter(db, project, adapter.version)
    return adapter


def active_adapter(db: Session, project: Project | str) -> Adapter | None:
    """The adapter that currently labels the project (given by name or row), if any."""
    return repo.active_adapter(db, _project(db, project))


def list_adapters(db: Session, project: Project | str) -> Sequence[Adapter]:
    """The project's adapters (and project-less shared ones), newest first."""
    proj = _project(db, project)
    return db.scalars(
        select(Adapter).where((Adapter.project_id == proj.id) | (Adapter.project_id.is_(None)))
        .order_by(Adapter.created_at.desc(), Adapter.id.desc())
    ).all()


# --- promotion ------------------------------------------------------------------------------------------


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
            previous.status = AdapterStatus.RETIRED
    adapter.status = AdapterStatus.ACTIVE
    project.active_adapter_id = adapter.id
    repo.change_project_setting(db, project, HISTORY_KEY, lambda _: history)
    db.flush()
    return adapter
