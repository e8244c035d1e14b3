"""The one-pass readout on vLLM: final hidden states from a vLLM pooling engine, then our heads and decoding.

vLLM's pooling runner (``runner="pooling"``, ``convert="embed"``, a ``token_embed`` pooler over ALL tokens
with no activation) returns, per request, the final *normed* hidden state of every token: what
:meth:`models.onepass.network.OnePassNetwork.upper` computes. :class:`VllmOnePassReader` sends each item's
token ids exactly as :class:`models.onepass.inputs.ItemEncoder` builds them (prefix and suffix included;
vLLM adds nothing to a ``TokensPrompt``), pads the states on the right into the batch layout of
:func:`models.onepass.inputs.make_batch`, and hands them to the same heads (loaded without base weights,
:func:`models.onepass.artifact.load_heads`) and the same decoding, so its Predictions are those of the
transformers reader up to kernel rounding.

One engine serves a base; each one-pass adapter is a ``LoRARequest`` on it (multi-LoRA,
:meth:`VllmOnePassReader.with_adapter`). Every ``encode`` call carries ONE LoRARequest: vLLM 0.32 on CPU can
give the adapter-free requests of a call that mixes adapters the last LoRA slot's weights. ``vllm`` is
imported only when an engine is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from models.backends.vllm import VllmBackendError, lora_rank, lora_request, slot_rank, start_engine
from models.onepass.artifact import load_heads
from models.onepass.heads import OnePassHeads
from models.onepass.inputs import Batch, ItemEncoder
from models.onepass.reader import OnePassReader, ReadoutState

if TYPE_CHECKING:
    from vllm import LLM
    from vllm.lora.request import LoRARequest


class PoolingEngine:
    """A vLLM engine on one base that returns every token's final hidden state, with a LoRA per call."""

    name = "vllm"

    def __init__(self, llm: "LLM", base_path: Path, device: str) -> None:
        self.llm = llm
        self.base_path = Path(base_path)
        self.device = device
        self._registry: dict[str, int] = {}  # adapter path -> LoRA int id
        self.stats = {"calls": 0, "requests": 0, "tokens": 0}

    @classmethod
    def load(
        cls,
        base_path: Path,
        adapter_path: Path | None = None,
        *,
        dtype: str | None = None,
        max_lora_rank: int | None = None,
        max_loras: int = 4,
        gpu_memory_utilization: float = 0.2,
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        **engine_args: Any,
    ) -> "PoolingEngine":
        """Start the engine. ``max_lora_rank`` defaults to ``adapter_path``'s rank rounded up to a vLLM slot,
        and at least 16 (the training default), so later adapters up to that rank share the engine; set it
        when larger ones will follow. ``max_loras``: adapters held at once (others are swapped in per call).
        ``dtype`` defaults to float32 on CPU, bfloat16 on GPU; ``engine_args`` go to ``vllm.LLM`` as they are."""
        if max_lora_rank is None:
            max_lora_rank = max(slot_rank(lora_rank(Path(adapter_path))) if adapter_path is not None else 0, 16)
        llm, platform = start_engine(
            base_path, dtype=dtype, max_lora_rank=max_lora_rank, max_loras=max_loras,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, enforce_eager=enforce_eager,
            runner="pooling", convert="embed",
            # every token's last hidden state (after the final norm), untouched: no pooling, no normalisation
            pooler={"task": "token_embed", "pooling_type": "ALL", "use_activation": False},
            **engine_args,
        )
        return cls(llm, Path(base_path), platform)

    def lora(self, adapter_path: Path) -> "LoRARequest":
        """The LoRARequest of an adapter folder (one id per folder on this engine)."""
        return lora_request(self._registry, adapter_path, "onepass")

    def final_states(self, rows: Sequence[Sequence[int]], lora: "LoRARequest | None") -> list[torch.Tensor]:
        """Per row of token ids, its (tokens, hidden) final hidden states (fp32, CPU), in one ``encode`` call.

        ``lora`` applies to every row: a call never mixes adapters (see the module's note)."""
        if not rows:
            return []
        from vllm.inputs import TokensPrompt
        from vllm.pooling_params import PoolingParams

        prompts = [TokensPrompt(prompt_token_ids=[int(t) for t in ids]) for ids in rows]
        outputs = self.llm.encode(prompts, PoolingParams(use_activation=False), pooling_task="token_embed",
                                  lora_request=lora, use_tqdm=False)
        self.stats["calls"] += 1
        self.stats["requests"] += len(prompts)
        self.stats["tokens"] += sum(len(ids) for ids in rows)
        return [torch.as_tensor(output.outputs.data).float().cpu() for output in outputs]


class VllmOnePassReader(OnePassReader):
    """A one-pass reader whose final hidden states come from a :class:`PoolingEngine` with the adapter's LoRA
    (``lora=None``: the bare base's states, only to see what the LoRA changes)."""

    def __init__(self, engine: PoolingEngine, lora: "LoRARequest | None", heads: OnePassHeads, encoder: ItemEncoder,
                 state: ReadoutState, version: str) -> None:
        super().__init__(heads, encoder, state, version, device="cpu")  # the heads are small: CPU
        self.engine = engine
        self.lora = lora

    @classmethod
    def load(cls, base_path: Path, adapter_path: Path, version: str, **engine_options: Any) -> "VllmOnePassReader":
        """Start an engine on ``base_path`` and read ``adapter_path`` on it."""
        return cls.on_engine(PoolingEngine.load(base_path, adapter_path, **engine_options), adapter_path, version)

    @classmethod
    def on_engine(cls, engine: PoolingEngine, adapter_path: Path, version: str) -> "VllmOnePassReader":
        """A reader for ``adapter_path`` on a running engine: its heads are loaded, its LoRA registered."""
        heads, encoder, state, _ = load_heads(engine.base_path, adapter_path)
        return cls(engine, engine.lora(adapter_path), heads, encoder, state, version)

    def with_adapter(self, adapter_path: Path, version: str) -> "VllmOnePassReader":
        """A reader for another one-pass adapter on the same engine (the base weights are loaded once)."""
        return self.on_engine(self.engine, adapter_path, version)

    def final_states(self, batch: Batch) -> torch.Tensor:
        """The batch's real tokens through vLLM (one request per row, one call), zero-padded on the right."""
        hidden = self.network.hidden_size
        rows = [batch.ids[r, : int(batch.last[r]) + 1].tolist() for r in range(batch.rows)]
        states = self.engine.final_states(rows, self.lora)
        out = torch.zeros((batch.rows, batch.ids.shape[1], hidden), dtype=torch.float32)
        for r, (ids, state) in enumerate(zip(rows, states)):
            if tuple(state.shape) != (len(ids), hidden):
                raise VllmBackendError(f"vLLM returned hidden states of shape {tuple(state.shape)} for {len(ids)} "
                                       f"tokens; the heads expect (tokens, {hidden})")
            out[r, : len(ids)] = state
        return out.to(batch.ids.device)
