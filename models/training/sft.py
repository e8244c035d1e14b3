"""LoRA SFT on branch trees: the loss falls on each branch's answer token(s) only.

Each example becomes the same packed tree the labeler reads (prompt + one branch per label, intensity
and cause), with the answer tokens as targets, so a training step costs about what inference costs.
The instruction prefix runs once per step (with gradients, since LoRA changes it too) and its KV is
shared by every row. ``main(cfg)`` writes ``<output_dir>/<version>/`` holding the peft adapter
(safetensors) and ``emo_adapter.json`` (base id + hash, data hash + size, hyper-parameters, metrics).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from models.adapters import ADAPTER_META
from models.backends.transformers import TransformersBackend
from models.backends.tree import run_tree
from models.base import BaseModel, load_model, load_tokenizer, resolve_base
from models.labeler import predict
from models.tasks.base import Example
from models.tasks.prompt import Prompter, TrainBranch, sample_background
from models.tasks.registry import make_tasks
from models.tokens import Codec
from models.training.config import ModelConfig, SFTConfig
from models.training.data import examples_sha256, read_examples
from models.training.loop import LoopConfig, batch_plan, run_loop, steps_for
from models.training.metrics import all_metrics


@dataclasses.dataclass
class Encoded:
    """One example as token ids: its item tokens and its training branches."""

    item: tuple[int, ...]
    branches: list[TrainBranch]


def set_seed(seed: int) -> None:
    """Seed Python and torch (CPU and CUDA)."""
    random.seed(seed)
    torch.manual_seed(seed)


def tree_loss(model: torch.nn.Module, prefix: Sequence[int], batch: Sequence[Encoded], pad_id: int, device: str) -> torch.Tensor:
    """Weighted mean next-token cross-entropy over the answer tokens of every branch in the batch."""
    head = model.get_output_embeddings().weight
    packed, hidden, _ = run_tree(model, prefix, [e.item for e in batch], [[b.ids for b in e.branches] for e in batch],
                                 pad_id, device)
    rows, cols, targets, weights = [], [], [], []
    for r, example in enumerate(batch):
        for j, branch in enumerate(example.branches):
            last = packed.last_column(r, j)
            for k, target in enumerate(branch.targets):
                rows.append(r)
                cols.append(last - len(branch.targets) + 1 + k)
                targets.append(target)
                weights.append(branch.weight)
    logits = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)] @ head.T
    losses = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(targets, device=device), reduction="none")
    weight = torch.tensor(weights, device=device, dtype=losses.dtype)
    return (losses * weight).sum() / weight.sum()


def split(examples: Sequence[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Seeded shuffle, then the first ``eval_fraction`` (at least 1 when > 0) is held out."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    n_eval = max(1, int(round(len(shuffled) * eval_fraction))) if eval_fraction > 0 and len(shuffled) > 1 else 0
    return shuffled[n_eval:], shuffled[:n_eval]


def lora_model(model: torch.nn.Module, cfg: ModelConfig) -> torch.nn.Module:
    """Wrap ``model`` with a fresh LoRA adapter as configured."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


@dataclasses.dataclass
class Fitted:
    """A trained (in-memory) peft model with what is needed to use and save it."""

    model: torch.nn.Module
    prompter: Prompter
    meta: dict[str, Any]


def train(cfg: SFTConfig, examples: Sequence[Example], base: BaseModel | None = None,
          init_adapter: Path | None = None) -> Path:
    """Train an adapter on ``examples`` and write it; returns the adapter folder."""
    fitted = fit(cfg, examples, base, init_adapter)
    return save_adapter(fitted.model, cfg.train.output_dir, cfg.train.run_name, fitted.meta,
                        half=cfg.train.half_precision_weights)


def fit(cfg: SFTConfig, examples: Sequence[Example], base: BaseModel | None = None,
        init_adapter: Path | None = None) -> Fitted:
    """Train a LoRA adapter in memory and compute held-out metrics (nothing is written).

    ``init_adapter``: continue training that saved adapter (its LoRA shape wins over ``cfg.model``'s)
    instead of a fresh one; retraining starts from the active adapter this way.
    """
    set_seed(cfg.train.seed)
    base = base or resolve_base(cfg.model.base, cfg.model.cache_dir)
    device = cfg.model.device
    codec = Codec(load_tokenizer(base.path))
    prompter = Prompter(make_tasks(cfg.model.tasks, cfg.data.labels), codec)
    if cfg.data.max_examples is not None:
        examples = list(examples)[: cfg.data.max_examples]
    train_set, eval_set = split(examples, cfg.data.eval_fraction, cfg.train.seed)
    encoded = [Encoded(prompter.item_ids(e.text), prompter.train_branches(e)) for e in train_set]
    encoded = [e for e in encoded if e.branches]
    if not encoded:
        raise ValueError("no training example has a field the configured tasks can learn from")

    model = load_model(base.path, device=device)
    if init_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, init_adapter, is_trainable=True)
    else:
        model = lora_model(model, cfg.model)
    steps = cfg.train.max_steps or steps_for(len(encoded), cfg.train.batch_size, cfg.train.epochs)
    plan = batch_plan(len(encoded), cfg.train.batch_size, steps, cfg.train.seed)

    def loss_at(step: int) -> torch.Tensor:
        sample_rng = random.Random(cfg.train.seed * 1_000_003 + step)  # the step's own draw: resumable
        batch = [Encoded(encoded[i].item, sample_background(encoded[i].branches, cfg.train.background_per_example,
                                                            sample_rng)) for i in plan[step]]
        return tree_loss(model, prompter.prefix, batch, codec.pad_id, device)

    params = [p for p in model.parameters() if p.requires_grad]
    loop = LoopConfig(steps=steps, warmup_ratio=cfg.train.warmup_ratio, max_grad_norm=cfg.train.max_grad_norm,
                      weight_decay=cfg.train.weight_decay, max_seconds=cfg.train.max_seconds,
                      progress=cfg.train.progress, desc="sft")
    result = run_loop(model, [{"params": params, "lr": cfg.train.learning_rate}], loop, loss_at)
    losses, train_seconds = result.losses, result.seconds

    if cfg.train.half_precision_weights:
        round_to_half(model)
    metrics: dict[str, Any] = {"train_loss_first": losses[0], "train_loss_last": losses[-1]}
    if eval_set:
        backend = TransformersBackend(model, pad_id=codec.pad_id, device=device)
        preds = predict(prompter, backend, [e.text for e in eval_set], cfg.train.eval_batch_size, version="eval")
        metrics.update(all_metrics(eval_set, preds, cfg.data.labels))
        with torch.no_grad():
            enc = [Encoded(prompter.item_ids(e.text), prompter.train_branches(e)) for e in eval_set]
            enc = [e for e in enc if e.branches]
            if enc:
                metrics["eval_loss"] = float(tree_loss(model, prompter.prefix, enc, codec.pad_id, device))
    meta = {
        "base": {"model_id": base.model_id, "sha256": base.sha256},
        "init_adapter": str(init_adapter) if init_adapter is not None else None,
        "tasks": list(cfg.model.tasks),
        "prompt_template": prompter.template,
        "system_prompt": prompter.system,
        "labels": list(cfg.data.labels),
        "data": {"sha256": examples_sha256(examples), "n_examples": len(examples), "n_train": len(train_set), "n_eval": len(eval_set)},
        "hyperparameters": _jsonable(dataclasses.asdict(cfg)),
        "steps": len(losses),
        "planned_steps": steps,
        "train_seconds": round(train_seconds, 2),
        "losses": losses,
        "metrics": metrics,
        "versions": _versions(),
    }
    return Fitted(model=model, prompter=prompter, meta=meta)


def round_to_half(model: torch.nn.Module) -> None:
    """Round the trainable (LoRA) weights to values fp16 can hold (they stay in the model's dtype).

    ``save_adapter(..., half=True)`` then writes them as fp16 without loss (half the file), and the held-out
    metrics, computed after this, describe exactly the weights that are saved.
    """
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(param.to(torch.float16))


def save_adapter(model: torch.nn.Module, output_dir: Path, run_name: str, meta: dict[str, Any],
                 half: bool = False, write_extra: Callable[[Path], None] | None = None) -> Path:
    """Write the adapter (safetensors) and its metadata into a new version folder, atomically.

    ``half``: store the LoRA weights as fp16 (see ``round_to_half``); loading casts them back.
    ``write_extra(folder)``: writes further files (e.g. the one-pass heads) before the folder is published.
    """
    created = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    version = f"{run_name}-{created}-{meta['data']['sha256'][:8]}"
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / version
    suffix = 1
    while target.exists():
        suffix += 1
        target = output_dir / f"{version}-{suffix}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=output_dir))
    try:
        if half:
            state = {k: v.to(torch.float16) for k, v in model.state_dict().items() if "lora_" in k}
            model.save_pretrained(tmp, safe_serialization=True, state_dict=state)
        else:
            model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model-card stub; the metadata JSON replaces it
        if write_extra is not None:
            write_extra(tmp)
        meta = {"version": target.name, "created_at": created, **meta}
        (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2, sort_keys=False))
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def main(cfg: SFTConfig) -> Path:
    """Read ``cfg.data.train_file``, train, and return the new adapter folder."""
    return train(cfg, read_examples(cfg.data.train_file))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _versions() -> dict[str, str]:
    import peft
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
