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
    conversation = str(row["conversation"]) if row.get("conversation") is not None else None
    turn = _turn(row) if conversation is not None else None
    cause_turn = _cause_turn(row, turn) if cause is not None and row.get("cause_turn") is not None else None
    if cause is not None:
        start, end = int(cause[0]), int(cause[1])
        if not 0 <= start <= end or (cause_turn is None and end > len(text)):
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
        conversation=conversation,
        turn=turn,
        speaker=str(row["speaker"]) if row.get("speaker") else None,
        cause_turn=cause_turn,
    )


def _turn(row: dict) -> int:
    try:
        return int(row["turn"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"a turn of conversation {row['conversation']!r} needs an integer 'turn'") from None


def _cause_turn(row: dict, turn: int | None) -> int:
    try:
        cause_turn = int(row["cause_turn"])
    except (TypeError, ValueError):
        raise ValueError(f"cause_turn {row['cause_turn']!r} is not a turn number") from None
    if turn is None or cause_turn > turn:
        raise ValueError(f"cause_turn {cause_turn} is not a turn of the example's conversation up to it")
    return cause_turn


def example_to_dict(example: Example) -> dict:
    """The JSON object for an Example (labels sorted, so equal examples serialise equally); a turn of a
    conversation adds ``conversation``, ``turn`` and ``speaker`` (and ``cause_turn`` for a cause in an earlier
    turn)."""
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
        if example.cause_turn is not None:
            out["cause_turn"] = example.cause_turn
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
