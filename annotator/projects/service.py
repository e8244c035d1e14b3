"""Create and describe projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from annotator import repo
from annotator.tables import Project
from annotator.taxonomy import BUILTIN, Taxonomy, custom_taxonomy, get_taxonomy, taxonomy_from_file

DEFAULT_PROJECT_SETTINGS: dict[str, Any] = {
    "overlap": 1,  # annotations wanted per item (Label Studio's maximum_annotations)
    # "emotion_threshold": a probability set here decides every label of the project, overriding the
    # thresholds the labeling adapter was tuned with (unset: the adapter's, else 0.5)
}


class ProjectExists(ValueError):
    """A project with that name already exists."""


def resolve_taxonomy(name: str | None, labels: list[str] | None = None,
                     labels_file: Path | None = None) -> Taxonomy:
    """A custom taxonomy from ``labels_file`` or ``labels`` if given, else the built-in one called ``name``.

    A built-in name together with labels is refused (ValueError): which one was meant is not ours to guess.
    """
    if labels_file is not None and labels:
        raise ValueError("give your labels once: --labels or --labels-file, not both")
    if (labels or labels_file is not None) and name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in taxonomy with labels of its own: drop --labels/--labels-file to "
                         f"use it, or give your labels a name of your own (--taxonomy my-{name} --labels ...)")
    if labels_file is not None:
        return taxonomy_from_file(labels_file, name=name or "custom")
    if labels:
        return custom_taxonomy(labels, name=name or "custom")
    return get_taxonomy(name or "goemotions")


MAX_NAME_CHARS = 100


def check_project_name(name: str) -> str:
    """The name stripped, or ValueError: a name is one printable line of at most 100 characters (it appears in
    commands, URLs, Label Studio titles and table cells)."""
    name = name.strip()
    if not name:
        raise ValueError("a project needs a non-empty name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a project name has at most {MAX_NAME_CHARS} characters, got {len(name):,}")
    if not name.isprintable():
        raise ValueError(f"a project name is one line of printable characters, got {name[:40]!r}")
    return name


def create_project(db: Session, name: str, taxonomy: Taxonomy, settings: dict[str, Any] | None = None,
                   exist_ok: bool = False) -> Project:
    """Create a project with a taxonomy; with ``exist_ok`` return the existing one if it has the same labels."""
    name = check_project_name(name)
    existing = repo.find_project(db, name)
    if existing is not None:
        if exist_ok and tuple(existing.labels) == taxonomy.labels:
            return existing
        different = " with other labels" if exist_ok else ""
        raise ProjectExists(
            f"project {name!r} already exists{different} (taxonomy {existing.taxonomy}, {len(existing.labels)} labels)"
        )
    merged = {**DEFAULT_PROJECT_SETTINGS, **(settings or {})}
    return repo.add_project(db, name, taxonomy.name, taxonomy.labels, merged)
