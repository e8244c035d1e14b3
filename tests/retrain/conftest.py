"""Fixtures for the retraining tests: the real 135M base, converted once into the persistent cache."""

from __future__ import annotations

import pytest
import torch

from models.base import DEFAULT_CACHE_DIR, BaseModel, resolve_base

# One thread: on the busy 2-core CI box two OpenMP threads spin-wait and run slower (tests/models/conftest.py).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def base() -> BaseModel:
    """The packaged SmolLM2-135M-Instruct as an fp32 safetensors folder."""
    return resolve_base(None, DEFAULT_CACHE_DIR)


@pytest.fixture(scope="session")
def tiny_base():
    """A tiny random Llama with SmolLM2's tokenizer, kept in the cache between runs (fast end-to-end runs)."""
    from annotator.settings import get_settings
    from tests.support.tiny_base import make_tiny_base

    cache = get_settings().cache_dir
    return make_tiny_base(cache / "test-bases" / "tiny-llama-v1", cache)
