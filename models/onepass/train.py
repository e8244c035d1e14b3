"""Train a one-pass adapter: LoRA on the upper layers plus the heads, on examples of several datasets.

``fit_onepass`` merges the examples by text, holds a share of the items out, keeps the frozen lower layers'
output of every item (computed once), runs the shared loop (:mod:`models.training.loop`) over the upper
layers, then tunes each label's threshold on the held-out items and measures the run there.
``train_onepass`` also writes the adapter folder. With ``work_dir`` the run is resumable: kill it, call
again with the same arguments, and it continues from its last checkpoint to the same result.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from models.adapters import read_meta
from models.base import BaseModel, load_model, load_tokenizer, resolve_base
from models.onepass.artifact import READOUT, load_onepass, readout_meta, write_heads
from models.onepass.dialogue import (Conversations, DialogueLayout, Piece, conversations_of, dialogues_for,
                                     encode_pieces, view_batch)
from models.onepass.features import compute_lower_states, states_key
from models.onepass.inputs import ItemEncoder, make_batch
from models.onepass.network import HeadSpec, OnePassNetwork
from models.onepass.reader import OnePassReader, ReadoutState
from models.onepass.targets import GENERIC, LossWeights, TrainItem, attach_rejected, batch_loss, merge_examples
from models.onepass.thresholds import tune_thresholds
from models.prediction import Prediction
from models.tasks.base import Example
from models.training.config import OnePassConfig
from models.training.data import examples_sha256
from models.training.loop import LoopConfig, batch_plan, run_loop, steps_for
from models.training.metrics import cause_token_f1, expected_calibration_error, pearson
from models.training.sft import _jsonable, _versions, round_to_half, save_adapter, set_seed


@dataclasses.dataclass
class FittedOnePass:
    """A trained one-pass network in memory, with what is needed to use and save it."""

    network: OnePassNetwork
    encoder: ItemEncoder
    state: ReadoutState
    meta: dict[str, Any]

    def reader(self, version: str = "eval", device: str = "cpu") -> OnePassReader:
        """A reader over the in-memory network."""
        return OnePassReader(self.network, self.encoder, self.state, version, device)


def split_items(items: Sequence[TrainItem], fraction: float, seed: int) -> tuple[list[TrainItem], list[TrainItem]]:
    """Hold out ``fraction`` of the items, chosen by a seeded hash of the text (stable under reordering); the
    turns of a conversation by a hash of the conversation, so it is held out whole or not at all."""
    if fraction <= 0 or len(items) < 2:
        return list(items), []
    train, held = [], []
    for item in items:
        name = item.text if item.conversation is None else f"conversation|{item.conversation}"
        digest = hashlib.sha256(f"{seed}|{name}".encode()).digest()
        (held if int.from_bytes(digest[:8], "big") / 2**64 < fraction else train).append(item)
    if not held:
        held.append(train.pop())
    return train, held


def lora_on_upper_layers(lm: torch.nn.Module, cfg: OnePassConfig, n_layers: int) -> torch.nn.Module:
    """Wrap ``lm`` with a fresh LoRA adapter on the layers above ``frozen_layers``."""
    from peft import LoraConfig, get_peft_model

    frozen = cfg.readout.frozen_layers
    if frozen >= n_layers:
        raise ValueError(f"frozen_layers ({frozen}) leaves none of the base's {n_layers} layers to adapt")
    config = LoraConfig(r=cfg.model.lora_r, lora_alpha=cfg.model.lora_alpha, lora_dropout=cfg.model.lora_dropout,
                        target_modules=list(cfg.model.lora_target_modules),
                        layers_to_transform=list(range(frozen, n_layers)), layers_pattern="layers")
    return get_peft_model(lm, config)


def build_network(cfg: OnePassConfig, base: BaseModel, init_adapter: Path | None) -> tuple[OnePassNetwork, HeadSpec]:
    """A fresh network, or one continued from a one-pass adapter (new taxonomies get fresh heads)."""
    device = cfg.model.device
    spec = HeadSpec(taxonomies=dict(cfg.readout.taxonomies), cause=cfg.readout.cause,
                    frozen_layers=cfg.readout.frozen_layers)
    if init_adapter is None:
        lm = load_model(base.path, device=device)
        n_layers = len(lm.get_decoder().layers)
        return OnePassNetwork(lora_on_upper_layers(lm, cfg, n_layers), spec).to(device), spec
    start, _, _, _ = load_onepass(base.path, init_adapter, device=device, trainable=True)
    spec = dataclasses.replace(spec, frozen_layers=start.spec.frozen_layers,
                               taxonomies={**start.spec.taxonomies, **spec.taxonomies})
    network = OnePassNetwork(start.lm, spec).to(device)
    kept = {k: v for k, v in start.head_state().items()
            if not k.startswith("heads.") or k.split(".")[1] in start.spec.taxonomies
            and spec.taxonomies[k.split(".")[1]] == start.spec.taxonomies[k.split(".")[1]]}
    network.load_state_dict(kept, strict=False)
    return network, spec


def fit_onepass(cfg: OnePassConfig, examples: Sequence[Example], base: BaseModel | None = None,
                init_adapter: Path | None = None, work_dir: Path | None = None,
                rejected: Sequence[Example] = ()) -> FittedOnePass:
    """Train in memory (nothing but checkpoints is written) and measure the run on held-out items.

    ``rejected``: labeler answers humans corrected (same text as an example); with a preference weight they
    feed the EmPO ranking term.
    """
    set_seed(cfg.train.seed)
    base = base or resolve_base(cfg.model.base, cfg.model.cache_dir)
    device = cfg.model.device
    network, spec = build_network(cfg, base, init_adapter)
    items = merge_examples(examples, spec)
    n_corrections = attach_rejected(items, rejected, spec)
    train_items, held = split_items(items, cfg.readout.holdout_fraction, cfg.train.seed)
    if not train_items:
        raise ValueError("no training example has a field the one-pass heads can learn from")
    conversations = conversations_of(examples)
    encoder = ItemEncoder.for_tokenizer(load_tokenizer(base.path), cfg.readout.max_text_tokens)
    layout = DialogueLayout()
    units = training_units(train_items, conversations, encoder, layout)
    tokens = [unit.piece.tokens for unit in units]
    dtype = network.dtype
    lower = None
    if spec.frozen_layers > 0:
        key = states_key(base.sha256, spec.frozen_layers, tokens)
        network.eval()
        progress = _progress(len(tokens), cfg.train.progress, "lower layers", "item")
        lower = compute_lower_states(network, tokens, encoder.pad_id, batch_size=cfg.train.eval_batch_size,
                                     device=device, folder=work_dir, key=key, progress=progress.update)
        progress.close()
    steps = cfg.train.max_steps or steps_for(len(units), cfg.train.batch_size, cfg.train.epochs)
    data_sha = examples_sha256(examples)
    offset = steps_already_seen(init_adapter, data_sha, cfg) if init_adapter is not None else 0
    plan = batch_plan(len(units), cfg.train.batch_size, offset + steps, cfg.train.seed,
                      lengths=[len(t.ids) for t in tokens])[offset:]
    weights = LossWeights(cfg.readout.emotion_weight, cfg.readout.intensity_weight, cfg.readout.cause_weight,
                          cfg.readout.preference_weight)
    parts_seen: list[dict[str, float]] = []
    across = spec.cause and any(item.cause_turn is not None for item in train_items)

    def loss_at(step: int) -> torch.Tensor:
        chosen = [units[i] for i in plan[step]]
        batch = make_batch([unit.piece.tokens for unit in chosen], encoder.pad_id, dtype=dtype, device=device)
        if lower is not None:
            kept = lower.padded(plan[step], batch.ids.shape[1], dtype).to(device)
        else:
            kept = network.lower(batch)
        hidden = network.upper(kept, batch)
        rows = [r for r, unit in enumerate(chosen) for _ in unit.piece.views]
        views = [view for unit in chosen for view in unit.piece.views]
        areas = [area for unit in chosen for area in unit.piece.areas] if across else None
        if rows != list(range(batch.rows)):
            hidden = hidden[torch.as_tensor(rows, device=hidden.device)]
        read = view_batch(batch, rows, views, areas)
        outputs = network.read(hidden, read)
        loss, parts = batch_loss(outputs, read, [train_items[i] for unit in chosen for i in unit.items], views,
                                 spec, weights, areas)
        parts_seen.append(parts)
        return loss

    lora = [p for n, p in network.named_parameters() if p.requires_grad and n.startswith("lm.")]
    heads = [p for n, p in network.named_parameters() if p.requires_grad and not n.startswith("lm.")]
    groups = [{"params": lora, "lr": cfg.train.learning_rate}, {"params": heads, "lr": cfg.readout.head_learning_rate}]
    loop = LoopConfig(steps=steps, warmup_ratio=cfg.train.warmup_ratio, max_grad_norm=cfg.train.max_grad_norm,
                      weight_decay=cfg.train.weight_decay, max_seconds=cfg.train.max_seconds,
                      checkpoint_every=cfg.readout.checkpoint_every if work_dir is not None else None,
                      progress=cfg.train.progress, desc="onepass")
    result = run_loop(network, [g for g in groups if g["params"]], loop, loss_at, checkpoint_dir=work_dir)
    if cfg.train.half_precision_weights:
        round_to_half(network.lm)
    state = ReadoutState(intensity_trained=_intensity_trained(train_items, spec, cfg.readout.min_intensity_examples),
                         layout=layout, context_trained=any(item.conversation is not None for item in train_items),
                         cause_across_turns=across)
    fitted = FittedOnePass(network, encoder, state, {})
    metrics = {"train_loss_first": result.losses[0], "train_loss_last": result.losses[-1],
               "train_loss_parts_last": _mean_parts(parts_seen[-50:])}
    if held:
        state.thresholds, held_metrics = tune_and_measure(fitted.reader(device=device), held, spec,
                                                          cfg.train.eval_batch_size, conversations)
        metrics.update(held_metrics)
    fitted.meta = {
        "readout": READOUT,
        "base": {"model_id": base.model_id, "sha256": base.sha256},
        "init_adapter": str(init_adapter) if init_adapter is not None else None,
        "tasks": [],
        "labels": list(next(iter(spec.taxonomies.values()), ())),
        "taxonomies": {k: list(v) for k, v in spec.taxonomies.items()},
        "onepass": readout_meta(spec, encoder, state),
        "data": {"sha256": data_sha, "n_examples": len(examples), "n_items": len(items),
                 "n_train": len(train_items), "n_heldout": len(held), "n_corrections": n_corrections,
                 "n_conversations": len(conversations), "n_sequences": len(units)},
        "hyperparameters": _jsonable(dataclasses.asdict(cfg)),
        "steps": result.steps,
        "planned_steps": steps,
        "plan_offset": offset,
        "resumed_from_step": result.resumed_from,
        "train_seconds": round(result.seconds, 2),
        "losses": [round(x, 5) for x in result.losses],
        "metrics": metrics,
        "versions": _versions(),
    }
    return fitted


@dataclass(frozen=True)
class Unit:
    """One training sequence: a lone item, or a piece of a conversation reading several of its turns."""

    piece: Piece
    items: tuple[int, ...]  # the training item each of the piece's views reads


def training_units(items: Sequence[TrainItem], conversations: Conversations, encoder: ItemEncoder,
                   layout: DialogueLayout) -> list[Unit]:
    """The sequences a run trains on: each lone item alone, each conversation's items in pieces (one
    forward pass reads all turns of a piece, each after the turns before it)."""
    keys = [(item.conversation, item.turn or 0) if item.conversation is not None else None for item in items]
    dialogues, owners = dialogues_for([item.text for item in items], keys, conversations)
    pieces = encode_pieces(encoder, dialogues, layout)
    units = []
    for piece in pieces:
        rows = dict(zip(dialogues[piece.dialogue].targets, owners[piece.dialogue]))
        units.append(Unit(piece, tuple(rows[turn] for turn in piece.turns)))
    return units


def steps_already_seen(init_adapter: Path, data_sha: str, cfg: OnePassConfig) -> int:
    """Batches of this run's plan that ``init_adapter`` was already trained on (0 if it is another run's).

    An adapter trained on the same examples with the same seed and batch size walked the same seeded plan;
    continuing it starts at the batch after its last, so the extra steps see records it has not seen yet.
    """
    meta = read_meta(init_adapter)
    trained = meta.get("hyperparameters", {}).get("train", {})
    if (meta.get("data", {}).get("sha256") != data_sha or trained.get("seed") != cfg.train.seed
            or trained.get("batch_size") != cfg.train.batch_size):
        return 0
    return int(meta.get("plan_offset", 0)) + int(meta.get("steps", 0))


def train_onepass(cfg: OnePassConfig, examples: Sequence[Example], base: BaseModel | None = None,
                  init_adapter: Path | None = None, work_dir: Path | None = None) -> Path:
    """Train and write ``<output_dir>/<version>/``; returns the folder."""
    fitted = fit_onepass(cfg, examples, base, init_adapter, work_dir)
    return save_onepass(fitted, cfg.train.output_dir, cfg.train.run_name, cfg.train.half_precision_weights)


def save_onepass(fitted: FittedOnePass, output_dir: Path, run_name: str, half: bool = False) -> Path:
    """Write a fitted network as an adapter folder (LoRA, heads, metadata), atomically."""
    return save_adapter(fitted.network.lm, output_dir, run_name, fitted.meta, half=half,
                        write_extra=lambda folder: write_heads(fitted.network, folder))


def tune_and_measure(reader: OnePassReader, held: Sequence[TrainItem], spec: HeadSpec, batch_size: int = 64,
                     conversations: Conversations | None = None) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Tune every head's thresholds on the held-out items and measure the readout there (a conversation's
    turns read after the turns before them, as labeling reads them)."""

    def read(rows: Sequence[TrainItem], taxonomy: str | None) -> list[Prediction]:
        keys = [(item.conversation, item.turn or 0) if item.conversation is not None else None for item in rows]
        return reader.predict_turns([item.text for item in rows], keys, conversations or {}, taxonomy,
                                    batch_size=batch_size)

    thresholds: dict[str, dict[str, float]] = {}
    metrics: dict[str, float] = {}
    for name, labels in spec.taxonomies.items():
        rows = [item for item in held if name in item.emotions]
        if not rows:
            continue
        preds = read(rows, name)
        probs = np.asarray([[p.emotions[label] for label in labels] for p in preds])
        gold = np.asarray([[label in item.emotions[name] for label in labels] for item in rows])
        tuned = tune_thresholds(probs, gold)
        thresholds[name] = dict(zip(labels, tuned))
        pred = probs >= np.asarray(tuned)[None, :]
        f1s = [_f1(pred[:, j], gold[:, j]) for j in range(len(labels)) if gold[:, j].any()]
        metrics[f"{name}/emotion_macro_f1"] = float(np.mean(f1s)) if f1s else 0.0
        metrics[f"{name}/emotion_ece"] = expected_calibration_error(probs.ravel().tolist(), gold.ravel().tolist())
        metrics[f"{name}/n"] = float(len(rows))
    intensity_rows = [item for item in held if any(k != GENERIC for k in item.intensities)]
    name = next(iter(spec.taxonomies), None)
    if intensity_rows and name is not None:
        preds = read(intensity_rows, name)
        by_label: dict[str, tuple[list[float], list[float]]] = {}
        for item, pred in zip(intensity_rows, preds):
            for label, value in item.intensities.items():
                if pred.intensities and label in pred.intensities:
                    by_label.setdefault(label, ([], []))[0].append(value)
                    by_label[label][1].append(pred.intensities[label])
        rs = {label: pearson(g, p) for label, (g, p) in by_label.items() if len(g) >= 2}
        if rs:
            metrics["intensity_pearson"] = float(np.mean(list(rs.values())))
            metrics.update({f"intensity_pearson/{label}": r for label, r in rs.items()})
    cause_rows = [item for item in held if item.cause is not None]
    if cause_rows and spec.cause:
        preds = read(cause_rows, None)
        truth = [Example(item.text, cause=item.cause, conversation=item.conversation, turn=item.turn,
                        cause_turn=item.cause_turn) for item in cause_rows]
        turns = {(name, number): turn.text for name, numbered in (conversations or {}).items()
                 for number, turn in numbered}
        metrics.update(cause_token_f1(truth, preds, turns or None))
    return thresholds, metrics


def _f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float(np.sum(pred & gold))
    denominator = float(np.sum(pred) + np.sum(gold))
    return 2 * tp / denominator if denominator else 0.0


def _intensity_trained(items: Sequence[TrainItem], spec: HeadSpec, minimum: int) -> dict[str, list[str]]:
    counts: dict[str, int] = {}
    for item in items:
        for label in item.intensities:
            counts[label] = counts.get(label, 0) + 1
    return {name: [label for label in labels if counts.get(label, 0) >= minimum]
            for name, labels in spec.taxonomies.items()}


def _mean_parts(parts: Sequence[dict[str, float]]) -> dict[str, float]:
    if not parts:
        return {}
    return {key: round(sum(p[key] for p in parts) / len(parts), 5) for key in parts[0]}


def _progress(total: int, enabled: bool, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)
