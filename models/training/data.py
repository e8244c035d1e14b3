"""Labeled examples on disk (JSONL) and their fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

from models.tasks.base import Example


def example_from_dict(row: dict) -> Example:
    """An Example from one JSON object (see ``DataConfig.train_file`` for the fields)."""
    emotions = row.get("emotions")
    cause = row.get("cause")
    intensity = row.get("intensity")
    text = row["text"]
    if cause is not None:
        start, end = int(cause[0]), int(cause[1])
        if not 0 <= start <= end <= len(text):
            raise ValueError(f"cause {cause} is outside the text ({len(text)} chars)")
        cause = (start, end)
    intensities = row.get("intensities")
    if intensities is None and intensity is not None and row.get("intensity_emotion"):
        intensities = {row["intensity_emotion"]: intensity}
    return Example(
        text=text,
        emotions=frozenset(emotions) if emotions is not None else None,
        intensity=float(intensity) if intensity is not None else None,
        cause=cause,
        intensities={str(k): float(v) for k, v in intensities.items()} if intensities else None,
        taxonomy=row.get("taxonomy"),
        conversation=str(row["conversation"]) if row.get("conversation") is not None else None,
        turn=_turn(row) if row.get("conversation") is not None else None,
        speaker=str(row["speaker"]) if row.get("speaker") else None,
    )


def _turn(row: dict) -> int:
    try:
        return int(row["turn"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"a turn of conversation {row['conversation']!r} needs an integer 'turn'") from None


def example_to_dict(example: Example) -> dict:
    """The JSON object for an Example (labels sorted, so equal examples serialise equally); a turn of a
    conversation adds ``conversation``, ``turn`` and ``speaker``."""
    out = {
        "text": example.text,
        "emotions": sorted(example.emotions) if example.emotions is not None else None,
        "intensity": example.intensity,
        "cause": list(example.cause) if example.cause is not None else None,
        "intensities": dict(sorted(example.intensities.items())) if example.intensities else None,
        "taxonomy": example.taxonomy,
    }
    if example.conversation is not None:
        out.update(conversation=example.conversation, turn=example.turn, speaker=example.speaker)
    return out


def read_examples(path: Path) -> list[Example]:
    """All examples of a JSONL file (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [example_from_dict(json.loads(line)) for line in handle if line.strip()]


def write_examples(path: Path, examples: Iterable[Example]) -> Path:
    """Write examples as JSONL; returns ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example_to_dict(example), ensure_ascii=False) + "\n")
    return path


def examples_sha256(examples: Sequence[Example]) -> str:
    """Order-sensitive hash of the examples' canonical JSON."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example_to_dict(example), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()
