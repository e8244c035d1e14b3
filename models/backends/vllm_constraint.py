"""Constrained greedy decoding inside vLLM's engine: a logits processor that applies a branch's Constraint.

Loaded by the engine by name (``LLM(logits_processors=[FQCN])``), in the engine's own process, so it
imports vllm at module level; nothing else imports this module. A request opts in with
``SamplingParams.extra_args = {EXTRA_KEY: spec}`` where ``spec`` is a constraint's ``engine_spec()``: a
factory ``"module:name"`` and JSON keyword arguments. The processor rebuilds the constraint there with
the engine's tokenizer and, before each decode step, masks every token the constraint does not allow
after the tokens emitted so far. Where it allows none, only its stop tokens stay open, so the request
ends; the client tells that case from a real stop by asking the constraint itself.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

from models.base import load_tokenizer
from models.tokens import Codec

EXTRA_KEY = "emo_constraint"
FQCN = f"{__name__}:ConstraintLogitsProcessor"


def build_constraint(spec: dict[str, Any], codec: Codec) -> Any:
    """The constraint an ``engine_spec()`` describes, built with ``codec``."""
    module, _, name = str(spec["factory"]).partition(":")
    factory = getattr(importlib.import_module(module), name)
    return factory(codec=codec, **spec.get("kwargs", {}))


class ConstraintLogitsProcessor(AdapterLogitsProcessor):
    """Per-request masking by a rebuilt Constraint (requests without the extra arg are untouched)."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        super().__init__(vllm_config, device, is_pin_memory)
        self._codec: Codec | None = None
        self._tokenizer_path = vllm_config.model_config.tokenizer

    def is_argmax_invariant(self) -> bool:
        """It changes the greedy choice, so vLLM must run it before greedy sampling."""
        return False

    @property
    def codec(self) -> Codec:
        if self._codec is None:  # the byte table of the vocabulary is built once per engine, on first use
            self._codec = Codec(load_tokenizer(self._tokenizer_path))
        return self._codec

    def new_req_logits_processor(
        self, params: SamplingParams
    ) -> Callable[[list[int], torch.Tensor], torch.Tensor] | None:
        """A masking function for a request that carries a constraint spec, else None."""
        spec = (params.extra_args or {}).get(EXTRA_KEY)
        if spec is None:
            return None
        constraint = build_constraint(spec, self.codec)
        stop = sorted(constraint.stop_ids)

        def mask(emitted: list[int], logits: torch.Tensor) -> torch.Tensor:
            allowed = list(constraint.allowed(emitted)) or stop
            keep = torch.as_tensor(allowed, dtype=torch.long, device=logits.device)
            out = torch.full_like(logits, float("-inf"))
            out[keep] = logits[keep]
            return out

        return mask
