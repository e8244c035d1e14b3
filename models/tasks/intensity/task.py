"""intensity.v1: "intensity:" -> expectation over the digit tokens 0..9, divided by 9."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from models.backends.base import Branch, BranchResult
from models.tasks.base import Completion, Example
from models.tasks.intensity.parser import expected_level, level_of
from models.tasks.templates import render
from models.tokens import Codec

LEVELS = tuple(f" {d}" for d in range(10))


@dataclass(frozen=True)
class IntensityTask:
    """Overall intensity in [0, 1] read as an expected digit."""

    template: str = "intensity.v1"
    name: str = "intensity.v1"
    field: str = "intensity"
    stem: str = " intensity:"

    def instruction(self) -> str:
        """Its line of the system prompt."""
        return render(self.template)

    def branches(self, text: str, codec: Codec) -> list[Branch]:
        """One branch reading the ten level tokens."""
        ids, levels = codec.choice_branch(self.stem, LEVELS)
        return [Branch(ids=ids, read=levels)]

    def parse(self, text: str, results: Sequence[BranchResult], codec: Codec) -> float | None:
        """Expected level / 9."""
        return expected_level(results[0].scores) if results else None

    def completions(self, example: Example) -> list[Completion]:
        """"intensity: <digit>" when the example has an intensity."""
        if example.intensity is None:
            return []
        return [Completion(self.stem, LEVELS[level_of(example.intensity, len(LEVELS))], LEVELS)]
