"""The system prompt shared by the tasks that run together (so they share one prompt and one KV cache)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Sequence

from models.backends.base import Branch, BranchResult, Query
from models.tasks.base import Completion, Example, Task
from models.tasks.templates import render
from models.tokens import ChatPrompt, Codec

PROMPT_TEMPLATE = "prompt.v1"


def system_prompt(tasks: Sequence[Task], template: str = PROMPT_TEMPLATE) -> str:
    """The system message: a header plus each task's instruction line, in task order."""
    return render(template, instructions=[task.instruction() for task in tasks])


@dataclass(frozen=True)
class TrainBranch:
    """A branch for teacher forcing: ``targets`` are predicted by its last ``len(targets)`` positions.

    ``background``: it teaches the task's common answer (see ``Completion.background``); ``weight``
    scales its loss (above 1 when it stands for unsampled siblings).
    """

    ids: tuple[int, ...]
    targets: tuple[int, ...]
    background: bool = False
    weight: float = 1.0


def sample_background(branches: Sequence[TrainBranch], keep: int | None, rng: random.Random) -> list[TrainBranch]:
    """All foreground branches plus at most ``keep`` background ones, each weighted by how many it stands for.

    The weighted loss is then an unbiased estimate of the loss over every branch (so calibration is kept),
    at a fraction of the tokens: GoEmotions has 28 yes/no branches an example and ~1.2 of them are "yes".
    ``keep=None`` keeps everything.
    """
    background = [b for b in branches if b.background]
    if keep is None or len(background) <= keep:
        return list(branches)
    chosen = set(rng.sample(range(len(background)), keep))
    weight = len(background) / keep
    picked = iter(range(len(background)))
    out = []
    for branch in branches:
        if not branch.background:
            out.append(branch)
        elif next(picked) in chosen:
            out.append(dataclasses.replace(branch, weight=branch.weight * weight))
    return out


class Prompter:
    """Turns texts into backend queries, and labeled examples into training branches, for a task list."""

    def __init__(self, tasks: Sequence[Task], codec: Codec, template: str = PROMPT_TEMPLATE) -> None:
        self.tasks = list(tasks)
        self.codec = codec
        self.template = template
        self.system = system_prompt(self.tasks, template)
        self.chat: ChatPrompt = codec.chat_prompt(self.system)
        self.prefix: tuple[int, ...] = codec.encode(self.chat.prefix)

    def prompt_text(self, text: str) -> str:
        """The full prompt as one string (what a text-level trainer such as trl's DPO sees)."""
        return self.chat.prefix + text + self.chat.suffix

    def item_ids(self, text: str) -> tuple[int, ...]:
        """Token ids of the per-item part of the prompt (text + turn end + assistant start)."""
        return self.codec.encode(text + self.chat.suffix)

    def query(self, text: str) -> tuple[Query, list[slice]]:
        """The backend query for ``text`` and, per task, the slice of branches it owns."""
        branches: list[Branch] = []
        slices = []
        for task in self.tasks:
            own = task.branches(text, self.codec)
            slices.append(slice(len(branches), len(branches) + len(own)))
            branches.extend(own)
        return Query(item=self.item_ids(text), branches=tuple(branches)), slices

    def parse(self, text: str, results: Sequence[BranchResult], slices: Sequence[slice]) -> dict[str, Any]:
        """Each task's parsed value, keyed by the Prediction field it fills."""
        return {task.field: task.parse(text, results[s], self.codec) for task, s in zip(self.tasks, slices)}

    def completions(self, example: Example) -> list[Completion]:
        """All tasks' text targets for one example."""
        return [c for task in self.tasks for c in task.completions(example)]

    def train_branches(self, example: Example) -> list[TrainBranch]:
        """Token-level training branches: the same branch ids the readout uses, with the answer as target."""
        out = []
        for completion in self.completions(example):
            if completion.choices:
                ids, choice_ids = self.codec.choice_branch(completion.stem, completion.choices)
                target = choice_ids[completion.choices.index(completion.answer)]
                out.append(TrainBranch(ids, (target,), background=completion.background))
            else:
                ids, answer = self.codec.completion_ids(completion.stem, completion.answer)
                out.append(TrainBranch(ids + answer[:-1], answer, background=completion.background))
        return out
