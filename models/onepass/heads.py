"""Heads on the final hidden states: emotions and intensities per taxonomy, and the cause pointer.

Both read the same three views of an item: the mean of its text tokens, its last token (which has seen
the whole item), and, per label, an attention-pooled summary (each label has a query that picks the
tokens that speak for it). Heads are small (a few hundred thousand weights); the adapter does the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import nn

if TYPE_CHECKING:
    from models.onepass.inputs import Batch


def summary(hidden: torch.Tensor, text: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """(B, 2D): mean over text tokens (the last token where an item has no text) and the last token."""
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    final = hidden[rows, last]
    weights = text.to(hidden.dtype)
    count = weights.sum(1, keepdim=True)
    mean = (hidden * weights[..., None]).sum(1) / count.clamp(min=1.0)
    mean = torch.where(count > 0, mean, final)
    return torch.cat([mean, final], dim=-1)


def attendable(text: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the text tokens, or the last token for an item without text (never padding)."""
    rows = torch.arange(text.shape[0], device=text.device)
    fallback = torch.zeros_like(text)
    fallback[rows, last] = True
    return torch.where(text.any(1, keepdim=True), text, fallback)


@dataclass
class TaxonomyOutput:
    """One taxonomy's raw outputs for a batch."""

    emotion_logits: torch.Tensor  # (B, L)
    intensity: torch.Tensor  # (B, L) in [0, 1]
    generic_intensity: torch.Tensor  # (B,) in [0, 1]: for labels whose own output was never trained


class TaxonomyHead(nn.Module):
    """An independent sigmoid and an intensity per label of one taxonomy."""

    def __init__(self, hidden_size: int, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_labels = n_labels
        self.queries = nn.Parameter(torch.randn(n_labels, hidden_size) / math.sqrt(hidden_size))
        self.emotion_summary = nn.Linear(2 * hidden_size, n_labels)
        self.emotion_attended = nn.Parameter(torch.zeros(n_labels, hidden_size))
        self.intensity_summary = nn.Linear(2 * hidden_size, n_labels)
        self.intensity_attended = nn.Parameter(torch.zeros(n_labels, hidden_size))
        self.generic = nn.Linear(2 * hidden_size, 1)
        self.dropout = nn.Dropout(dropout)
        for layer in (self.emotion_summary, self.intensity_summary, self.generic):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, hidden: torch.Tensor, text: torch.Tensor, last: torch.Tensor) -> TaxonomyOutput:
        """Outputs for final hidden states ``hidden`` (B, T, D) of items whose text tokens are ``text``."""
        pooled = self.dropout(summary(hidden, text, last))
        scores = torch.einsum("btd,ld->blt", hidden, self.queries) / math.sqrt(hidden.shape[-1])
        scores = scores.masked_fill(~attendable(text, last)[:, None, :], torch.finfo(scores.dtype).min)
        attended = self.dropout(torch.einsum("blt,btd->bld", scores.softmax(-1), hidden))
        emotions = self.emotion_summary(pooled) + (attended * self.emotion_attended).sum(-1)
        intensity = self.intensity_summary(pooled) + (attended * self.intensity_attended).sum(-1)
        return TaxonomyOutput(emotions, intensity.sigmoid(), self.generic(pooled)[:, 0].sigmoid())


@dataclass
class CauseOutput:
    """Pointer scores over each item's columns; ``none_*`` is the "no cause in the text" score."""

    start: torch.Tensor  # (B, T), masked to the pointer's area (text tokens)
    end: torch.Tensor  # (B, T), masked to the pointer's area (text tokens)
    none_start: torch.Tensor  # (B,)
    none_end: torch.Tensor  # (B,)


class CauseHead(nn.Module):
    """Start and end pointers over the text tokens, queried by the item's summary (which saw all of it).
    The tokens are the item's own, or (``area``) those of the turns of its conversation up to it.

    A token's own state has seen only the tokens before it (the model is causal), so each pointer score is
    a match between the token and a query computed from the summary, plus a score of the token alone.
    """

    def __init__(self, hidden_size: int, width: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.width = width
        self.query = nn.Linear(2 * hidden_size, 2 * width)
        self.key = nn.Linear(hidden_size, 2 * width)
        self.token = nn.Linear(hidden_size, 2)
        self.none = nn.Linear(2 * hidden_size, 2)
        self.dropout = nn.Dropout(dropout)
        for layer in (self.query, self.key, self.token, self.none):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, hidden: torch.Tensor, text: torch.Tensor, last: torch.Tensor,
                area: torch.Tensor | None = None) -> CauseOutput:
        """Pointer scores for final hidden states ``hidden`` (B, T, D), over ``area`` (default: ``text``)."""
        pooled = self.dropout(summary(hidden, text, last))
        states = self.dropout(hidden)
        q_start, q_end = self.query(pooled).split(self.width, dim=-1)
        k_start, k_end = self.key(states).split(self.width, dim=-1)
        own = self.token(states)
        scale = 1.0 / math.sqrt(self.width)
        start = torch.einsum("bw,btw->bt", q_start, k_start) * scale + own[..., 0]
        end = torch.einsum("bw,btw->bt", q_end, k_end) * scale + own[..., 1]
        low = torch.finfo(start.dtype).min
        none = self.none(pooled)
        where = text if area is None else area
        return CauseOutput(start.masked_fill(~where, low), end.masked_fill(~where, low), none[:, 0], none[:, 1])


@dataclass(frozen=True)
class HeadSpec:
    """What an adapter reads out: its taxonomies (name -> labels, in order), the cause pointer, and the
    number of lower layers that carry no adapter (their output can be computed once and kept)."""

    taxonomies: dict[str, tuple[str, ...]]
    cause: bool = True
    frozen_layers: int = 0
    cause_width: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not self.taxonomies and not self.cause:
            raise ValueError("a one-pass readout needs a taxonomy or the cause pointer")
        for name, labels in self.taxonomies.items():
            if not labels or len(set(labels)) != len(labels):
                raise ValueError(f"taxonomy {name!r}: labels must be non-empty and distinct")
        if self.frozen_layers < 0:
            raise ValueError("frozen_layers must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        """JSON form (saved in the adapter's metadata)."""
        return {"taxonomies": {k: list(v) for k, v in self.taxonomies.items()}, "cause": self.cause,
                "frozen_layers": self.frozen_layers, "cause_width": self.cause_width, "dropout": self.dropout}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HeadSpec":
        """Inverse of :meth:`as_dict`."""
        return cls(taxonomies={k: tuple(v) for k, v in data["taxonomies"].items()}, cause=bool(data["cause"]),
                   frozen_layers=int(data["frozen_layers"]), cause_width=int(data.get("cause_width", 128)),
                   dropout=float(data.get("dropout", 0.1)))


@dataclass
class Outputs:
    """Raw outputs of one forward pass: per taxonomy, and the cause pointer (if the spec has one)."""

    taxonomies: dict[str, TaxonomyOutput] = field(default_factory=dict)
    cause: CauseOutput | None = None


class OnePassHeads(nn.Module):
    """Every head of a spec, on final hidden states from anywhere (transformers, vLLM): no language model.

    Its weights are named ``heads.<taxonomy>.*`` and ``cause.*``: the names ``heads.safetensors`` holds
    (:class:`models.onepass.network.OnePassNetwork` adds the model under ``lm.`` and keeps these).
    """

    def __init__(self, hidden_size: int, spec: HeadSpec) -> None:
        super().__init__()
        self.spec = spec
        self.hidden_size = int(hidden_size)
        self.heads = nn.ModuleDict({name: TaxonomyHead(self.hidden_size, len(labels), spec.dropout)
                                    for name, labels in spec.taxonomies.items()})
        self.cause = CauseHead(self.hidden_size, spec.cause_width, spec.dropout) if spec.cause else None

    @property
    def dtype(self) -> torch.dtype:
        """The dtype batches are built in (their attention mask): the heads' own, fp32."""
        return torch.float32

    def read(self, final: torch.Tensor, batch: "Batch", taxonomies: Sequence[str] | None = None) -> Outputs:
        """The heads' outputs on final hidden states (all taxonomies, or only ``taxonomies``)."""
        names = list(self.spec.taxonomies) if taxonomies is None else list(taxonomies)
        final = final.float()  # the heads stay fp32 (they are small) whatever the base computes in
        out = Outputs({name: self.heads[name](final, batch.text, batch.last) for name in names})
        if self.cause is not None:
            out.cause = self.cause(final, batch.text, batch.last, batch.area)
        return out

    def head_state(self) -> dict[str, torch.Tensor]:
        """The heads' weights (saved beside the LoRA weights), without any language model's."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("lm.")}


def hidden_size_of(weights: dict[str, torch.Tensor]) -> int:
    """The hidden size saved heads were built for (from their weights' shapes)."""
    for key, value in weights.items():
        if (key.startswith("heads.") and key.endswith(".queries")) or key == "cause.key.weight":
            return int(value.shape[1])
    raise ValueError("the heads' weights name neither a taxonomy head nor the cause pointer")
