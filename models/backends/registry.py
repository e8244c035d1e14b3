"""Backends by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.backends.base import Backend


def make_backend(name: str, base_path: Path, adapter_path: Path | None, pad_id: int, device: str,
                 **options: Any) -> Backend:
    """Load the named backend for a base folder and an optional LoRA adapter folder; ``options`` go to
    its loader (the transformers backend takes none)."""
    if name == "transformers":
        from models.backends.transformers import TransformersBackend

        if options:
            raise TypeError(f"the transformers backend takes no options, got {sorted(options)}")
        return TransformersBackend.load(base_path, adapter_path, pad_id=pad_id, device=device)
    if name == "vllm":  # imports vllm only here: our package never needs it otherwise
        from models.backends.vllm import VllmBackend

        return VllmBackend.load(base_path, adapter_path, pad_id=pad_id, device=device, **options)
    raise NotImplementedError(f"unknown backend {name!r}; known: transformers, vllm")
