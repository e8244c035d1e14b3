"""The one-pass network: base (+ LoRA on its upper layers) and the heads, with one forward per batch."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from models.onepass.backbone import LayerStack
from models.onepass.heads import HeadSpec, OnePassHeads, Outputs
from models.onepass.inputs import Batch

__all__ = ["HeadSpec", "OnePassNetwork", "Outputs"]


class OnePassNetwork(OnePassHeads):
    """``lm`` (a causal LM, usually peft-wrapped) plus the heads of ``spec`` (:class:`OnePassHeads`).

    The heads keep their names (``heads.*``, ``cause.*``) and the model is ``lm.*``, so
    :meth:`head_state` is exactly what :class:`OnePassHeads` loads without the model.
    """

    def __init__(self, lm: nn.Module, spec: HeadSpec) -> None:
        stack = LayerStack(lm)
        if spec.frozen_layers > stack.n_layers:
            raise ValueError(f"frozen_layers {spec.frozen_layers} > the base's {stack.n_layers} layers")
        super().__init__(int(stack.config.hidden_size), spec)
        self.lm = lm
        self.stack = stack

    @property
    def dtype(self) -> torch.dtype:
        return self.stack.decoder.embed_tokens.weight.dtype

    def lower(self, batch: Batch) -> torch.Tensor:
        """Output of the frozen lower layers (what training keeps per example)."""
        return self.stack.run(self.stack.embed(batch.ids), batch, 0, self.spec.frozen_layers)

    def upper(self, lower: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Final hidden states from the lower layers' output."""
        return self.stack.norm(self.stack.run(lower, batch, self.spec.frozen_layers, self.stack.n_layers))

    def forward(self, batch: Batch, lower: torch.Tensor | None = None,
                taxonomies: Sequence[str] | None = None) -> Outputs:
        """One pass: token ids (or the kept lower-layer output) to every head's outputs."""
        if lower is None:
            lower = self.lower(batch)
        return self.read(self.upper(lower, batch), batch, taxonomies)
