"""Fixtures for the one-pass readout: the tiny base (fast) and a small trained adapter on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from annotator.settings import get_settings
from models.base import BaseModel, resolve_base
from models.tasks.base import Example
from models.training.config import ModelConfig, OnePassConfig, ReadoutConfig, TrainConfig
from tests.support.tiny_base import make_tiny_base

TAXONOMIES = {"mood": ("joy", "anger", "sadness", "neutral"), "pair": ("joy", "fear")}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    """The tiny random Llama (2 layers) with SmolLM2's tokenizer."""
    torch.set_num_threads(1)
    cache = get_settings().cache_dir
    return resolve_base(str(make_tiny_base(cache / "test-bases" / "tiny-llama-v1", cache)), cache)


def examples() -> list[Example]:
    """A few dozen labeled texts with every kind of supervision, including one text seen twice."""
    out = []
    for i in range(12):
        out.append(Example(f"I am so happy today, number {i}!", frozenset({"joy"}), taxonomy="mood"))
        out.append(Example(f"This makes me furious, take {i}.", frozenset({"anger"}), taxonomy="mood"))
        out.append(Example(f"The bus {i} was late because of snow", intensities={"sadness": 0.2 + i / 30},
                           cause=(0, 9 + len(str(i)))))
        out.append(Example(f"Scared of the dark {i}", frozenset({"fear"}), taxonomy="pair"))
    out.append(Example("I am so happy today, number 0!", frozenset({"joy"}), taxonomy="pair"))
    out.append(Example("nothing here", frozenset(), cause=(0, 0), taxonomy="mood"))
    return out


def config(out: Path, **train: object) -> OnePassConfig:
    """A small, fast one-pass configuration on the tiny base (one frozen layer of two)."""
    return OnePassConfig(
        readout=ReadoutConfig(taxonomies=TAXONOMIES, frozen_layers=1, checkpoint_every=3, holdout_fraction=0.2,
                              min_intensity_examples=5),
        train=TrainConfig(**{"output_dir": out, "batch_size": 4, "max_steps": 8, "learning_rate": 1e-3,
                             "progress": False, "run_name": "tiny", **train}),
        model=ModelConfig(lora_r=4, lora_alpha=8),
    )


@pytest.fixture(scope="session")
def trained(tiny, tmp_path_factory):
    """A one-pass adapter trained for 8 steps on the tiny base: (the fitted network, its saved folder)."""
    from models.onepass.train import fit_onepass, save_onepass

    out = tmp_path_factory.mktemp("onepass")
    fitted = fit_onepass(config(out), examples(), base=tiny)
    return fitted, save_onepass(fitted, out, "tiny")
