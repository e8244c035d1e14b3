"""Codings -> reliability data (value counts) for one field.

A :class:`Coding` is what one coder (an annotator, or the labeler) said about one item. Fields:

- ``emotion:<label>``: nominal, the label present (1) or absent (0), one unit per item;
- ``emotions``: the emotion set as one value, MASI distance between sets, one unit per item;
- ``intensity``: interval, on a 0.01 grid (so the package's values x values work stays small; ratings
  given as whole percent, such as Snow 2008's 0..100, are exact);
- ``intensity:<label>``: interval, the intensity a coder gave that emotion (coders who did not give one
  for the item are missing there), on the same grid;
- ``cause``: nominal in/out of the cause, one unit per token of the item's text; a coder who annotated
  the item without a cause puts every token out.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotator.agree.alpha import ValueCounts, distance_metric
from annotator.agree.distance import masi_matrix
from annotator.agree.spans import Span, span_mask, token_offsets

FIELDS = ("emotions", "intensity", "cause")
EMOTION_PREFIX = "emotion:"
INTENSITY_PREFIX = "intensity:"
INTENSITY_GRID = 100  # intensity values are rounded to 1/100


@dataclass(frozen=True)
class Coding:
    """One coder's labels for one item."""

    item: int
    coder: str
    emotions: frozenset[str]
    intensity: float | None = None
    cause: Span | None = None
    intensities: tuple[tuple[str, float], ...] = ()  # (emotion, intensity) pairs, sorted

    def intensity_of(self, label: str) -> float | None:
        """The intensity this coder gave ``label``, if any."""
        return dict(self.intensities).get(label)


def field_names(labels: Sequence[str], codings: Sequence[Coding] = ()) -> list[str]:
    """Every field of a project: one per emotion label, then the set, intensity and cause, then one per
    emotion some coding in ``codings`` gives an intensity for."""
    rated = {label for c in codings for label, _ in c.intensities}
    return ([f"{EMOTION_PREFIX}{label}" for label in labels] + list(FIELDS)
            + [f"{INTENSITY_PREFIX}{label}" for label in labels if label in rated])


def check_fields(fields: Sequence[str], labels: Sequence[str]) -> list[str]:
    """``fields`` if each is a field of a project with ``labels``, else ValueError listing the valid ones."""
    valid = field_names(labels) + [f"{INTENSITY_PREFIX}{label}" for label in labels]
    unknown = [f for f in fields if f not in valid]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; valid: emotion:<label>, intensity:<label> "
                         f"(labels: {', '.join(labels)}), {', '.join(FIELDS)}")
    return list(fields)


def value_counts(codings: Sequence[Coding], field: str, texts: Mapping[int, str]) -> ValueCounts:
    """The value counts of ``field`` over ``codings`` (``texts`` maps item -> text, used for causes)."""
    if field.startswith(EMOTION_PREFIX):
        label = field[len(EMOTION_PREFIX):]
        return _nominal([(c.item, c.coder, int(label in c.emotions)) for c in codings], "nominal")
    if field == "emotions":
        return _emotion_sets(codings)
    if field == "intensity":
        rows = [(c.item, c.coder, round(c.intensity * INTENSITY_GRID) / INTENSITY_GRID)
                for c in codings if c.intensity is not None]
        return _nominal(rows, "interval")
    if field.startswith(INTENSITY_PREFIX):
        label = field[len(INTENSITY_PREFIX):]
        rows = [(c.item, c.coder, round(value * INTENSITY_GRID) / INTENSITY_GRID)
                for c in codings if (value := c.intensity_of(label)) is not None]
        return _nominal(rows, "interval")
    if field == "cause":
        return _cause(codings, texts)
    raise ValueError(f"unknown field {field!r}")


def _nominal(rows: Sequence[tuple[int, str, Hashable]], level: str) -> ValueCounts:
    """One unit per item, from (item, coder, value) rows."""
    if not rows:
        return ValueCounts(np.zeros((0, 2)), np.arange(2), level)
    items, coders, values = zip(*rows)
    data = counts_from_arrays(np.array(items), np.array(values), level)
    return ValueCounts(data.counts, data.domain, level, n_coders=_pairable_coders(items, coders))


def counts_from_arrays(units: np.ndarray, values: np.ndarray, level: str = "nominal") -> ValueCounts:
    """Value counts from two parallel arrays, one entry per coding: the unit coded and the value given.

    Values are sorted into the domain (interval and ordinal levels need it ordered); one row per
    distinct unit. Vectorised: a million units by five coders take well under a second.
    """
    domain, value_index = _dense(values)
    unit_ids, unit_index = _dense(units)
    flat = np.bincount(unit_index * len(domain) + value_index, minlength=len(unit_ids) * len(domain))
    return ValueCounts(flat.reshape(len(unit_ids), len(domain)).astype(np.float64), domain, level)


def _dense(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``, in linear time for integers in a compact range."""
    if values.dtype.kind in "iub" and len(values):
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= 4 * len(values) + 1024:
            shifted = values.astype(np.int64) - low
            seen = np.bincount(shifted, minlength=span) > 0
            rank = np.cumsum(seen) - 1
            return np.flatnonzero(seen) + low, rank[shifted]
    return np.unique(values, return_inverse=True)


def _emotion_sets(codings: Sequence[Coding]) -> ValueCounts:
    sets = sorted({c.emotions for c in codings}, key=lambda s: sorted(s))
    ids = {s: n for n, s in enumerate(sets)}
    data = _nominal([(c.item, c.coder, ids[c.emotions]) for c in codings], "nominal")
    metric = distance_metric(masi_matrix(sets))
    return ValueCounts(data.counts, data.domain, metric, n_coders=data.n_coders)


def _cause(codings: Sequence[Coding], texts: Mapping[int, str]) -> ValueCounts:
    by_item: dict[int, list[Coding]] = {}
    for c in codings:
        by_item.setdefault(c.item, []).append(c)
    blocks, groups = [], []
    for item in sorted(by_item):
        offsets = token_offsets(texts[item])
        if len(offsets) == 0:
            continue
        inside = np.zeros(len(offsets))
        for c in by_item[item]:
            inside += span_mask(offsets, c.cause)
        blocks.append(np.stack([len(by_item[item]) - inside, inside], axis=1))
        groups.append(np.full(len(offsets), item))
    if not blocks:
        return ValueCounts(np.zeros((0, 2)), np.arange(2), "nominal")
    items = [c.item for c in codings]
    return ValueCounts(np.concatenate(blocks), np.arange(2), "nominal", groups=np.concatenate(groups),
                       n_coders=_pairable_coders(items, [c.coder for c in codings]))


def _pairable_coders(items: Sequence[int], coders: Sequence[str]) -> int:
    """Coders who coded at least one item that someone else coded too."""
    per_item: dict[int, set[str]] = {}
    for item, coder in zip(items, coders):
        per_item.setdefault(item, set()).add(coder)
    return len(set().union(*(s for s in per_item.values() if len(s) >= 2))) if per_item else 0
