"""RECCON (Poria et al., 2021), original-annotation JSON (``dailydialog_{train,valid,test}.json``).

The file is ``{dialogue_id: [[utterance, ...]]}``; each utterance has ``turn`` (1-based), ``speaker``,
``utterance``, ``emotion`` and, when not neutral, ``expanded emotion cause evidence`` (turn numbers, or
``"b"`` for a latent cause) aligned with ``expanded emotion cause span`` (strings).

One :class:`DatasetRow` per utterance, id ``<dialogue id>_<turn>``. Labels are normalised with
:data:`annotator.datasets.labels.EKMAN_ALIASES` (``happiness``/``happy``/``excited`` -> ``joy``, ``sad`` ->
``sadness``, ``surprised`` -> ``surprise``, ``angry`` -> ``anger``) into the ``ekman_neutral`` taxonomy.
``cause`` is the first span whose evidence turn is the utterance itself (offsets by ``str.find``, i.e. the
first occurrence). Every span, including those in other turns and latent ones, is kept in
``meta["cause_spans"]`` as ``{"turn", "text", "start", "end", "latent"}`` where the offsets index the
evidence turn's utterance (``None`` for latent spans or a span not found there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from annotator.datasets._io import chain_files, expand, infer_split, load_json
from annotator.datasets.labels import EKMAN_NEUTRAL, EKMAN_NEUTRAL_TAXONOMY, normalise_ekman
from annotator.datasets.types import LABEL_ERROR, CauseSpan, DatasetFormatError, DatasetRow

TAXONOMY = EKMAN_NEUTRAL_TAXONOMY
LABELS = EKMAN_NEUTRAL
EVIDENCE = "expanded emotion cause evidence"
SPANS = "expanded emotion cause span"
LATENT = "b"


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".json" and infer_split(path) != "unknown"


def read(path: Path, *, splits: str | Sequence[str] | None = None) -> Iterator[DatasetRow]:
    """Stream utterance examples from a RECCON JSON file or a folder of ``<corpus>_<split>.json`` files."""
    return chain_files(expand(Path(path), _is_data_file, splits, "RECCON .json"), _read_file)


def _load(path: Path) -> dict[str, Any]:
    return load_json(path, dict, "a JSON object {dialogue_id: [[utterance, ...]]}")


def _read_file(path: Path) -> Iterator[DatasetRow]:
    split = infer_split(path)
    corpus = path.stem.rsplit("_", 1)[0]
    for dialogue_id, nested in _load(path).items():
        # The release wraps each dialogue in an extra list; it always holds one dialogue.
        if not isinstance(nested, list) or not all(isinstance(d, list) for d in nested):
            raise DatasetFormatError(path, None, f"dialogue {dialogue_id!r}: expected [[utterance, ...]]")
        for index, dialogue in enumerate(nested):
            key = dialogue_id if len(nested) == 1 else f"{dialogue_id}.{index}"
            for position, utterance in enumerate(dialogue, start=1):
                yield _example(path, key, dialogue, position, utterance, split, corpus)


def _example(path: Path, key: str, dialogue: list[dict], position: int, utt: dict, split: str, corpus: str) -> DatasetRow:
    where = f"dialogue {key!r}, utterance {position}"
    try:
        turn, text, raw_emotion = utt["turn"], utt["utterance"], utt["emotion"]
    except (KeyError, TypeError) as exc:
        raise DatasetFormatError(path, None, f"{where}: missing field {exc}") from None
    emotion = normalise_ekman(str(raw_emotion))
    spans = _cause_spans(path, where, dialogue, utt)
    own = next((s for s in spans if s["turn"] == turn and s["start"] is not None), None)
    meta: dict[str, Any] = {
        "conversation": key,  # the dialogue-dataset keys ingest stores as a turn (with "turn", "speaker")
        "corpus": corpus,
        "dialogue_id": key,
        "turn": turn,
        "speaker": utt.get("speaker"),
        "raw_emotion": raw_emotion,
        "cause_spans": spans,
    }
    if emotion is None:  # e.g. the real test file's "happines": keep the utterance, drop the label, say why
        meta[LABEL_ERROR] = f"{where}: unknown emotion {raw_emotion!r}"
    for field in ("type", "explanation", "flag"):
        if field in utt:
            meta["cause_type" if field == "type" else field] = utt[field]
    return DatasetRow(
        id=f"{key}_{turn}",
        text=text,
        emotions=(emotion,) if emotion is not None else None,
        intensity=None,
        cause=CauseSpan(own["start"], own["end"], own["text"]) if own else None,
        taxonomy=TAXONOMY,
        split=split,
        meta=meta,
    )


def _cause_spans(path: Path, where: str, dialogue: list[dict], utt: dict) -> list[dict[str, Any]]:
    evidence, spans = utt.get(EVIDENCE, []), utt.get(SPANS, [])
    if not isinstance(evidence, list) or not isinstance(spans, list) or len(evidence) != len(spans):
        raise DatasetFormatError(path, None, f"{where}: cause evidence and spans must be lists of equal length")
    by_turn = {u.get("turn"): u.get("utterance", "") for u in dialogue if isinstance(u, dict)}
    found: list[dict[str, Any]] = []
    for turn, span in zip(evidence, spans):
        if turn == LATENT or span == LATENT:
            found.append({"turn": None, "text": None, "start": None, "end": None, "latent": True})
            continue
        start = by_turn[turn].find(span) if turn in by_turn and span else -1
        found.append(
            {
                "turn": turn,
                "text": span,
                "start": start if start >= 0 else None,
                "end": start + len(span) if start >= 0 else None,
                "latent": False,
            }
        )
    return found
