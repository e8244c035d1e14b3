"""A one-pass adapter on disk: peft LoRA files, ``heads.safetensors`` and the metadata that describes both.

The metadata (``emo_adapter.json``) says ``"readout": "onepass.v1"`` and holds, under ``"onepass"``, the
head spec, the tokenization of items, which intensity outputs were trained, and the tuned thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.adapters import ONEPASS, read_meta
from models.onepass.inputs import ItemEncoder
from models.onepass.network import HeadSpec, OnePassNetwork
from models.onepass.reader import ReadoutState

READOUT = ONEPASS
HEADS_FILE = "heads.safetensors"


def readout_meta(spec: HeadSpec, encoder: ItemEncoder, state: ReadoutState) -> dict[str, Any]:
    """The ``"onepass"`` part of the metadata."""
    return {"spec": spec.as_dict(), "inputs": encoder.spec(), "intensity_trained": state.intensity_trained,
            "thresholds": state.thresholds}


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
    from safetensors.torch import load_file

    from models.base import load_model, load_tokenizer

    meta = read_meta(adapter_path)
    if meta.get("readout") != READOUT:
        raise ValueError(f"{adapter_path} is not a one-pass adapter (readout {meta.get('readout')!r})")
    info = meta["onepass"]
    spec = HeadSpec.from_dict(info["spec"])
    lm = load_model(base_path, device=device)
    lm = PeftModel.from_pretrained(lm, adapter_path, is_trainable=trainable)
    if not trainable and merge:
        lm = lm.merge_and_unload()
    network = OnePassNetwork(lm, spec)
    heads = load_file(str(Path(adapter_path) / HEADS_FILE))
    missing, unexpected = network.load_state_dict(heads, strict=False)
    missing = [k for k in missing if not k.startswith("lm.")]
    if missing or unexpected:
        raise ValueError(f"{adapter_path}/{HEADS_FILE} does not fit its spec (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    network.to(device)
    network.train(trainable)
    if not trainable:
        for param in network.parameters():
            param.requires_grad_(False)
    encoder = ItemEncoder.from_spec(load_tokenizer(base_path), info["inputs"])
    state = ReadoutState(intensity_trained={k: list(v) for k, v in info.get("intensity_trained", {}).items()},
                         thresholds={k: dict(v) for k, v in info.get("thresholds", {}).items()})
    return network, encoder, state, meta


