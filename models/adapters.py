"""An adapter folder's identity, read without loading a model (no torch): version, readout, what it serves.

Training writes ``emo_adapter.json`` next to the peft files. ``"readout": "onepass.v1"`` marks a one-pass
adapter (heads on one forward pass); anything else is read with the instruction readout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

ADAPTER_META = "emo_adapter.json"  # written by training next to the peft files
BASE_VERSION = "base"  # the version of the bare base model (no adapter)
ONEPASS = "onepass.v1"
INSTRUCTION = "instruction"


def read_meta(adapter_path: Path) -> dict[str, Any]:
    """An adapter folder's metadata ({} when it has none)."""
    path = Path(adapter_path) / ADAPTER_META
    return json.loads(path.read_text()) if path.is_file() else {}


def adapter_version(adapter_path: Path | None) -> str:
    """The version recorded in an adapter's metadata (its folder name if there is none); "base" for none."""
    if adapter_path is None:
        return BASE_VERSION
    return str(read_meta(Path(adapter_path)).get("version") or Path(adapter_path).name)


def readout(adapter_path: Path | None) -> str:
    """The readout an adapter folder was trained for (the bare base: the instruction readout)."""
    if adapter_path is None:
        return INSTRUCTION
    return str(read_meta(Path(adapter_path)).get("readout") or INSTRUCTION)


def is_onepass(adapter_path: Path | None) -> bool:
    """Whether the adapter folder holds a one-pass readout."""
    return readout(adapter_path) == ONEPASS


def head_taxonomies(adapter_path: Path) -> dict[str, list[str]]:
    """A one-pass adapter's heads: taxonomy name -> labels ({} for any other adapter)."""
    return dict(read_meta(Path(adapter_path)).get("onepass", {}).get("spec", {}).get("taxonomies", {}))


def serves(adapter_path: Path | None, labels: Sequence[str]) -> bool:
    """Whether an adapter can label a taxonomy: a one-pass adapter needs a head with exactly these labels;
    an instruction adapter (or the bare base) reads any label list."""
    if not is_onepass(adapter_path):
        return True
    assert adapter_path is not None
    return any(set(own) == set(labels) for own in head_taxonomies(adapter_path).values())
