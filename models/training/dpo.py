"""Preference optimisation (DPO) of a LoRA adapter on correction pairs, over the labeler's packed trees.

A pair is (text, chosen = the human-corrected answer, rejected = the labeler's original answer). The
labeler's answer is a tree, not one string: a yes/no branch per emotion, an intensity digit and a cause
span, each conditioned on the prompt only. So log p(answer) is the sum of its branches' log-probs, and
in ``log p(chosen) - log p(rejected)`` every branch on which both answers agree cancels exactly. A pair
is therefore encoded as just its differing branches (EmPO: the rejected side carries the wrong emotion);
choice branches (" yes"/" no", digits) read both answers' tokens at one position, a differing cause
gets one branch per side. One packed forward per step, as in SFT; the backbone stays frozen.

Why not ``trl.DPOTrainer`` itself: it tokenizes ``prompt + completion`` as one linear sequence, which
cannot express a branching answer, and scoring each branch as its own linear pair would re-run the
whole prompt per branch (~20x the compute on CPU) and optimise a different objective (a sum of per-branch
sigmoids instead of the sigmoid of the summed log-ratio). trl 1.16 has no standalone loss function to
import (the loss lives inside ``DPOTrainer._compute_loss``), so :func:`dpo_loss` carries its
formulas for the ``sigmoid`` (default), ``hinge``, ``ipo`` and ``robust`` loss types, with trl's
parameter names and defaults (``beta=0.1``). As in trl with ``precompute_ref_log_probs``, the reference
is the starting adapter's log-probs, computed once before the first step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from models.backends.tree import run_tree
from models.tasks.base import Example
from models.tasks.prompt import Prompter
from models.training.loop import LoopConfig, batch_plan, run_loop

LOSS_TYPES = ("sigmoid", "hinge", "ipo", "robust")


@dataclass
class DPOConfig:
    """The preference-optimisation loop (names and defaults follow ``trl.DPOConfig`` where they exist)."""

    beta: float = field(default=0.1, metadata={"help": "strength of the pull towards the reference adapter"})
    loss_type: str = field(default="sigmoid", metadata={"help": f"one of {', '.join(LOSS_TYPES)} (trl's formulas)"})
    label_smoothing: float = field(default=0.0, metadata={"help": "robust DPO: assumed share of flipped labels"})
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW peak learning rate"})
    max_steps: int = field(default=50, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=8, metadata={"help": "pairs per step"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "linear warmup share of the steps, then linear decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    seed: int = field(default=0, metadata={"help": "seeds the pair order"})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda or cuda:N (the model's device)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {self.loss_type!r}")
        if self.beta <= 0 or self.learning_rate <= 0:
            raise ValueError("beta and learning_rate must be > 0")
        if self.max_steps < 1 or self.batch_size < 1:
            raise ValueError("max_steps and batch_size must be >= 1")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError("label_smoothing must be in [0, 0.5)")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")


@dataclass(frozen=True)
class PreferencePair:
    """Two answers for one text: ``chosen`` (human) is preferred over ``rejected`` (the labeler's)."""

    chosen: Example
    rejected: Example

    def __post_init__(self) -> None:
        if self.chosen.text != self.rejected.text:
            raise ValueError("both answers of a pair must be for the same text")


@dataclass(frozen=True)
class EncodedPair:
    """A pair as one tree: its item tokens, the branches where the answers differ, and what each side reads.

    ``chosen``/``rejected``: (branch index, position within the branch, target token); a side's log-prob
    is the sum of log p(target) at those positions.
    """

    item: tuple[int, ...]
    branches: tuple[tuple[int, ...], ...]
    chosen: tuple[tuple[int, int, int], ...]
    rejected: tuple[tuple[int, int, int], ...]
    fields: tuple[str, ...]  # the stems that differ, e.g. (" joy:", " cause:")


def encode_pair(prompter: Prompter, pair: PreferencePair) -> EncodedPair | None:
    """The differing branches of a pair, or None when the answers agree on every field both have."""
    codec = prompter.codec
    rejected_by_stem = {c.stem: c for c in prompter.completions(pair.rejected)}
    branches: list[tuple[int, ...]] = []
    chosen: list[tuple[int, int, int]] = []
    rejected: list[tuple[int, int, int]] = []
    stems: list[str] = []
    for good in prompter.completions(pair.chosen):
        bad = rejected_by_stem.get(good.stem)
        if bad is None or bad.answer == good.answer:
            continue
        stems.append(good.stem)
        if good.choices:
            ids, choice_ids = codec.choice_branch(good.stem, good.choices)
            branches.append(ids)
            chosen.append((len(branches) - 1, len(ids) - 1, choice_ids[good.choices.index(good.answer)]))
            rejected.append((len(branches) - 1, len(ids) - 1, choice_ids[bad.choices.index(bad.answer)]))
            continue
        for side, completion in ((chosen, good), (rejected, bad)):
            ids, answer = codec.completion_ids(completion.stem, completion.answer)
            branches.append(ids + answer[:-1])
            side.extend((len(branches) - 1, len(ids) - 1 + k, token) for k, token in enumerate(answer))
    if not branches:
        return None
    return EncodedPair(prompter.item_ids(pair.chosen.text), tuple(branches), tuple(chosen), tuple(rejected),
                       tuple(stems))


def tree_logps(
    model: torch.nn.Module, prefix: Sequence[int], batch: Sequence[EncodedPair], pad_id: int, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs (float32, shape ``(len(batch),)``) of the chosen and of the rejected targets."""
    head = model.get_output_embeddings().weight
    packed, hidden, _ = run_tree(model, prefix, [p.item for p in batch], [list(p.branches) for p in batch],
                                 pad_id, device)
    rows, cols, tokens, owner = [], [], [], []
    for r, pair in enumerate(batch):
        for side, targets in ((0, pair.chosen), (1, pair.rejected)):
            for j, k, token in targets:
                rows.append(r)
                cols.append(packed.branch_start[r][j] + k)
                tokens.append(token)
                owner.append(2 * r + side)
    logits = (hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)] @ head.T).float()
    picked = logits.log_softmax(-1).gather(1, torch.tensor(tokens, device=device)[:, None])[:, 0]
    sums = torch.zeros(2 * len(batch), dtype=torch.float32, device=device)
    sums = sums.index_add(0, torch.tensor(owner, device=device), picked)
    return sums[0::2], sums[1::2]


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    n_chosen: torch.Tensor | None = None,
    n_rejected: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pair DPO losses, as ``trl.DPOTrainer._compute_loss`` (trl 1.16, reverse-KL) computes them.

    ``n_chosen``/``n_rejected``: target-token counts, used by ``ipo`` (trl normalises it per token).
    """
    chosen_logratios = policy_chosen - ref_chosen
    rejected_logratios = policy_rejected - ref_rejected
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta)
    if loss_type == "hinge":
        return torch.relu(1 - beta * delta)
    if loss_type == "ipo":
        if n_chosen is None or n_rejected is None:
            raise ValueError("ipo needs the target-token counts")
        ipo_delta = chosen_logratios / n_chosen.clamp(min=1.0) - rejected_logratios / n_rejected.clamp(min=1.0)
        return (ipo_delta - 1 / (2 * beta)) ** 2
    if loss_type == "robust":
        clean = -(1 - label_smoothing) * F.logsigmoid(beta * delta)
        flipped = -label_smoothing * F.logsigmoid(-beta * delta)
        return (clean - flipped) / (1 - 2 * label_smoothing)
    raise ValueError(f"unknown loss_type {loss_type!r}; use one of {', '.join(LOSS_TYPES)}")


@torch.no_grad()
def score_pairs(
    model: torch.nn.Module, prompter: Prompter, pairs: Sequence[EncodedPair], device: str, batch_size: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chosen and rejected log-probs of every pair under ``model`` in eval mode (no dropout, no gradients)."""
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    for lo in range(0, len(pairs), batch_size):
        c, r = tree_logps(model, prompter.prefix, pairs[lo : lo + batch_size], prompter.codec.pad_id, device)
        chosen.append(c)
        rejected.append(r)
    model.train(was_training)
    empty = torch.zeros(0, device=device)
    return (torch.cat(chosen) if chosen else empty), (torch.cat(rejected) if rejected else empty)


def fit_dpo(
    model: torch.nn.Module,
    prompter: Prompter,
    pairs: Sequence[PreferencePair],
    cfg: DPOConfig,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Optimise ``model``'s trainable (LoRA) weights in place on ``pairs``; returns the run's metrics.

    The reference is ``model`` as it is on entry. ``preference_accuracy_*``: share of pairs whose chosen
    answer the model scores above the rejected one, before and after.
    """
    encoded = [e for e in (encode_pair(prompter, p) for p in pairs) if e is not None]
    metrics: dict[str, Any] = {"dpo_pairs": len(pairs), "dpo_pairs_differing": len(encoded), "dpo_steps": 0}
    if not encoded:
        return metrics
    device = cfg.device
    torch.manual_seed(cfg.seed)  # dropout on the LoRA input
    ref_chosen, ref_rejected = score_pairs(model, prompter, encoded, device)
    n_chosen = torch.tensor([len(e.chosen) for e in encoded], dtype=torch.float32, device=device)
    n_rejected = torch.tensor([len(e.rejected) for e in encoded], dtype=torch.float32, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (load the adapter with is_trainable=True)")
    steps = cfg.max_steps
    plan = batch_plan(len(encoded), cfg.batch_size, steps, cfg.seed)

    def loss_at(step: int) -> torch.Tensor:
        index = plan[step]
        policy_chosen, policy_rejected = tree_logps(
            model, prompter.prefix, [encoded[i] for i in index], prompter.codec.pad_id, device
        )
        picked = torch.tensor(index, device=device)
        return dpo_loss(
            policy_chosen, policy_rejected, ref_chosen[picked], ref_rejected[picked],
            beta=cfg.beta, loss_type=cfg.loss_type, label_smoothing=cfg.label_smoothing,
            n_chosen=n_chosen[picked], n_rejected=n_rejected[picked],
        ).mean()

    loop = LoopConfig(steps=steps, warmup_ratio=cfg.warmup_ratio, max_grad_norm=cfg.max_grad_norm,
                      progress=cfg.progress, desc="dpo")
    result = run_loop(model, [{"params": params, "lr": cfg.learning_rate}], loop, loss_at,
                      on_step=(lambda step, _: on_step(step)) if on_step is not None else None)
    losses = result.losses
    after_chosen, after_rejected = score_pairs(model, prompter, encoded, device)
    margin = (after_chosen - ref_chosen) - (after_rejected - ref_rejected)
    metrics.update(
        dpo_steps=steps,
        dpo_seconds=round(result.seconds, 2),
        dpo_loss_first=losses[0],
        dpo_loss_last=losses[-1],
        dpo_losses=losses,
        preference_accuracy_before=float((ref_chosen > ref_rejected).float().mean()),
        preference_accuracy_after=float((after_chosen > after_rejected).float().mean()),
        dpo_reward_margin=float(cfg.beta * margin.mean()),
    )
    return metrics
