"""What readers of a stored prediction rely on: the fields of a ``predictions`` row, as a structural type.

Consensus, export and the Label Studio task builder read predictions through this shape, so they take the
table's rows and anything else that has these fields (a test's simple object, a row from another query).
"""

from __future__ import annotations

from typing import Any, Protocol


class PredictionFields(Protocol):
    """The labeler's answer for one item, as stored (see ``annotator.tables.Prediction``)."""

    adapter_version: str
    emotions: dict[str, Any]  # label -> probability
    intensity: float | None
    intensities: dict[str, Any] | None  # label -> intensity
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None
    confidence: float | None
