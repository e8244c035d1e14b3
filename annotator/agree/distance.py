"""MASI distance between emotion sets (Passonneau 2006): ``1 - Jaccard * monotonicity``.

Monotonicity is 1 for equal sets, 2/3 when one contains the other, 1/3 when they only overlap and 0
when they are disjoint. Two empty sets are equal (distance 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def masi_distance(a: frozenset[str], b: frozenset[str]) -> float:
    """MASI distance in [0, 1] between two label sets."""
    if a == b:
        return 0.0
    union = len(a | b)
    common = len(a & b)
    if common == 0:
        return 1.0
    monotonicity = 2.0 / 3.0 if (a <= b or b <= a) else 1.0 / 3.0
    return 1.0 - (common / union) * monotonicity


def masi_matrix(sets: Sequence[frozenset[str]]) -> np.ndarray:
    """``(V, V)`` matrix of MASI distances between every pair of ``sets``."""
    n = len(sets)
    out = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = masi_distance(sets[i], sets[j])
    return out


def masi_similarity(sets: Sequence[frozenset[str]]) -> float:
    """Mean pairwise ``1 - MASI`` over the sets (1.0 for fewer than two): one item's agreement."""
    n = len(sets)
    if n < 2:
        return 1.0
    total = sum(1.0 - masi_distance(sets[i], sets[j]) for i in range(n) for j in range(i + 1, n))
    return total / (n * (n - 1) / 2)
