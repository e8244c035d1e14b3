"""A one-pass adapter on disk: peft LoRA files, ``heads.safetensors`` and the metadata that describes both.

The metadata (``emo_adapter.json``) says ``"readout": "onepass.v1"`` and holds, under ``"onepass"``, the
head spec, the tokenization of items, which intensity outputs were trained, the tuned thresholds, and how
conversations are read (``"dialogue"``: the layout, and whether training read turns after their context).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.adapters import ONEPASS, read_meta
from models.onepass.dialogue import DialogueLayout
from models.onepass.heads import HeadSpec, OnePassHeads, hidden_size_of
from models.onepass.inputs import ItemEncoder
from models.onepass.network import OnePassNetwork
from models.onepass.reader import ReadoutState

if TYPE_CHECKING:
    import torch

READOUT = ONEPASS
HEADS_FILE = "heads.safetensors"


def readout_meta(spec: HeadSpec, encoder: ItemEncoder, state: ReadoutState) -> dict[str, Any]:
    """The ``"onepass"`` part of the metadata."""
    return {"spec": spec.as_dict(), "inputs": encoder.spec(), "intensity_trained": state.intensity_trained,
            "thresholds": state.thresholds,
            "dialogue": {**dataclasses.asdict(state.layout), "trained": state.context_trained,
                         "cause_across_turns": state.cause_across_turns}}


def write_heads(network: OnePassNetwork, folder: Path) -> None:
    """Write the heads' weights (fp32) into an adapter folder being built."""
    from safetensors.torch import save_file

    save_file({k: v.detach().float().contiguous().cpu() for k, v in network.head_state().items()},
              str(Path(folder) / HEADS_FILE))


def load_onepass(base_path: Path, adapter_path: Path, device: str = "cpu", trainable: bool = False,
                 merge: bool = True) -> tuple[OnePassNetwork, ItemEncoder, ReadoutState, dict[str, Any]]:
    """Load base + LoRA + heads from an adapter folder.

    ``trainable``: keep LoRA separate and trainable (to continue training); otherwise, with ``merge``, LoRA
    is folded into the base weights, which makes labeling faster and changes results only by rounding.
    """
    from peft import PeftModel

    from models.base import load_model

    meta, spec, info = read_readout(adapter_path)
    lm = load_model(base_path, device=device)
    lm = PeftModel.from_pretrained(lm, adapter_path, is_trainable=trainable)
    if not trainable and merge:
        lm = lm.merge_and_unload()
    network = OnePassNetwork(lm, spec)
    _load_head_weights(network, adapter_path)
    network.to(device)
    network.train(trainable)
    if not trainable:
        for param in network.parameters():
            param.requires_grad_(False)
    encoder, state = _encoder_and_state(base_path, info)
    return network, encoder, state, meta


def load_heads(base_path: Path, adapter_path: Path,
               device: str = "cpu") -> tuple[OnePassHeads, ItemEncoder, ReadoutState, dict[str, Any]]:
    """Only the heads (no base or LoRA weights), the item encoder and the readout state of an adapter.

    For a backend that computes the final hidden states itself (vLLM). ``base_path`` gives the tokenizer,
    and its ``config.json`` is checked against the heads' hidden size.
    """
    from safetensors.torch import load_file

    meta, spec, info = read_readout(adapter_path)
    weights = load_file(str(Path(adapter_path) / HEADS_FILE))
    hidden = hidden_size_of(weights)
    expected = _base_hidden_size(base_path)
    if expected is not None and expected != hidden:
        raise ValueError(f"{adapter_path} has heads for hidden size {hidden}; the base {base_path} has {expected}")
    heads = OnePassHeads(hidden, spec)
    _load_head_weights(heads, adapter_path, weights)
    heads.to(device).eval()
    for param in heads.parameters():
        param.requires_grad_(False)
    encoder, state = _encoder_and_state(base_path, info)
    return heads, encoder, state, meta


def read_readout(adapter_path: Path) -> tuple[dict[str, Any], HeadSpec, dict[str, Any]]:
    """An adapter's metadata, head spec and ``"onepass"`` section; refuses any other adapter."""
    meta = read_meta(adapter_path)
    if meta.get("readout") != READOUT:
        raise ValueError(f"{adapter_path} is not a one-pass adapter (readout {meta.get('readout')!r})")
    info = meta["onepass"]
    return meta, HeadSpec.from_dict(info["spec"]), info


def _load_head_weights(heads: OnePassHeads, adapter_path: Path,
                       weights: dict[str, torch.Tensor] | None = None) -> None:
    if weights is None:
        from safetensors.torch import load_file

        weights = load_file(str(Path(adapter_path) / HEADS_FILE))
    missing, unexpected = heads.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.startswith("lm.")]
    if missing or unexpected:
        raise ValueError(f"{adapter_path}/{HEADS_FILE} does not fit its spec (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")


def _encoder_and_state(base_path: Path, info: dict[str, Any]) -> tuple[ItemEncoder, ReadoutState]:
    from models.base import load_tokenizer

    encoder = ItemEncoder.from_spec(load_tokenizer(base_path), info["inputs"])
    state = ReadoutState(intensity_trained={k: list(v) for k, v in info.get("intensity_trained", {}).items()},
                         thresholds={k: dict(v) for k, v in info.get("thresholds", {}).items()})
    dialogue = dict(info.get("dialogue") or {})  # adapters from before conversations: the defaults, untrained
    state.context_trained = bool(dialogue.pop("trained", False))
    state.cause_across_turns = bool(dialogue.pop("cause_across_turns", False))
    if dialogue:
        state.layout = DialogueLayout(**dialogue)
    return encoder, state


def _base_hidden_size(base_path: Path) -> int | None:
    config = Path(base_path) / "config.json"
    if not config.is_file():
        return None
    data = json.loads(config.read_text())
    size = data.get("hidden_size") or (data.get("text_config") or {}).get("hidden_size")
    return int(size) if size else None
