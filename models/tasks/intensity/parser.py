"""Pure readout of the intensity branch."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def expected_level(scores: Sequence[float]) -> float | None:
    """Expectation of the level under a softmax over the level tokens, scaled to [0, 1]."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size < 2 or not np.all(np.isfinite(values)):
        return None
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    return float(probs @ np.arange(values.size) / (values.size - 1))


def level_of(intensity: float, levels: int = 10) -> int:
    """The level token (0 .. levels - 1) that encodes an intensity in [0, 1]."""
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be in [0, 1], got {intensity}")
    return int(round(intensity * (levels - 1)))
