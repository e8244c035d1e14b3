"""When a predicted emotion counts as present: per-label thresholds, and where they come from.

A one-pass adapter carries thresholds tuned per label (rare labels are best decided below 0.5); a project
may set its own ``emotion_threshold``, which then decides every label; otherwise 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Union

from sqlalchemy.orm import Session

from annotator import repo
from annotator.tables import Project

# When a predicted emotion counts as present: one threshold for every label, or one per label (a label
# left out of the mapping uses 0.5). A one-pass adapter's tuned thresholds are per label.
Thresholds = Union[float, Mapping[str, float]]
DEFAULT_THRESHOLD = 0.5


def threshold_of(thresholds: Thresholds, label: str) -> float:
    """The threshold that decides ``label``."""
    if isinstance(thresholds, (int, float)):
        return float(thresholds)
    return float(thresholds.get(label, DEFAULT_THRESHOLD))


def decided(scores: Mapping[str, Any], thresholds: Thresholds) -> list[str]:
    """The labels whose probability reaches their threshold, sorted."""
    return sorted(label for label, p in scores.items() if float(p) >= threshold_of(thresholds, label))


def decision_margin(scores: Mapping[str, Any], thresholds: Thresholds) -> float | None:
    """How sure the least certain decision is, in [0.5, 1]: 0.5 at a threshold, 1 at 0 or 1 (with every
    threshold at 0.5 this is min over labels of max(p, 1 - p)); None without scores."""
    margins = []
    for label, p in scores.items():
        t, p = threshold_of(thresholds, label), float(p)
        margins.append((p - t) / (1 - t) if p >= t else (t - p) / t)
    return 0.5 + 0.5 * min(margins) if margins else None


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
