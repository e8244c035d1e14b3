"""cause.v1: "cause:" -> constrained greedy decode of " " + an exact substring of the text, or " none"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from models.backends.base import Branch, BranchResult
from models.tasks.base import Completion, Example
from models.tasks.cause.constraint import LEAD, NONE, SubstringConstraint
from models.tasks.cause.parser import as_cause, trim_span
from models.tasks.templates import render
from models.tokens import Codec


@dataclass(frozen=True)
class CauseTask:
    """The emotion cause as a span that is always a substring of the text."""

    max_tokens: int = 32
    template: str = "cause.v1"
    name: str = "cause.v1"
    field: str = "cause"
    stem: str = " cause:"

    def instruction(self) -> str:
        """Its line of the system prompt."""
        return render(self.template)

    def branches(self, text: str, codec: Codec) -> list[Branch]:
        """One branch, decoded greedily under a substring constraint."""
        return [
            Branch(
                ids=codec.encode(self.stem),
                constraint=SubstringConstraint(text, codec),
                max_new_tokens=self.max_tokens,
            )
        ]

    def parse(self, text: str, results: Sequence[BranchResult], codec: Codec) -> tuple[int, int, str] | None:
        """(start, end, span text) in character offsets, or ``None`` for "none" / nothing usable."""
        if not results:
            return None
        return as_cause(text, SubstringConstraint(text, codec).span(results[0].tokens))

    def completions(self, example: Example) -> list[Completion]:
        """"cause: <span>" or "cause: none" when the example's cause is annotated (the prompt reads the text
        alone: a cause in an earlier turn of its conversation is "none" in it)."""
        if example.cause is None:
            return []
        if example.cause_turn is not None and example.cause_turn != example.turn:
            return [Completion(self.stem, NONE)]
        start, end = trim_span(example.text, *example.cause)
        answer = NONE if end <= start else LEAD.decode() + example.text[start:end]
        return [Completion(self.stem, answer)]
