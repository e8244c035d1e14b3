"""Create and describe projects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.consensus import DEFAULT_THRESHOLD, Thresholds
from annotator.tables import Project
from annotator.taxonomy import Taxonomy, custom_taxonomy, get_taxonomy, taxonomy_from_file

DEFAULT_PROJECT_SETTINGS: dict[str, Any] = {
    "overlap": 1,  # annotations wanted per item (Label Studio's maximum_annotations)
    # "emotion_threshold": a probability set here decides every label of the project, overriding the
    # thresholds the labeling adapter was tuned with (unset: the adapter's, else 0.5)
}


def project_threshold(project: Project) -> float | None:
    """The project's own decision threshold, if one is set (it overrides any adapter's)."""
    value = (project.settings or {}).get("emotion_threshold")
    return float(value) if value is not None else None


def decision_thresholds(db: Session, project: Project) -> Callable[[str | None], Thresholds]:
    """When a predicted emotion counts as present, per adapter version that predicted it.

    The project's own ``emotion_threshold`` if set; else the per-label thresholds tuned with that adapter
    (for a head with exactly the project's labels); else 0.5. Each version is looked up once.
    """
    fixed = project_threshold(project)
    labels = set(project.labels)
    known: dict[str | None, Thresholds] = {}

    def lookup(version: str | None) -> Thresholds:
        if fixed is not None:
            return fixed
        if version not in known:
            tuned = repo.adapter_thresholds(db, version) if version else None
            head = next((t for t in (tuned or {}).values() if set(t) == labels), None)
            known[version] = {k: float(v) for k, v in head.items()} if head else DEFAULT_THRESHOLD
        return known[version]

    return lookup


class ProjectExists(ValueError):
    """A project with that name already exists."""


def resolve_taxonomy(name: str | None, labels: list[str] | None = None,
                     labels_file: Path | None = None) -> Taxonomy:
    """A custom taxonomy from ``labels_file`` or ``labels`` if given, else the built-in one called ``name``."""
    if labels_file is not None:
        return taxonomy_from_file(labels_file, name=name or "custom")
    if labels:
        return custom_taxonomy(labels, name=name or "custom")
    return get_taxonomy(name or "goemotions")


def create_project(db: Session, name: str, taxonomy: Taxonomy, settings: dict[str, Any] | None = None,
                   exist_ok: bool = False) -> Project:
    """Create a project with a taxonomy; with ``exist_ok`` return the existing one if it has the same labels."""
    name = name.strip()
    if not name:
        raise ValueError("a project needs a non-empty name")
    existing = repo.find_project(db, name)
    if existing is not None:
        if exist_ok and tuple(existing.labels) == taxonomy.labels:
            return existing
        raise ProjectExists(
            f"project {name!r} already exists (taxonomy {existing.taxonomy}, {len(existing.labels)} labels)"
        )
    merged = {**DEFAULT_PROJECT_SETTINGS, **(settings or {})}
    return repo.add_project(db, name, taxonomy.name, taxonomy.labels, merged)
