"""Pure readout of the emotion branches."""

from __future__ import annotations

import math
from typing import Sequence


def yes_probability(scores: Sequence[float]) -> float | None:
    """P(yes) from the (yes, no) scores: a softmax over just those two tokens, i.e. a sigmoid of the gap.

    Each label gets its own probability (multi-label); labels never compete with each other.
    """
    if len(scores) != 2 or not all(math.isfinite(float(s)) for s in scores):
        return None
    gap = float(scores[0]) - float(scores[1])
    return 1.0 / (1.0 + math.exp(-gap)) if gap >= 0 else math.exp(gap) / (1.0 + math.exp(gap))
