"""Each annotator against the leave-one-out consensus of the others, to find who disagrees with everyone.

For annotator *a* and every item *a* coded that at least one other annotator coded too, the others'
consensus (the rules of :mod:`annotator.agree.consensus`) becomes a second coder; alpha of the two is *a*'s
reliability on that field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from annotator.agree.alpha import alpha
from annotator.agree.consensus import combine_intensity, majority_emotions, token_majority_span
from annotator.agree.matrix import Coding, value_counts

CONSENSUS = "\x00consensus"  # a coder name no annotator can have


def consensus_coding(item: int, codings: Sequence[Coding], text: str | None,
                     weights: Mapping[str, float] | None = None, intensity_method: str = "mean") -> Coding:
    """The consensus of ``codings`` (one item) as one coding."""
    w = [weights.get(c.coder, 1.0) for c in codings] if weights else None
    cause = token_majority_span([c.cause for c in codings], text) if text is not None else None
    emotions = frozenset(majority_emotions([c.emotions for c in codings], w))
    per_emotion = {label: combine_intensity((c.intensity_of(label) for c in codings), intensity_method)
                   for label in sorted(emotions)}
    return Coding(item=item, coder=CONSENSUS, emotions=emotions,
                  intensity=combine_intensity((c.intensity for c in codings), intensity_method),
                  cause=cause, intensities=tuple((k, v) for k, v in per_emotion.items() if v is not None))


def loo_pairs(codings: Sequence[Coding], texts: Mapping[int, str], with_cause: bool = True) -> dict[str, list[Coding]]:
    """Per annotator: their codings interleaved with the consensus of the others on the same items
    (the cause consensus, which needs tokenising, only ``with_cause``)."""
    by_item: dict[int, list[Coding]] = {}
    for c in codings:
        by_item.setdefault(c.item, []).append(c)
    pairs: dict[str, list[Coding]] = {coder: [] for coder in sorted({c.coder for c in codings})}
    for item, group in by_item.items():
        if len(group) < 2:
            continue
        for mine in group:
            others = [c for c in group if c.coder != mine.coder]
            pairs[mine.coder] += [mine, consensus_coding(item, others, texts.get(item) if with_cause else None)]
    return pairs


def per_annotator(pairs: Mapping[str, Sequence[Coding]], field: str,
                  texts: Mapping[int, str]) -> dict[str, dict[str, Any]]:
    """``{annotator: {"alpha": value or None, "n_items": items compared}}`` for one field, from
    :func:`loo_pairs`."""
    result: dict[str, dict[str, Any]] = {}
    for coder, coded in pairs.items():
        n_items = len(coded) // 2
        value = alpha(value_counts(coded, field, texts)) if n_items else None
        result[coder] = {"alpha": value, "n_items": n_items}
    return result
