"""Training items for the one-pass readout: examples merged by text, and their loss.

Several datasets label the same text for different things (a tweet in SemEval E-c and in two EI-reg files;
a GoEmotions comment for the ``goemotions`` and the ``ekman`` head), so examples with equal text become one
:class:`TrainItem` carrying every supervision it has, and cost one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

from models.onepass.decode import token_span
from models.onepass.dialogue import TurnTokens
from models.onepass.inputs import Batch, ItemTokens
from models.onepass.network import HeadSpec, Outputs
from models.tasks.base import Example

GENERIC = "*"  # an intensity annotated for the item as a whole (no emotion named)
# Plutchik's opposite pairs: a human's chosen emotion should outrank its opposite
PLUTCHIK_OPPOSITES = {"joy": "sadness", "sadness": "joy", "trust": "disgust", "disgust": "trust",
                      "fear": "anger", "anger": "fear", "surprise": "anticipation", "anticipation": "surprise"}


@dataclass
class TrainItem:
    """One text and all it is labeled with: emotion sets per taxonomy, intensities per emotion, a cause.

    A turn of a conversation also names its conversation and turn (it is read after the turns before it)."""

    text: str
    emotions: dict[str, frozenset[str]] = field(default_factory=dict)
    intensities: dict[str, float] = field(default_factory=dict)
    cause: tuple[int, int] | None = None
    rejected: dict[str, frozenset[str]] = field(default_factory=dict)  # a labeler answer a human corrected
    conversation: str | None = None
    turn: int | None = None
    cause_turn: int | None = None  # the earlier turn (number) ``cause`` indexes; None: the item's own text

    @property
    def key(self) -> tuple[str, int] | str:
        """What makes it one item: its text, or for a turn (conversation, turn)."""
        return (self.conversation, self.turn or 0) if self.conversation is not None else self.text


def preference_pairs(chosen: frozenset[str], rejected: frozenset[str], labels: Sequence[str]) -> list[tuple[str, str]]:
    """(better, worse) label pairs of a correction (EmPO): every chosen label outranks every label the
    labeler wrongly chose, and its Plutchik opposite."""
    wrong = sorted(rejected - chosen)
    pairs = [(c, w) for c in sorted(chosen) for w in wrong]
    pairs += [(c, PLUTCHIK_OPPOSITES[c]) for c in sorted(chosen)
              if PLUTCHIK_OPPOSITES.get(c) in labels and PLUTCHIK_OPPOSITES[c] not in chosen]
    return [(c, w) for c, w in dict.fromkeys(pairs) if c in labels and w in labels]


def attach_rejected(items: Sequence[TrainItem], rejected: Sequence[Example], spec: HeadSpec) -> int:
    """Record each corrected labeler answer (an Example of the same text) on its item; returns how many."""
    by_text = {item.text: item for item in items}
    only = next(iter(spec.taxonomies)) if len(spec.taxonomies) == 1 else None
    attached = 0
    for answer in rejected:
        item = by_text.get(answer.text)
        taxonomy = answer.taxonomy or only
        if item is None or answer.emotions is None or taxonomy not in spec.taxonomies:
            continue
        item.rejected[taxonomy] = frozenset(answer.emotions) & frozenset(spec.taxonomies[taxonomy])
        attached += 1
    return attached


def merge_examples(examples: Sequence[Example], spec: HeadSpec) -> list[TrainItem]:
    """Examples grouped by text (a conversation's turns by conversation and turn, so the same words said
    twice stay two items), in first-seen order; supervision a head of ``spec`` cannot use is dropped, and
    so are context-only turns (:func:`conversations_of` keeps them).

    Emotion sets of one text and taxonomy are united, an emotion's intensities averaged, the first cause
    kept. An example whose emotions have no taxonomy is taken as the spec's only taxonomy's, if it has one.
    """
    items: dict[tuple[str, int] | str, TrainItem] = {}
    counts: dict[tuple[tuple[str, int] | str, str], int] = {}
    only = next(iter(spec.taxonomies)) if len(spec.taxonomies) == 1 else None
    for example in examples:
        fresh = TrainItem(example.text, conversation=example.conversation,
                          turn=example.turn if example.conversation is not None else None)
        item = items.setdefault(fresh.key, fresh)
        taxonomy = example.taxonomy or only
        if example.emotions is not None and taxonomy in spec.taxonomies:
            labels = set(spec.taxonomies[taxonomy])
            if set(example.emotions) <= labels:
                item.emotions[taxonomy] = item.emotions.get(taxonomy, frozenset()) | frozenset(example.emotions)
        intensities = dict(example.intensities or {})
        if not intensities and example.intensity is not None:
            intensities = {GENERIC: example.intensity}
        for label, value in intensities.items():
            n = counts.get((item.key, label), 0)
            item.intensities[label] = (item.intensities.get(label, 0.0) * n + float(value)) / (n + 1)
            counts[(item.key, label)] = n + 1
        if example.cause is not None and item.cause is None and spec.cause:
            item.cause = (int(example.cause[0]), int(example.cause[1]))
            item.cause_turn = example.cause_turn if example.cause_turn != item.turn else None
    return [item for item in items.values() if item.emotions or item.intensities or item.cause is not None]


@dataclass(frozen=True)
class LossWeights:
    """How the three fields' losses add up (each is a per-item sum, averaged over the batch)."""

    emotions: float = 1.0
    intensity: float = 10.0
    cause: float = 1.0
    preference: float = 0.0  # the EmPO ranking term (only items with a corrected answer have one)


def batch_loss(outputs: Outputs, batch: Batch, items: Sequence[TrainItem], tokens: Sequence[ItemTokens],
               spec: HeadSpec, weights: LossWeights,
               areas: Sequence[Sequence[TurnTokens]] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss of a batch and its parts (emotion BCE, intensity squared error, cause CE, and the
    preference term: a logistic loss on the logit gap of each (better, worse) pair of a correction).

    ``areas``: per row, the turns its cause pointer ranges over (a cause in an earlier turn is a target
    only with them, and only where that turn is in the row's piece)."""
    rows = len(items)
    device = batch.ids.device
    zero = torch.zeros((), device=device)
    emotion, intensity, preference = zero, zero, zero
    for name, out in outputs.taxonomies.items():
        labels = spec.taxonomies[name]
        index = {label: i for i, label in enumerate(labels)}
        ranked = [(r, index[c], index[w]) for r, item in enumerate(items)
                  if name in item.rejected and name in item.emotions and weights.preference > 0
                  for c, w in preference_pairs(item.emotions[name], item.rejected[name], labels)]
        if ranked:
            r_idx = torch.tensor([p[0] for p in ranked], device=device)
            gap = (out.emotion_logits[r_idx, torch.tensor([p[1] for p in ranked], device=device)]
                   - out.emotion_logits[r_idx, torch.tensor([p[2] for p in ranked], device=device)]).float()
            preference = preference + F.softplus(-gap).sum()
        sup = [r for r, item in enumerate(items) if name in item.emotions]
        if sup:
            target = torch.zeros((len(sup), len(labels)), device=device)
            for k, r in enumerate(sup):
                for label in items[r].emotions[name]:
                    target[k, index[label]] = 1.0
            logits = out.emotion_logits[torch.tensor(sup, device=device)].float()
            emotion = emotion + F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
        pairs = [(r, index[label], value) for r, item in enumerate(items)
                 for label, value in item.intensities.items() if label in index]
        if pairs:
            r_idx = torch.tensor([p[0] for p in pairs], device=device)
            l_idx = torch.tensor([p[1] for p in pairs], device=device)
            values = torch.tensor([p[2] for p in pairs], device=device)
            intensity = intensity + ((out.intensity[r_idx, l_idx].float() - values) ** 2).sum()
        generic = [(r, value) for r, item in enumerate(items) for value in item.intensities.values()]
        if generic:
            r_idx = torch.tensor([g[0] for g in generic], device=device)
            values = torch.tensor([g[1] for g in generic], device=device)
            intensity = intensity + ((out.generic_intensity[r_idx].float() - values) ** 2).sum()
    cause = zero
    if outputs.cause is not None:
        sup_rows, targets = [], []
        for r, (item, tok) in enumerate(zip(items, tokens)):
            if item.cause is None:
                continue
            start, end = item.cause
            if end <= start:
                sup_rows.append(r)
                targets.append((0, 0))
                continue
            where: ItemTokens | TurnTokens | None = tok
            if item.cause_turn is not None:
                where = next((t for t in areas[r] if t.number == item.cause_turn), None) if areas else None
            span = token_span(where, start, end) if where is not None else None
            if span is None or where is None:
                continue  # the cause lies in text cut off by the token limit, or in a turn the row cannot see
            sup_rows.append(r)
            targets.append((1 + where.first + span[0], 1 + where.first + span[1]))
        if sup_rows:
            r_idx = torch.tensor(sup_rows, device=device)
            c = outputs.cause
            start_logits = torch.cat([c.none_start[r_idx, None], c.start[r_idx]], dim=1).float()
            end_logits = torch.cat([c.none_end[r_idx, None], c.end[r_idx]], dim=1).float()
            t_start = torch.tensor([t[0] for t in targets], device=device)
            t_end = torch.tensor([t[1] for t in targets], device=device)
            cause = F.cross_entropy(start_logits, t_start, reduction="sum") + F.cross_entropy(
                end_logits, t_end, reduction="sum")
    total = (weights.emotions * emotion + weights.intensity * intensity + weights.cause * cause
             + weights.preference * preference) / rows
    parts = {"emotions": float(emotion.detach()) / rows, "intensity": float(intensity.detach()) / rows,
             "cause": float(cause.detach()) / rows, "preference": float(preference.detach()) / rows}
    return total, parts
