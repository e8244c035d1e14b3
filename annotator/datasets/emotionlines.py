"""EmotionLines (Hsu et al., 2018), Friends/EmotionPush JSON (``friends_{train,dev,test}.json``).

A file is a list of dialogues; a dialogue a list of ``{speaker, utterance, emotion, annotation}``.
``annotation`` is a 7-digit string of vote counts (5 raters in Friends) in the order :data:`VOTE_ORDER`;
``emotion`` is the majority label or ``non-neutral`` when no label has a majority.

One :class:`DatasetRow` per utterance, id ``<file stem>_<dialogue>_<utterance>`` (0-based). ``emotions`` is
``(majority,)`` in the ``ekman_neutral`` taxonomy, or ``None`` for ``non-neutral``; ``meta["votes"]`` maps every
label to its count.

Text repair (``fix_cp1252=True``, the default): the texts were Windows-1252 bytes decoded as Latin-1, so
they contain C1 control characters (U+0080..U+009F) such as ``\\u0092``. Each such character is replaced by
the character its byte means in Windows-1252 (``\\x92`` -> ``’``, ``\\x91`` -> ``‘``, ``\\x93``/``\\x94`` ->
``“``/``”``, ``\\x85`` -> ``…``, ``\\x96``/``\\x97`` -> ``–``/``—``); the five bytes Windows-1252 leaves
undefined are kept. The mapping is one-to-one, so it is deterministic and reversible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from annotator.datasets._io import chain_files, expand, infer_split, load_json
from annotator.datasets.labels import EKMAN_NEUTRAL, EKMAN_NEUTRAL_TAXONOMY, normalise_ekman
from annotator.datasets.types import LABEL_ERROR, DatasetFormatError, DatasetRow

TAXONOMY = EKMAN_NEUTRAL_TAXONOMY
LABELS = EKMAN_NEUTRAL
VOTE_ORDER: tuple[str, ...] = ("neutral", "joy", "sadness", "fear", "anger", "surprise", "disgust")
NO_MAJORITY = "non-neutral"


def _cp1252_table() -> dict[int, str]:
    table = {}
    for code in range(0x80, 0xA0):
        try:
            table[code] = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            pass  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in Windows-1252, left as they are
    return table


CP1252_FIXES: dict[int, str] = _cp1252_table()


def fix_cp1252(text: str) -> str:
    """Replace C1 control characters left by a Windows-1252/Latin-1 mix-up with the intended characters."""
    return text.translate(CP1252_FIXES)


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".json" and infer_split(path) != "unknown"


def read(path: Path, *, splits: str | Sequence[str] | None = None, fix_cp1252: bool = True) -> Iterator[DatasetRow]:
    """Stream utterance examples from an EmotionLines JSON file or a folder of ``<name>_<split>.json``."""
    files = expand(Path(path), _is_data_file, splits, "EmotionLines .json")
    return chain_files(files, lambda file: _read_file(file, fix_cp1252))


def _read_file(path: Path, repair: bool) -> Iterator[DatasetRow]:
    dialogues = load_json(path, list, "a JSON list of dialogues")
    split = infer_split(path)
    clean = fix_cp1252 if repair else (lambda text: text)
    for d, dialogue in enumerate(dialogues):
        if not isinstance(dialogue, list):
            raise DatasetFormatError(path, None, f"dialogue {d}: expected a list of utterances")
        for u, utt in enumerate(dialogue):
            where = f"dialogue {d}, utterance {u}"
            if not isinstance(utt, dict) or not {"utterance", "emotion", "annotation"} <= utt.keys():
                raise DatasetFormatError(path, None, f"{where}: expected {{speaker, utterance, emotion, annotation}}")
            votes = _votes(path, where, str(utt["annotation"]))
            emotions, label_error = _majority(where, str(utt["emotion"]), votes)
            meta: dict[str, Any] = {
                "conversation": f"{path.stem}_{d}",  # the dialogue-dataset keys ingest stores as a turn
                "turn": u,
                "dialogue": d,
                "utterance_index": u,
                "speaker": clean(utt.get("speaker", "")),
                "votes": votes,
                "raw_emotion": utt["emotion"],
            }
            if label_error:
                meta[LABEL_ERROR] = label_error
            yield DatasetRow(
                id=f"{path.stem}_{d}_{u}",
                text=clean(utt["utterance"]),
                emotions=emotions,
                intensity=None,
                cause=None,
                taxonomy=TAXONOMY,
                split=split,
                meta=meta,
            )


def _votes(path: Path, where: str, annotation: str) -> dict[str, int]:
    if len(annotation) != len(VOTE_ORDER) or not annotation.isdigit():
        raise DatasetFormatError(
            path, None, f"{where}: annotation must be {len(VOTE_ORDER)} digits, got {annotation!r}"
        )
    return {label: int(digit) for label, digit in zip(VOTE_ORDER, annotation)}


def _majority(where: str, label: str, votes: dict[str, int]) -> tuple[tuple[str, ...] | None, str | None]:
    """The gold label and, where it cannot be used, why (the utterance is kept without a label)."""
    if label.strip().lower() == NO_MAJORITY:
        return None, None
    emotion = normalise_ekman(label)
    if emotion is None:
        return None, f"{where}: unknown emotion {label!r}"
    if votes[emotion] != max(votes.values()):
        return None, f"{where}: emotion {label!r} is not the most voted label in {votes}"
    return (emotion,), None
