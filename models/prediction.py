"""What a labeler says about one item, whichever readout made it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    """One item's machine labels. ``cause`` is ``(start, end, text[start:end])`` in characters, or None.

    ``intensities``: an intensity per emotion (the one-pass readout); ``intensity`` is then that of the most
    probable emotion. The instruction readout gives only the item's overall ``intensity``.
    ``embedding``: a small fixed-size vector of the item (the one-pass readout, :mod:`models.onepass.embedding`)
    that choosing what to label next compares items by; None from the instruction readout.
    ``cause_turn``: for a turn of a conversation whose cause lies in an earlier turn, that turn's number
    (``cause`` then indexes that turn's text); None: the cause is in the item's own text.
    """

    emotions: dict[str, float]
    intensity: float | None
    cause: tuple[int, int, str] | None
    adapter_version: str
    intensities: dict[str, float] | None = None
    embedding: tuple[float, ...] | None = None
    cause_turn: int | None = None
