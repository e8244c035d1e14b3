"""LoRA SFT on ~16 real examples: the loss falls, and a saved adapter reloads to identical outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.adapters import ADAPTER_META
from models.backends.transformers import TransformersBackend
from models.labeler import Labeler, predict
from models.tasks.base import Example
from models.training.config import DataConfig, ModelConfig, SFTConfig, TrainConfig
from models.training.data import write_examples
from models.training.sft import Encoded, fit, main, save_adapter, tree_loss

LABELS = ("joy", "anger", "fear")
ROWS = [
    ("I love this so much, thank you!", {"joy"}, 0.8, "thank you"),
    ("I hate waiting in line forever.", {"anger"}, 0.6, "waiting in line forever"),
    ("The meeting is at 3pm.", set(), 0.0, None),
    ("I'm terrified of spiders.", {"fear"}, 0.9, "spiders"),
    ("Best gift ever, my mom surprised me.", {"joy"}, 0.7, "my mom surprised me"),
    ("Stop lying to me, I'm so mad.", {"anger"}, 0.8, "lying to me"),
    ("The storm outside scares me.", {"fear"}, 0.6, "The storm outside"),
    ("It is a table.", set(), 0.0, None),
]


def _examples() -> list[Example]:
    out = []
    for text, emotions, intensity, cause in ROWS * 2:
        span = (text.index(cause), text.index(cause) + len(cause)) if cause else (0, 0)
        out.append(Example(text, frozenset(emotions), intensity, span))
    return out


def _config(tmp_path: Path, **train) -> SFTConfig:
    return SFTConfig(
        data=DataConfig(train_file=tmp_path / "train.jsonl", labels=LABELS, eval_fraction=0.25),
        train=TrainConfig(output_dir=tmp_path / "adapters", max_steps=6, batch_size=4, learning_rate=2e-3,
                          progress=False, **train),
        model=ModelConfig(lora_r=8, lora_alpha=16, lora_dropout=0.0),
    )


@pytest.fixture(scope="module")
def fitted(base, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sft")
    return fit(_config(tmp), _examples(), base), tmp


def _full_loss(fitted_) -> float:
    prompter = fitted_.prompter
    enc = [Encoded(prompter.item_ids(e.text), prompter.train_branches(e)) for e in _examples()[:8]]
    with torch.no_grad():
        fitted_.model.eval()
        return float(tree_loss(fitted_.model, prompter.prefix, enc, prompter.codec.pad_id, "cpu"))


def test_loss_goes_down(fitted) -> None:
    fitted_, _ = fitted
    losses = fitted_.meta["losses"]
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.5
    with fitted_.model.disable_adapter():
        before = _full_loss(fitted_)
    assert _full_loss(fitted_) < before * 0.5


def test_saved_adapter_reloads_to_identical_predictions(fitted, base) -> None:
    fitted_, tmp = fitted
    texts = [row[0] for row in ROWS[:4]]
    in_memory = predict(fitted_.prompter, TransformersBackend(fitted_.model, fitted_.prompter.codec.pad_id),
                        texts, batch_size=4, version="mem")
    adapter = save_adapter(fitted_.model, tmp / "adapters", "test", fitted_.meta)
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json", "adapter_model.safetensors", ADAPTER_META]
    reloaded = Labeler(base, adapter, LABELS).predict(texts, batch_size=4)
    for a, b in zip(in_memory, reloaded):
        assert b.adapter_version == adapter.name
        assert a.cause == b.cause
        assert a.intensity == pytest.approx(b.intensity, abs=1e-6)
        assert all(a.emotions[k] == pytest.approx(b.emotions[k], abs=1e-6) for k in LABELS)
    base_preds = Labeler(base, None, LABELS).predict(texts, batch_size=4)
    assert any(abs(a.emotions["joy"] - b.emotions["joy"]) > 0.05 for a, b in zip(base_preds, reloaded))


def test_metadata_records_provenance(fitted) -> None:
    meta = fitted[0].meta
    assert meta["base"]["model_id"] == "smollm2-135m-instruct" and len(meta["base"]["sha256"]) == 64
    assert meta["data"]["n_examples"] == 16 and meta["data"]["n_eval"] == 4 and len(meta["data"]["sha256"]) == 64
    assert meta["hyperparameters"]["model"]["lora_r"] == 8
    assert {"emotion_micro_f1", "intensity_mae", "cause_f1", "eval_loss"} <= set(meta["metrics"])
    json.dumps(meta)


def test_config_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TrainConfig(output_dir=tmp_path, batch_size=0)
    with pytest.raises(ValueError):
        DataConfig(train_file=tmp_path / "x", labels=("a", "a"))
    with pytest.raises(ValueError):
        ModelConfig(device="tpu")


def test_main_reads_jsonl_and_writes_a_version(base, tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cfg.train.max_steps = 1
    cfg.data.eval_fraction = 0.0
    write_examples(cfg.data.train_file, _examples()[:4])
    adapter = main(cfg)
    assert adapter.parent == cfg.train.output_dir
    assert json.loads((adapter / ADAPTER_META).read_text())["version"] == adapter.name


def test_fp16_weights_halve_the_file_and_reload_to_the_measured_outputs(base, tmp_path: Path) -> None:
    cfg = _config(tmp_path, half_precision_weights=True, background_per_example=1)
    cfg.train.max_steps = 2
    fitted_ = fit(cfg, _examples(), base)
    texts = [row[0] for row in ROWS[:4]]
    in_memory = predict(fitted_.prompter, TransformersBackend(fitted_.model, fitted_.prompter.codec.pad_id),
                        texts, batch_size=4, version="mem")
    adapter = save_adapter(fitted_.model, tmp_path / "adapters", "half", fitted_.meta, half=True)
    from safetensors import safe_open

    with safe_open(adapter / "adapter_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    reloaded = Labeler(base, adapter, LABELS).predict(texts, batch_size=4)
    for a, b in zip(in_memory, reloaded):
        assert a.cause == b.cause
        assert all(a.emotions[k] == pytest.approx(b.emotions[k], abs=1e-6) for k in LABELS)
