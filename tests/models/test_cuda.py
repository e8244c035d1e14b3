"""CUDA smoke test (bf16): skipped where no GPU is visible."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.labeler import Labeler
from models.tasks.base import Example
from models.training.config import DataConfig, ModelConfig, SFTConfig, TrainConfig
from models.training.sft import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_train_and_predict_on_cuda(base, tmp_path: Path) -> None:
    text = "I love this, thank you!"
    examples = [Example(text, frozenset({"joy"}), 0.8, (text.index("thank"), len(text) - 1))] * 4
    cfg = SFTConfig(
        data=DataConfig(train_file=tmp_path / "x.jsonl", labels=("joy", "anger"), eval_fraction=0.25),
        train=TrainConfig(output_dir=tmp_path, max_steps=2, batch_size=2, progress=False),
        model=ModelConfig(device="cuda"),
    )
    adapter = train(cfg, examples, base)
    (prediction,) = Labeler(base, adapter, ["joy", "anger"], device="cuda").predict([text])
    assert 0.0 <= prediction.emotions["joy"] <= 1.0 and 0.0 <= prediction.intensity <= 1.0
    assert prediction.cause is None or text[prediction.cause[0] : prediction.cause[1]] == prediction.cause[2]
