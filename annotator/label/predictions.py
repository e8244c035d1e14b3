"""What readers of a stored prediction rely on: the fields of a ``predictions`` row, as a structural type.

Consensus, export and the Label Studio task builder read predictions through this shape, so they take the
table's rows and anything else that has these fields (a test's simple object, a row from another query).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class PredictionFields(Protocol):
    """The labeler's answer for one item, as stored (see ``annotator.tables.Prediction``)."""

    adapter_version: str
    emotions: dict[str, Any]  # label -> probability
    intensity: float | None
    intensities: dict[str, Any] | None  # label -> intensity
    cause_start: int | None
    cause_end: int | None
    cause_text: str | None
    cause_turn: int | None  # an earlier turn of the item's conversation the cause span lies in (None: its own)
    confidence: float | None


def pack_embedding(vector: Sequence[float]) -> bytes:
    """A prediction's embedding as stored in ``predictions.embedding``: float16, little-endian."""
    return np.asarray(vector, dtype="<f2").tobytes()


def unpack_embedding(blob: bytes | None) -> np.ndarray | None:
    """A stored embedding back as float32; None for none, and for a blob that is not one (empty, an odd
    number of bytes, or numbers that are not finite): a damaged row must not stop a queue."""
    if not blob or len(blob) % 2:
        return None
    vector = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    return vector if np.isfinite(vector).all() else None
