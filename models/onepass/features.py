"""The frozen lower layers' output for every training item, computed once and kept (in memory or on disk).

The lower ``frozen_layers`` layers carry no adapter, so their output for an item never changes during
training. Computing it once turns each later step (and each epoch) into a pass over the upper layers
only. The kept states are fp16 (half the memory; their rounding is far below what training changes).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from models.onepass.inputs import ItemTokens, make_batch
from models.onepass.network import OnePassNetwork

_FP16_MAX = 60000.0


class LowerStates:
    """Lower-layer outputs of items, one (tokens, hidden) array each, stored flat."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        self.flat, self.starts, self.lengths = flat, starts, lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def get(self, index: int) -> np.ndarray:
        """The (tokens, hidden) states of item ``index``."""
        start = int(self.starts[index])
        return self.flat[start : start + int(self.lengths[index])]

    def padded(self, indexes: Sequence[int], width: int, dtype: torch.dtype) -> torch.Tensor:
        """(B, width, hidden) tensor of the items' states, zero-padded on the right."""
        hidden = self.flat.shape[1]
        out = torch.zeros((len(indexes), width, hidden), dtype=dtype)
        for row, index in enumerate(indexes):
            states = self.get(index)
            out[row, : len(states)] = torch.from_numpy(np.asarray(states, dtype=np.float32))
        return out


def states_key(base_sha256: str, frozen_layers: int, items: Sequence[ItemTokens]) -> str:
    """What the kept states depend on: the base weights, the layer split, and every item's token ids."""
    digest = hashlib.sha256(f"{base_sha256}|{frozen_layers}".encode())
    for item in items:
        digest.update(np.asarray(item.ids, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:24]


@torch.inference_mode()
def compute_lower_states(network: OnePassNetwork, items: Sequence[ItemTokens], pad_id: int, batch_size: int = 64,
                         device: str = "cpu", folder: Path | None = None, key: str | None = None,
                         progress: Callable[[int], None] | None = None) -> LowerStates:
    """Run the frozen layers over every item once (longest first, so padding is small).

    With ``folder`` and ``key``, the result is written there (``lower-<key>.npy`` + index) and read back
    instead of recomputed when a resumed run asks for the same thing.
    """
    hidden = int(network.stack.config.hidden_size)
    lengths = np.asarray([len(item.ids) for item in items], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(items) else lengths
    path = folder / f"lower-{key}.npy" if folder is not None and key else None
    if path is not None and path.exists() and (path.with_suffix(".done")).exists():
        flat = np.load(path, mmap_mode="r")
        return LowerStates(flat, starts, lengths)
    flat = np.zeros((int(lengths.sum()), hidden), dtype=np.float16)
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    dtype = network.dtype
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        batch = make_batch([items[i] for i in chunk], pad_id, dtype=dtype, device=device)
        states = network.lower(batch).float()
        if float(states.abs().max()) > _FP16_MAX:
            raise ValueError("lower-layer states exceed fp16's range; use fewer frozen layers")
        states = states.cpu().numpy().astype(np.float16)
        for row, i in enumerate(chunk):
            flat[starts[i] : starts[i] + lengths[i]] = states[row, : lengths[i]]
        if progress is not None:
            progress(len(chunk))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, flat)
        os.replace(tmp, path)
        path.with_suffix(".done").write_text(json.dumps({"items": len(items), "tokens": int(lengths.sum())}))
    return LowerStates(flat, starts, lengths)
