"""Krippendorff's alpha from value counts, and bootstrap confidence intervals over items.

The ``krippendorff`` package computes every alpha here (``krippendorff.alpha(value_counts=...)``); this
module only shapes its input. Data are kept in the package's *value counts* form, one row per unit
(an item, or an item's token for causes) and one column per value, so a bootstrap resample is just a
row selection.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np

Level = str | Callable[..., np.ndarray]

# Work allowed per bootstrap, in units x values^2 summed over resamples: the package builds several
# (units, values, values) arrays per call (about 4-15 million cells a second here), so a field with
# many items or many distinct values (intensity) gets fewer resamples instead of stalling for minutes.
BOOTSTRAP_BUDGET = 40_000_000
MIN_RESAMPLES = 20


@dataclass(frozen=True)
class ValueCounts:
    """Reliability data in value-counts form.

    ``counts[u, v]`` is how many coders gave value ``domain[v]`` to unit ``u``. ``groups[u]`` is the item
    a unit belongs to (units are sorted by it); None when every unit is its own item.
    """

    counts: np.ndarray
    domain: np.ndarray
    level: Level
    groups: np.ndarray | None = None
    n_coders: int = 0

    @property
    def n_items(self) -> int:
        """Items with at least two codings (the only ones alpha uses)."""
        pairable = self.counts.sum(axis=1) >= 2
        if self.groups is None:
            return int(pairable.sum())
        return int(np.unique(self.groups[pairable]).size)


def distance_metric(matrix: np.ndarray) -> Callable[..., np.ndarray]:
    """A ``krippendorff`` custom metric over a domain of value ids ``0..V-1``: it looks the distance of
    two ids up in ``matrix`` (by the values, not their positions, so unused values can be dropped)."""

    def metric(v1: np.ndarray, v2: np.ndarray, i1: np.ndarray, i2: np.ndarray, n_v: np.ndarray,
               dtype: Any = np.float64) -> np.ndarray:
        return matrix[v1.astype(np.int64), v2.astype(np.int64)].astype(dtype)

    return metric


def alpha(data: ValueCounts) -> float | None:
    """Krippendorff's alpha of ``data``; None when it is undefined (no unit with two codings, or no
    variation at all: every coding is the same value)."""
    return alpha_of(data.counts, data.domain, data.level)


def alpha_of(counts: np.ndarray, domain: np.ndarray, level: Level) -> float | None:
    """Alpha of raw value counts (units with fewer than two codings are dropped: they carry no pairs)."""
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return None
    used = counts.sum(axis=0) > 0
    if used.sum() < 2:
        return None
    counts, domain = counts[:, used], domain[used]  # unused values change nothing; fewer is faster
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                         level_of_measurement=level))  # type: ignore[arg-type]  # a str level is one of its four
    return None if np.isnan(value) else value


def bootstrap(data: ValueCounts, resamples: int, confidence: float = 0.95,
              seed: int = 0) -> tuple[float | None, float | None, int]:
    """Percentile bootstrap interval of alpha, resampling items with replacement.

    Returns ``(low, high, resamples used)``; the number used may be lower than asked for fields with
    many distinct values (see ``BOOTSTRAP_BUDGET``).
    """
    pairable = data.counts.sum(axis=1) >= 2
    counts = data.counts[pairable]
    if resamples <= 0 or len(counts) == 0:
        return None, None, 0
    used = counts.sum(axis=0) > 0
    counts, domain = counts[:, used], data.domain[used]
    rows_of = _item_rows(None if data.groups is None else data.groups[pairable], len(counts))
    n_items = len(rows_of[0])
    cost = max(1, len(counts) * counts.shape[1] ** 2)
    resamples = min(resamples, max(MIN_RESAMPLES, BOOTSTRAP_BUDGET // cost))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        picked = rng.integers(0, n_items, n_items)
        value = alpha_of(counts[_rows(rows_of, picked)], domain, data.level)
        if value is not None:
            values.append(value)
    if not values:
        return None, None, resamples
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high), resamples


def _item_rows(groups: np.ndarray | None, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first row, row count)`` per item; units of one item are contiguous."""
    if groups is None:
        return np.arange(n_units), np.ones(n_units, dtype=np.int64)
    boundaries = np.flatnonzero(np.diff(groups)) + 1
    starts = np.concatenate(([0], boundaries))
    lengths = np.diff(np.concatenate((starts, [n_units])))
    return starts, lengths


def _rows(rows_of: tuple[np.ndarray, np.ndarray], picked: np.ndarray) -> np.ndarray:
    """The unit rows of the picked items, concatenated (vectorised ``concat(arange(s, s+n))``)."""
    starts, lengths = rows_of[0][picked], rows_of[1][picked]
    if (lengths == 1).all():
        return starts
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(int(lengths.sum())) + offsets
