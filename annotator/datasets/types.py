"""The common record every dataset reader yields: :class:`DatasetRow` (and its :class:`CauseSpan`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LABEL = re.compile(r"^[a-z][a-z0-9_\-]*$")
LABEL_ERROR = "label_error"  # meta key: why a row's gold label was dropped (e.g. a label not in the dataset's list)


class DatasetFormatError(ValueError):
    """A dataset file that does not match its documented format; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line


@dataclass(frozen=True)
class CauseSpan:
    """Character offsets ``[start, end)`` of an emotion-cause span inside an example's text."""

    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"cause span offsets must satisfy 0 <= start <= end, got {self.start}..{self.end}")
        if self.end - self.start != len(self.text):
            raise ValueError(
                f"cause span {self.start}..{self.end} is {self.end - self.start} characters "
                f"but its text {self.text!r} has {len(self.text)}"
            )


@dataclass(frozen=True)
class DatasetRow:
    """One text with its gold emotion annotation, as read from a public dataset.

    Not a training example: :mod:`annotator.datasets.convert` turns rows into training records (JSON
    objects), which ``models.training.data.example_from_dict`` reads as ``models.tasks.base.Example``;
    that JSON record is the one seam between the two packages.

    ``emotions`` is ``None`` when the row carries no emotion label and ``()`` when the dataset says
    "no emotion" without having a ``neutral`` class (SemEval E-c all-zero rows). ``meta`` holds everything
    else a reader found useful (rater votes, dialogue ids, spans that are not in ``text``, ...). Examples
    hash without ``meta`` (so they can go in sets) but compare with it.
    """

    id: str
    text: str
    emotions: tuple[str, ...] | None
    intensity: float | None
    cause: CauseSpan | None
    taxonomy: str
    split: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def label_error(self) -> str | None:
        """Why the row's gold emotion label was dropped (``emotions`` is then ``None``), or ``None``."""
        return self.meta.get(LABEL_ERROR)

    def __post_init__(self) -> None:
        if self.emotions is not None:
            if not isinstance(self.emotions, tuple):
                # Frozen: normalise a list the caller passed without giving up immutability.
                object.__setattr__(self, "emotions", tuple(self.emotions))
            bad = [label for label in self.emotions if not isinstance(label, str) or not _LABEL.match(label)]
            if bad:
                raise ValueError(f"example {self.id!r}: emotion labels must be lower-case words, got {bad!r}")
        if self.intensity is not None and not 0.0 <= self.intensity <= 1.0:
            raise ValueError(f"example {self.id!r}: intensity must be within [0, 1], got {self.intensity}")
        if self.cause is not None:
            if self.cause.end > len(self.text) or self.text[self.cause.start : self.cause.end] != self.cause.text:
                raise ValueError(
                    f"example {self.id!r}: cause span {self.cause.start}..{self.cause.end} "
                    f"({self.cause.text!r}) is not the text at those offsets"
                )
