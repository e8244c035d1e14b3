"""emotion.v1: one branch per label, " <label>:" -> P(" yes") vs P(" no")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from models.backends.base import Branch, BranchResult
from models.tasks.base import Completion, Example
from models.tasks.emotion.parser import yes_probability
from models.tasks.templates import render
from models.tokens import Codec

YES, NO = " yes", " no"


@dataclass(frozen=True)
class EmotionTask:
    """Multi-label emotions: an independent yes/no branch per taxonomy label."""

    labels: tuple[str, ...]
    template: str = "emotion.v1"
    name: str = "emotion.v1"
    field: str = "emotions"
    # The leading space makes most labels one token (" admiration" vs "ad|m|iration"): 58 instead of
    # 92 branch tokens for GoEmotions' 28 labels, and the same tokens as in the instruction's label list.
    stem_format: str = " {label}:"

    def __post_init__(self) -> None:
        if len(set(self.labels)) != len(self.labels) or not self.labels:
            raise ValueError("labels must be non-empty and distinct")

    def instruction(self) -> str:
        """Its line of the system prompt (lists the taxonomy)."""
        return render(self.template, labels=self.labels)

    def stem(self, label: str) -> str:
        """Branch text for one label."""
        return self.stem_format.format(label=label)

    def branches(self, text: str, codec: Codec) -> list[Branch]:
        """One branch per label reading the " yes" / " no" tokens."""
        out = []
        for label in self.labels:
            ids, (yes, no) = codec.choice_branch(self.stem(label), (YES, NO))
            out.append(Branch(ids=ids, read=(yes, no)))
        return out

    def parse(self, text: str, results: Sequence[BranchResult], codec: Codec) -> dict[str, float] | None:
        """Per-label P(yes); ``None`` if any label is unreadable."""
        probs = {label: yes_probability(result.scores) for label, result in zip(self.labels, results)}
        if len(probs) != len(self.labels) or any(p is None for p in probs.values()):
            return None
        return probs  # type: ignore[return-value]

    def completions(self, example: Example) -> list[Completion]:
        """"<label>: yes" for the example's labels, "<label>: no" for the rest of the taxonomy."""
        if example.emotions is None:
            return []
        return [
            Completion(self.stem(label), YES if label in example.emotions else NO, (YES, NO),
                       background=label not in example.emotions)
            for label in self.labels
        ]
