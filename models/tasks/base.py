"""Types shared by all tasks: the labeled example, the text completion, and the Task protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from models.backends.base import Branch, BranchResult
from models.tokens import Codec


@dataclass(frozen=True)
class Example:
    """A (possibly partly) labeled text. ``None`` in a field means "not annotated", never "negative".

    ``emotions``: the labels that apply (every other taxonomy label is then a "no").
    ``intensity``: overall intensity in [0, 1].
    ``cause``: character span ``(start, end)`` of the cause in ``text``; an empty span ``(s, s)`` means
    "annotated: no cause in the text".
    ``intensities``: intensity in [0, 1] per emotion where annotated (SemEval EI-reg gives one emotion's).
    ``taxonomy``: the taxonomy ``emotions`` belong to (the one-pass readout trains a head per taxonomy).
    ``conversation``, ``turn``, ``speaker``: where the text is a turn of a conversation, which one, its
    position there and who said it (the one-pass readout reads it after the turns before it). An example of
    a conversation with no field at all is context only: it is read as an earlier turn, never scored.
    ``cause_turn``: for a turn whose cause lies in an earlier turn of its conversation, that turn's number
    (``cause`` then indexes that turn's text); None: ``cause`` is in ``text``.
    """

    text: str
    emotions: frozenset[str] | None = None
    intensity: float | None = None
    cause: tuple[int, int] | None = None
    intensities: dict[str, float] | None = field(default=None, hash=False)
    taxonomy: str | None = None
    conversation: str | None = None
    turn: int | None = None
    speaker: str | None = None
    cause_turn: int | None = None

    @property
    def labeled(self) -> bool:
        """Whether it carries any field to learn or score (else it is context only)."""
        return (self.emotions is not None or self.intensity is not None or self.cause is not None
                or bool(self.intensities))


@dataclass(frozen=True)
class Completion:
    """One training target as text: the assistant turn continues with ``stem + answer``.

    ``choices``: when the readout compares a closed set of answers (" yes" / " no"), all of them, so
    training targets exactly the token the readout scores (and DPO can take the others as rejected).
    ``background``: the task's common, uninformative answer (an emotion's " no"); training may keep only a
    sample of these per example, up-weighted so the expected loss is unchanged.
    """

    stem: str
    answer: str
    choices: tuple[str, ...] = ()
    background: bool = False


@runtime_checkable
class Task(Protocol):
    """What a task provides. A task never loads a model; a backend never sees a task."""

    name: str  # registry name, frozen once published, e.g. "emotion.v1"
    field: str  # the Prediction field it fills: "emotions", "intensity" or "cause"

    def instruction(self) -> str:
        """Its line of the system prompt."""
        ...

    def branches(self, text: str, codec: Codec) -> list[Branch]:
        """The branches to evaluate for ``text`` (each conditioned on the prompt only)."""
        ...

    def parse(self, text: str, results: Sequence[BranchResult], codec: Codec) -> Any:
        """Turn the backend's results for its branches into a value; ``None`` when unreadable."""
        ...

    def completions(self, example: Example) -> list[Completion]:
        """Text targets for training; empty when ``example`` lacks this task's field."""
        ...
