"""Run a causal LM's decoder layers over hidden states, from any layer to any layer.

Training keeps the output of the lower, adapter-free layers per example (computed once), and runs only the
upper layers each step; labeling runs them all. Both go through :class:`LayerStack`, so they compute the
same thing. Works for Llama-style decoders (SmolLM2, Qwen2, Mistral: one rotary embedding, full causal
attention) and Gemma 3 (per-layer-type rotary embeddings and sliding-window layers).
"""

from __future__ import annotations

import inspect

import torch

from models.onepass.inputs import Batch


class LayerStack:
    """A decoder's embedding, layers and final norm, callable piecewise."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.decoder = model.get_decoder()
        self.config = self.decoder.config
        self.layers = self.decoder.layers
        self.n_layers = len(self.layers)
        self._typed_rotary = "layer_type" in inspect.signature(self.decoder.rotary_emb.forward).parameters
        self._layer_types = list(getattr(self.config, "layer_types", None) or ["full_attention"] * self.n_layers)
        self._window = getattr(self.config, "sliding_window", None)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of token ids (Gemma's scaling included: it lives in its embedding module)."""
        return self.decoder.embed_tokens(ids)

    def run(self, hidden: torch.Tensor, batch: Batch, lo: int, hi: int) -> torch.Tensor:
        """Hidden states after layers ``lo .. hi - 1`` (the input is the output of layer ``lo - 1``)."""
        if not 0 <= lo <= hi <= self.n_layers:
            raise ValueError(f"layer range {lo}..{hi} is outside 0..{self.n_layers}")
        if lo == hi:
            return hidden
        embeddings: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        masks: dict[str, torch.Tensor] = {}
        for i in range(lo, hi):
            kind = self._layer_types[i]
            if kind not in embeddings:
                embeddings[kind] = (self.decoder.rotary_emb(hidden, batch.positions, kind) if self._typed_rotary
                                    else self.decoder.rotary_emb(hidden, position_ids=batch.positions))
                masks[kind] = self._mask(batch, kind, hidden.dtype)
            hidden = self.layers[i](hidden, attention_mask=masks[kind], position_embeddings=embeddings[kind],
                                    position_ids=batch.positions)
            if isinstance(hidden, tuple):  # older layer classes return (hidden, ...)
                hidden = hidden[0]
        return hidden

    def norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """The decoder's final norm."""
        return self.decoder.norm(hidden)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Final (normed) hidden states of a batch: the whole decoder in one pass."""
        return self.norm(self.run(self.embed(batch.ids), batch, 0, self.n_layers))

    def _mask(self, batch: Batch, kind: str, dtype: torch.dtype) -> torch.Tensor:
        mask = batch.mask if batch.mask.dtype == dtype else batch.mask.to(dtype)
        width = batch.ids.shape[1]
        if kind == "sliding_attention" and self._window is not None and width > self._window:
            col = torch.arange(width, device=mask.device)
            too_far = (col[:, None] - col[None, :]) >= self._window
            mask = mask.masked_fill(too_far[None, None], torch.finfo(dtype).min)
        return mask
