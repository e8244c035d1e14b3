"""Task factories by frozen, versioned name."""

from __future__ import annotations

from typing import Callable, Sequence

from models.tasks.base import Task
from models.tasks.cause.task import CauseTask
from models.tasks.emotion.task import EmotionTask
from models.tasks.intensity.task import IntensityTask

DEFAULT_TASKS = ("emotion.v1", "intensity.v1", "cause.v1")

_FACTORIES: dict[str, Callable[[tuple[str, ...]], Task]] = {
    "emotion.v1": lambda labels: EmotionTask(labels=labels),
    "intensity.v1": lambda labels: IntensityTask(),
    "cause.v1": lambda labels: CauseTask(),
}


def make_tasks(names: Sequence[str], labels: Sequence[str]) -> list[Task]:
    """Build the named tasks for a taxonomy; at most one task per Prediction field."""
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise NotImplementedError(f"unknown task(s): {', '.join(unknown)}; known: {', '.join(_FACTORIES)}")
    tasks = [_FACTORIES[n](tuple(labels)) for n in names]
    fields = [t.field for t in tasks]
    if len(set(fields)) != len(fields):
        raise ValueError(f"two tasks fill the same field: {fields}")
    return tasks
