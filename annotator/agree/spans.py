"""Cause spans at token level: a span as a mask over the text's tokens, a mask back to a span, span F1.

Tokens are words and single punctuation marks (``\\w+|[^\\w\\s]``); a token is inside a span when any
of its characters is.
"""

from __future__ import annotations

import re

import numpy as np

Span = tuple[int, int]

_TOKEN = re.compile(r"\w+|[^\w\s]")


def as_span(start: int | None, end: int | None) -> Span | None:
    """A span from two nullable columns (or a stored ``[start, end]`` unpacked); None when either is missing."""
    return None if start is None or end is None else (int(start), int(end))


def token_offsets(text: str) -> np.ndarray:
    """``(T, 2)`` array of the ``[start, end)`` character offsets of the text's tokens."""
    offsets = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    return np.array(offsets, dtype=np.int64).reshape(-1, 2)


def span_mask(offsets: np.ndarray, span: Span | None) -> np.ndarray:
    """Boolean mask of the tokens that overlap ``span`` (all False for no span)."""
    if span is None:
        return np.zeros(len(offsets), dtype=bool)
    start, end = span
    return (offsets[:, 0] < end) & (offsets[:, 1] > start)


def mask_to_span(offsets: np.ndarray, mask: np.ndarray) -> Span | None:
    """The longest contiguous run of masked tokens as character offsets (the first such run on ties)."""
    if not mask.any():
        return None
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    best = int(np.argmax(ends - starts))
    return int(offsets[starts[best], 0]), int(offsets[ends[best] - 1, 1])


def span_f1(a: np.ndarray, b: np.ndarray) -> float | None:
    """Token F1 between two span masks; None when both are empty (nothing to compare)."""
    both = int((a & b).sum())
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return None
    return 2.0 * both / total
