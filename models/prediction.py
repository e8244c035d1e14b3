"""What a labeler says about one item, whichever readout made it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    """One item's machine labels. ``cause`` is ``(start, end, text[start:end])`` in characters, or None.

    ``intensities``: an intensity per emotion (the one-pass readout); ``intensity`` is then that of the most
    probable emotion. The instruction readout gives only the item's overall ``intensity``.
    """

    emotions: dict[str, float]
    intensity: float | None
    cause: tuple[int, int, str] | None
    adapter_version: str
    intensities: dict[str, float] | None = None
