"""SemEval-2018 Task 1 "Affect in Tweets", English: E-c and EI-reg files.

* E-c (``E-c-En-<split>.txt``): header ``ID, Tweet`` then 11 binary emotion columns. ``emotions`` lists the
  columns set to 1, in header order; an all-zero row gives ``()`` (the task's "neutral or no emotion"; the
  ``semeval_ec`` taxonomy has no ``neutral``). A test file without gold (``NONE`` cells) gives ``None``.
* EI-reg (``EI-reg-En-<emotion>-<split>.txt``): header ``ID, Tweet, Affect Dimension, Intensity Score``; one
  emotion's intensity in 0..1. ``emotions`` is ``None``, the emotion is in ``meta["intensity_emotion"]``.
  Tweet ids recur across the four emotion files, so the example id is ``<tweet id>:<emotion>``
  (``meta["tweet_id"]`` keeps the bare id).

Files are plain tab-separated (no CSV quoting). Tweets contain literal ``\\n`` sequences and HTML entities
(``&amp;``); they are kept verbatim unless ``unescape_newlines=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from annotator.datasets._io import as_names, chain_files, check_columns, expand, infer_split, iter_tsv
from annotator.datasets.types import DatasetFormatError, DatasetRow
from annotator.taxonomy import get_taxonomy

EC_TAXONOMY = "semeval_ec"
EC_LABELS: tuple[str, ...] = get_taxonomy(EC_TAXONOMY).labels
EI_REG_EMOTIONS: tuple[str, ...] = ("anger", "fear", "joy", "sadness")
EI_REG_HEADER = ("id", "tweet", "affect dimension", "intensity score")

_EC_FILE = re.compile(r"^(?:\d{4}-)?E-c-En-.+\.txt$", re.IGNORECASE)
_EI_REG_FILE = re.compile(r"^(?:\d{4}-)?EI-reg-En-(?P<emotion>[a-z]+)-.+\.txt$", re.IGNORECASE)


def is_ec_file(path: Path) -> bool:
    """Whether a file name looks like an E-c file (``E-c-En-train.txt``, ``2018-E-c-En-dev.txt``)."""
    return bool(_EC_FILE.match(path.name))


def is_ei_reg_file(path: Path) -> bool:
    """Whether a file name looks like an EI-reg file (``EI-reg-En-joy-train.txt``)."""
    return bool(_EI_REG_FILE.match(path.name))


def _text(tweet: str, unescape_newlines: bool) -> str:
    return tweet.replace("\\n", "\n") if unescape_newlines else tweet


def read_ec(
    path: Path,
    *,
    splits: str | Sequence[str] | None = None,
    unescape_newlines: bool = False,
) -> Iterator[DatasetRow]:
    """Stream E-c examples from one file or from a folder's ``E-c-En-*.txt`` files (``splits`` picks them)."""
    files = expand(Path(path), is_ec_file, splits, "SemEval E-c")
    return chain_files(files, lambda file: _read_ec_file(file, unescape_newlines))


def _read_ec_file(path: Path, unescape_newlines: bool) -> Iterator[DatasetRow]:
    rows = iter_tsv(path, quoted=False)
    header_line, header = next(rows, (1, []))
    columns = [name.strip().lower() for name in header]
    if columns[:2] != ["id", "tweet"] or len(columns) < 3:
        raise DatasetFormatError(
            path, header_line, f"expected a header 'ID<TAB>Tweet<TAB><emotions...>', got {header!r}"
        )
    emotion_columns = columns[2:]
    unknown = [name for name in emotion_columns if name not in EC_LABELS]
    if unknown:
        raise DatasetFormatError(
            path, header_line, f"unknown emotion column(s) {unknown}; E-c has {', '.join(EC_LABELS)}"
        )
    split = infer_split(path)
    for line, row in rows:
        check_columns(path, line, row, len(columns))
        tweet_id, tweet, *cells = row
        cells = [cell.strip() for cell in cells]
        if all(cell.upper() == "NONE" for cell in cells):
            emotions = None
        elif all(cell in ("0", "1") for cell in cells):
            emotions = tuple(name for name, cell in zip(emotion_columns, cells) if cell == "1")
        else:
            raise DatasetFormatError(path, line, f"emotion cells must be 0 or 1, got {cells}")
        yield DatasetRow(
            id=tweet_id.strip(),
            text=_text(tweet, unescape_newlines),
            emotions=emotions,
            intensity=None,
            cause=None,
            taxonomy=EC_TAXONOMY,
            split=split,
            meta={"source_line": line},
        )


def read_ei_reg(
    path: Path,
    *,
    splits: str | Sequence[str] | None = None,
    dimensions: str | Sequence[str] | None = None,
    unescape_newlines: bool = False,
) -> Iterator[DatasetRow]:
    """Stream EI-reg examples from one file or a folder's ``EI-reg-En-*.txt`` files.

    In a folder, ``splits`` and ``dimensions`` (``"anger,joy"`` or a list) pick the files to read;
    files are read emotion by emotion, train before dev.
    """
    wanted = as_names(dimensions)
    if wanted is not None:
        unknown = [name for name in wanted if name not in EI_REG_EMOTIONS]
        if unknown:
            raise ValueError(f"unknown EI-reg dimension(s) {unknown}; valid: {', '.join(EI_REG_EMOTIONS)}")

    def matches(file: Path) -> bool:
        found = _EI_REG_FILE.match(file.name)
        return found is not None and (wanted is None or found["emotion"].lower() in wanted)

    files = expand(Path(path), matches, splits, "SemEval EI-reg")
    files.sort(key=_file_emotion)  # stable: keeps train before dev within an emotion
    return chain_files(files, lambda file: _read_ei_reg_file(file, unescape_newlines))


def _file_emotion(file: Path) -> str:
    found = _EI_REG_FILE.match(file.name)
    return found["emotion"].lower() if found else ""


def _read_ei_reg_file(path: Path, unescape_newlines: bool) -> Iterator[DatasetRow]:
    rows = iter_tsv(path, quoted=False)
    header_line, header = next(rows, (1, []))
    if tuple(name.strip().lower() for name in header) != EI_REG_HEADER:
        raise DatasetFormatError(
            path, header_line, f"expected the header 'ID, Tweet, Affect Dimension, Intensity Score', got {header!r}"
        )
    split = infer_split(path)
    for line, row in rows:
        check_columns(path, line, row, 4)
        tweet_id, tweet, dimension, score = row
        tweet_id, emotion, score = tweet_id.strip(), dimension.strip().lower(), score.strip()
        if emotion not in EI_REG_EMOTIONS:
            raise DatasetFormatError(
                path, line, f"affect dimension {dimension!r} is not one of {', '.join(EI_REG_EMOTIONS)}"
            )
        intensity = _intensity(path, line, score)
        yield DatasetRow(
            id=f"{tweet_id}:{emotion}",
            text=_text(tweet, unescape_newlines),
            emotions=None,
            intensity=intensity,
            cause=None,
            taxonomy=EC_TAXONOMY,
            split=split,
            meta={"intensity_emotion": emotion, "tweet_id": tweet_id, "source_line": line},
        )


def _intensity(path: Path, line: int, score: str) -> float | None:
    if score.upper() == "NONE":
        return None
    try:
        value = float(score)
    except ValueError:
        raise DatasetFormatError(path, line, f"intensity score must be a number, got {score!r}") from None
    if not 0.0 <= value <= 1.0:
        raise DatasetFormatError(path, line, f"intensity score {value} is outside 0..1")
    return value
