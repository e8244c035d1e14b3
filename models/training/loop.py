"""The one optimisation loop every training objective uses (one-pass heads, SFT, DPO).

It owns what the objectives share: AdamW over parameter groups, linear warmup then linear decay, gradient
clipping, the progress bar, the time limit, and checkpoints. The objective supplies ``loss_at(step)``: the
loss of the batch planned for that step. Because the batch of a step is a pure function of the step (see
:func:`batch_plan`), a run resumed from a checkpoint continues with exactly the batches, learning rates and
random state an uninterrupted run would have had.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

CHECKPOINT = "checkpoint.pt"


@dataclass
class LoopConfig:
    """How to optimise: schedule, clipping, limits, checkpoints."""

    steps: int
    warmup_ratio: float = 0.05
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    max_seconds: float | None = None
    checkpoint_every: int | None = None
    progress: bool = True
    desc: str = "train"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")


@dataclass
class LoopResult:
    """What a run did: the loss of every step taken (also those before a resume), its duration."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0

    @property
    def steps(self) -> int:
        return len(self.losses)


def batch_plan(n_items: int, batch_size: int, steps: int, seed: int, lengths: Sequence[int] | None = None,
               bucket: int = 50) -> list[list[int]]:
    """The item indexes of every step: epochs of seeded shuffles, each cut into batches.

    With ``lengths``, each run of ``bucket`` batches is sorted by length before it is cut (similar lengths
    share a batch, so little compute goes to padding) and the batches are shuffled again.
    """
    if n_items < 1 or batch_size < 1:
        raise ValueError("need at least one item and a batch size >= 1")
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < steps:
        rng = random.Random(seed * 100_003 + epoch)
        order = list(range(n_items))
        rng.shuffle(order)
        batches: list[list[int]] = []
        if lengths is None:
            batches = [order[i : i + batch_size] for i in range(0, n_items, batch_size)]
        else:
            span = batch_size * bucket
            for lo in range(0, n_items, span):
                chunk = sorted(order[lo : lo + span], key=lambda i: lengths[i])
                batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
            rng.shuffle(batches)
        plan.extend(batches)
        epoch += 1
    return plan[:steps]


def steps_for(n_items: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps for ``epochs`` passes over ``n_items`` (at least one)."""
    return max(1, math.ceil(n_items * epochs / batch_size))


def run_loop(module: torch.nn.Module, groups: Sequence[dict[str, Any]], cfg: LoopConfig,
             loss_at: Callable[[int], torch.Tensor], checkpoint_dir: Path | None = None,
             on_step: Callable[[int, float], None] | None = None) -> LoopResult:
    """Optimise the trainable parameters of ``module`` (split into AdamW ``groups``) for ``cfg.steps``.

    ``loss_at(step)`` returns the loss of that step's batch. With ``checkpoint_dir``, the trainable weights,
    the optimizer, the schedule, the random state and the losses are written there every
    ``checkpoint_every`` steps and when the run stops, and a run that finds a checkpoint there resumes
    from it. The module is left in eval mode.
    """
    params = [p for group in groups for p in group["params"]]
    if not params:
        raise ValueError("nothing to train: no trainable parameters")
    optimizer = torch.optim.AdamW(list(groups), weight_decay=cfg.weight_decay)
    warmup = int(cfg.steps * cfg.warmup_ratio)
    steps = cfg.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup))
    )
    result = LoopResult()
    path = checkpoint_dir / CHECKPOINT if checkpoint_dir is not None else None
    if path is not None and path.exists():
        result = _restore(path, module, optimizer, schedule)
    started = time.time() - result.seconds
    session_started = time.time()
    progress = _progress(cfg.steps, cfg.progress, cfg.desc, initial=result.steps)
    module.train()
    try:
        for step in range(result.steps, cfg.steps):
            if (cfg.max_seconds is not None and step > result.resumed_from
                    and time.time() - session_started >= cfg.max_seconds):
                break  # out of time: keep what was learned (the schedule had not fully decayed)
            loss = loss_at(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            schedule.step()
            result.losses.append(float(loss.detach()))
            result.seconds = time.time() - started
            progress.update(1)
            progress.set_postfix(loss=f"{result.losses[-1]:.4f}")
            if on_step is not None:
                on_step(step + 1, result.losses[-1])
            if path is not None and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
                _save(path, module, optimizer, schedule, result)
    finally:
        progress.close()
        module.eval()
    if path is not None and result.steps > result.resumed_from:
        _save(path, module, optimizer, schedule, result)
    return result


def trainable_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters of ``module`` by name (detached copies)."""
    return {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}


def _save(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
          result: LoopResult) -> None:
    state = {
        "weights": trainable_state(module),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "python_rng": random.getstate(),
        "losses": result.losses,
        "seconds": result.seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint whole


def _restore(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Any) -> LoopResult:
    state = torch.load(path, map_location="cpu", weights_only=False)
    params = dict(module.named_parameters())
    missing = [name for name in state["weights"] if name not in params]
    if missing:
        raise ValueError(f"checkpoint {path} does not fit this model (e.g. {missing[0]})")
    with torch.no_grad():
        for name, value in state["weights"].items():
            params[name].copy_(value.to(params[name].device))
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    random.setstate(state["python_rng"])
    losses = list(state["losses"])
    return LoopResult(losses=losses, seconds=float(state["seconds"]), resumed_from=len(losses))


def _progress(total: int, enabled: bool, desc: str, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, initial=initial)
