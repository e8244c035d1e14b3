"""The one-pass network: base (+ LoRA on its upper layers) and the heads, with one forward per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from models.onepass.backbone import LayerStack
from models.onepass.heads import CauseHead, CauseOutput, TaxonomyHead, TaxonomyOutput
from models.onepass.inputs import Batch


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


class OnePassNetwork(nn.Module):
    """``lm`` (a causal LM, usually peft-wrapped) plus the heads of ``spec``."""

    def __init__(self, lm: nn.Module, spec: HeadSpec) -> None:
        super().__init__()
        self.lm = lm
        self.spec = spec
        self.stack = LayerStack(lm)
        if spec.frozen_layers > self.stack.n_layers:
            raise ValueError(f"frozen_layers {spec.frozen_layers} > the base's {self.stack.n_layers} layers")
        hidden = int(self.stack.config.hidden_size)
        self.heads = nn.ModuleDict({name: TaxonomyHead(hidden, len(labels), spec.dropout)
                                    for name, labels in spec.taxonomies.items()})
        self.cause = CauseHead(hidden, spec.cause_width, spec.dropout) if spec.cause else None

    @property
    def dtype(self) -> torch.dtype:
        return self.stack.decoder.embed_tokens.weight.dtype

    def lower(self, batch: Batch) -> torch.Tensor:
        """Output of the frozen lower layers (what training keeps per example)."""
        return self.stack.run(self.stack.embed(batch.ids), batch, 0, self.spec.frozen_layers)

    def upper(self, lower: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Final hidden states from the lower layers' output."""
        return self.stack.norm(self.stack.run(lower, batch, self.spec.frozen_layers, self.stack.n_layers))

    def read(self, final: torch.Tensor, batch: Batch, taxonomies: Sequence[str] | None = None) -> Outputs:
        """The heads' outputs on final hidden states (all taxonomies, or only ``taxonomies``)."""
        names = list(self.spec.taxonomies) if taxonomies is None else list(taxonomies)
        final = final.float()  # the heads stay fp32 (they are small) whatever the base computes in
        out = Outputs({name: self.heads[name](final, batch.text, batch.last) for name in names})
        if self.cause is not None:
            out.cause = self.cause(final, batch.text, batch.last)
        return out

    def forward(self, batch: Batch, lower: torch.Tensor | None = None,
                taxonomies: Sequence[str] | None = None) -> Outputs:
        """One pass: token ids (or the kept lower-layer output) to every head's outputs."""
        if lower is None:
            lower = self.lower(batch)
        return self.read(self.upper(lower, batch), batch, taxonomies)

    def head_state(self) -> dict[str, torch.Tensor]:
        """The heads' weights (saved beside the LoRA weights)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("lm.")}
