"""vLLM backend: the same token-level readout as the transformers backend, over vLLM's offline ``LLM`` API.

Every branch becomes one request ``prefix + item + branch`` (vLLM's prefix caching shares the KV of the
instruction prefix and of the item between an item's branches, so each request pays only for its own
tail). A branch that reads scores is one step restricted to its read tokens
(``allowed_token_ids``, ``max_tokens=1``) with the engine in ``processed_logits`` mode: the returned
"logprobs" are then the logits of exactly those tokens, the numbers the transformers backend returns.
A constrained branch is one request decoded greedily inside the engine, where a logits processor
(models.backends.vllm_constraint) rebuilds the branch's constraint from its ``engine_spec()`` and masks
each step to the tokens it allows, so the decode follows the same rule as the transformers backend
(argmax of the logits over the allowed tokens, lowest id on a tie, stop on a stop token).
All requests of a batch go to the engine in one ``generate`` call.

Adapters are served through ``LoRARequest``: one engine holds the base weights once, and
:meth:`VllmBackend.with_adapter` gives a backend for another adapter on the same engine (multi-LoRA).
``vllm`` is imported only when a backend is loaded, so importing this package never needs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from models.backends.base import BranchResult, Query

if TYPE_CHECKING:
    from vllm import LLM
    from vllm.lora.request import LoRARequest

# loaded by the engine by name, so that importing this module never imports vllm
VLLM_CONSTRAINT_PROCESSOR = "models.backends.vllm_constraint:ConstraintLogitsProcessor"
# vLLM allocates LoRA slots for a fixed set of ranks; an adapter's rank is rounded up to one of them.
_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class VllmBackendError(RuntimeError):
    """vLLM is missing or cannot serve the requested base/adapter."""


def lora_rank(adapter_path: Path) -> int:
    """The LoRA rank ``r`` recorded in a peft adapter folder's ``adapter_config.json``."""
    config = Path(adapter_path) / "adapter_config.json"
    if not config.exists():
        raise VllmBackendError(f"{adapter_path} is not a peft LoRA adapter folder (no adapter_config.json)")
    return int(json.loads(config.read_text())["r"])


def slot_rank(rank: int) -> int:
    """The smallest LoRA slot rank vLLM supports that holds an adapter of rank ``rank``."""
    for slot in _LORA_RANKS:
        if rank <= slot:
            return slot
    raise VllmBackendError(f"LoRA rank {rank} is larger than vLLM's largest supported rank {_LORA_RANKS[-1]}")


def start_engine(base_path: Path, *, dtype: str | None, max_lora_rank: int, max_loras: int,
                 gpu_memory_utilization: float, max_model_len: int | None, enforce_eager: bool,
                 pooler: dict[str, Any] | None = None, **engine_args: Any) -> tuple["LLM", str]:
    """A ``vllm.LLM`` on a base folder with LoRA enabled, and the platform it runs on (``cpu``, ``cuda``...).

    ``dtype`` defaults to float32 on CPU (what the transformers backend uses there) and bfloat16 on GPU;
    ``pooler``: the fields of a ``vllm.config.PoolerConfig`` (a pooling engine); ``engine_args`` (the runner,
    logits settings) go to ``vllm.LLM`` as they are.
    """
    try:
        from vllm import LLM
        from vllm.platforms import current_platform
    except ImportError as exc:  # the message says what to do
        raise VllmBackendError(
            "the vllm backend needs vllm in this environment (GPU: pip install vllm==0.32.0; CPU: the venv "
            f"built by scripts/vllm-cpu-venv.sh): {exc}"
        ) from exc
    if pooler is not None:
        from vllm.config import PoolerConfig

        engine_args["pooler_config"] = PoolerConfig(**pooler)
    platform = str(current_platform.device_type or "cpu")
    llm = LLM(model=str(base_path), tokenizer=str(base_path), dtype=dtype or ("float32" if platform == "cpu" else
              "bfloat16"), enable_lora=True, max_lora_rank=max_lora_rank, max_loras=max_loras,
              gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
              enforce_eager=enforce_eager, seed=0, **engine_args)
    return llm, platform


def lora_request(registry: dict[str, int], adapter_path: Path, name: str) -> "LoRARequest":
    """The LoRARequest of an adapter folder on an engine whose ids ``registry`` keeps (one id per folder)."""
    from vllm.lora.request import LoRARequest

    key = str(Path(adapter_path).resolve())
    lora_rank(Path(key))  # fail early, with our message, on a folder that is not an adapter
    lora_id = registry.setdefault(key, len(registry) + 1)  # vLLM ids start at 1
    return LoRARequest(lora_name=f"{name}-{lora_id}", lora_int_id=lora_id, lora_path=key)


class VllmBackend:
    """Runs base + (optional) LoRA adapter in a vLLM engine on batches of token-level queries."""

    name = "vllm"

    def __init__(self, llm: "LLM", lora: "LoRARequest | None", device: str, registry: dict[str, int]) -> None:
        self.llm = llm
        self.lora = lora
        self.device = device
        self._registry = registry  # adapter path -> LoRA int id, shared by every backend on this engine
        self.stats = {"requests": 0}

    @classmethod
    def load(
        cls,
        base_path: Path,
        adapter_path: Path | None,
        pad_id: int = 0,
        device: str = "auto",
        *,
        dtype: str | None = None,
        max_lora_rank: int | None = None,
        max_loras: int = 4,
        gpu_memory_utilization: float = 0.2,
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        **engine_args: Any,
    ) -> "VllmBackend":
        """Start a vLLM engine on a base folder, serving ``adapter_path`` (a peft LoRA folder) if given.

        ``pad_id`` is accepted for the common backend signature (vLLM never pads). ``device`` is
        informational: vLLM runs on the platform it was built for. ``dtype`` defaults to float32 on CPU
        (what the transformers backend uses there) and bfloat16 on GPU. ``max_lora_rank`` defaults to the
        adapter's own rank rounded up to a vLLM slot size; set it when more adapters of a larger rank
        will be added with :meth:`with_adapter`. ``engine_args`` go to ``vllm.LLM`` as they are.
        """
        if max_lora_rank is None:
            max_lora_rank = slot_rank(lora_rank(adapter_path)) if adapter_path is not None else _LORA_RANKS[0]
        llm, platform = start_engine(
            base_path, dtype=dtype, max_lora_rank=max_lora_rank, max_loras=max_loras,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, enforce_eager=enforce_eager,
            enable_prefix_caching=True,
            logits_processors=[VLLM_CONSTRAINT_PROCESSOR],
            # logprobs of the allowed tokens after the allowed_token_ids mask, unscaled: their logits
            logprobs_mode="processed_logits",
            **engine_args,
        )
        backend = cls(llm, None, platform, {})
        return backend.with_adapter(adapter_path) if adapter_path is not None else backend

    def with_adapter(self, adapter_path: Path | None) -> "VllmBackend":
        """A backend on the same engine (same base weights, same caches) serving another adapter, or none."""
        if adapter_path is None:
            return VllmBackend(self.llm, None, self.device, self._registry)
        return VllmBackend(self.llm, lora_request(self._registry, adapter_path, "adapter"), self.device,
                           self._registry)

    def run(self, prefix: Sequence[int], queries: Sequence[Query]) -> list[list[BranchResult]]:
        """Evaluate every branch of every query in one ``generate`` call (one request per branch)."""
        if not queries:
            return []
        if not prefix:
            raise ValueError("the shared prefix must not be empty")
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from models.backends.vllm_constraint import EXTRA_KEY

        where, prompts, params = [], [], []  # where: (query, branch, is a read?)
        for r, query in enumerate(queries):
            for j, branch in enumerate(query.branches):
                prompt = TokensPrompt(prompt_token_ids=[*prefix, *query.item, *branch.ids])
                if branch.read:  # one step restricted to the read tokens; their logits come back as "logprobs"
                    where.append((r, j, True))
                    prompts.append(prompt)
                    params.append(SamplingParams(max_tokens=1, temperature=0.0, logprobs=len(branch.read),
                                                 allowed_token_ids=list(branch.read), detokenize=False))
                if branch.constraint is not None and branch.max_new_tokens > 0:
                    where.append((r, j, False))
                    prompts.append(prompt)
                    params.append(SamplingParams(
                        max_tokens=branch.max_new_tokens, temperature=0.0, detokenize=False,
                        stop_token_ids=sorted(branch.constraint.stop_ids),
                        extra_args={EXTRA_KEY: _engine_spec(branch.constraint)},
                    ))
        results = [[BranchResult() for _ in q.branches] for q in queries]
        if not prompts:
            return results
        self.stats["requests"] += len(prompts)
        outputs = self.llm.generate(prompts, params, lora_request=self.lora, use_tqdm=False)
        for (r, j, is_read), output in zip(where, outputs):
            branch, completion = queries[r].branches[j], output.outputs[0]
            if is_read:
                top = completion.logprobs[0] if completion.logprobs else {}
                results[r][j].scores = np.asarray(
                    [top[t].logprob if t in top else -np.inf for t in branch.read], dtype=np.float32
                )
                continue
            tokens = [int(t) for t in completion.token_ids]
            if tokens and tokens[-1] in branch.constraint.stop_ids:
                # a real stop only where the constraint allowed it; else the engine ended a dead end
                results[r][j].stopped = tokens[-1] in branch.constraint.allowed(tokens[:-1])
                tokens.pop()
            results[r][j].tokens = tuple(tokens)
        return results


def _engine_spec(constraint: Any) -> dict[str, Any]:
    """How the engine process rebuilds ``constraint`` (see models.backends.vllm_constraint)."""
    spec = getattr(constraint, "engine_spec", None)
    if spec is None:
        raise VllmBackendError(
            f"{type(constraint).__name__} has no engine_spec(): the vllm backend decodes constraints inside the "
            "engine process and must be able to rebuild them there"
        )
    return spec()
