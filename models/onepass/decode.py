"""Raw head outputs -> the values a prediction holds: probabilities, intensities, a cause span.

Pure tensor and list code (no model): the cause span is chosen among token spans of one turn (the item's own
text, or a turn of its conversation up to it) and mapped to characters through the tokenizer's offsets, so it
is always a substring of that turn's text.
"""

from __future__ import annotations

from typing import Sequence

import torch

from models.onepass.dialogue import TurnTokens
from models.onepass.heads import CauseOutput, TaxonomyOutput
from models.onepass.inputs import Batch, ItemTokens
from models.tasks.cause.parser import trim_span

MAX_SPAN_TOKENS = 48


def emotion_probabilities(out: TaxonomyOutput, labels: Sequence[str]) -> list[dict[str, float]]:
    """One ``{label: P(label applies)}`` per row (independent sigmoids)."""
    probs = out.emotion_logits.float().sigmoid().cpu().tolist()
    return [dict(zip(labels, row)) for row in probs]


def intensities(out: TaxonomyOutput, labels: Sequence[str], trained: Sequence[str]) -> list[dict[str, float]]:
    """One ``{label: intensity}`` per row; a label whose own output was never trained gets the generic one."""
    own = out.intensity.float().cpu().tolist()
    generic = out.generic_intensity.float().cpu().tolist()
    keep = set(trained)
    return [{label: (value if label in keep else g) for label, value in zip(labels, row)}
            for row, g in zip(own, generic)]


def best_spans(cause: CauseOutput, batch: Batch, max_tokens: int = MAX_SPAN_TOKENS) -> list[tuple[int, int] | None]:
    """Per row, the (first, last) column of the best token span, or None where "no cause" scores higher.

    A span lies within one turn (``batch.turn_of``, where the pointer ranges over several)."""
    start, end = cause.start.float(), cause.end.float()
    width = start.shape[1]
    col = torch.arange(width, device=start.device)
    band = (col[None, :] >= col[:, None]) & (col[None, :] - col[:, None] < max_tokens)  # (T, T): end >= start
    allowed = band[None]
    if batch.turn_of is not None:
        allowed = allowed & (batch.turn_of[:, :, None] == batch.turn_of[:, None, :])
    scores = start[:, :, None] + end[:, None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    flat = scores.flatten(1)
    best, where = flat.max(dim=1)
    none = (cause.none_start + cause.none_end).float()
    out: list[tuple[int, int] | None] = []
    for r in range(start.shape[0]):
        if not bool(batch.text[r].any()) or not torch.isfinite(best[r]) or best[r] <= none[r]:
            out.append(None)
            continue
        index = int(where[r])
        out.append((index // width, index % width))
    return out


def span_chars(text: str, item: ItemTokens | TurnTokens,
               columns: tuple[int, int] | None) -> tuple[int, int, str] | None:
    """A token span (columns of the batch row) as ``(start, end, text[start:end])``, whitespace-trimmed;
    ``item`` is the item or turn whose ``text`` the columns lie in."""
    if columns is None:
        return None
    first, last = columns[0] - item.first, columns[1] - item.first
    if not 0 <= first <= last < item.n_text:
        return None
    start, end = trim_span(text, item.offsets[first][0], max(item.offsets[first][0], item.offsets[last][1]))
    return (start, end, text[start:end]) if end > start else None


def turn_at(area: Sequence[TurnTokens], column: int) -> TurnTokens | None:
    """The turn of ``area`` whose text tokens include ``column``."""
    return next((turn for turn in area if turn.first <= column < turn.first + turn.n_text), None)


def token_span(item: ItemTokens | TurnTokens, start: int, end: int) -> tuple[int, int] | None:
    """The text tokens (indexes among the item's text tokens) that cover characters ``[start, end)``.

    ``None`` when no token of the (possibly truncated) text overlaps the span.
    """
    inside = [i for i, (a, b) in enumerate(item.offsets) if a < end and b > start and b > a]
    if not inside:
        return None
    return inside[0], inside[-1]
