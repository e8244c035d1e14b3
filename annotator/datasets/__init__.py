"""Readers for public human-annotated emotion datasets, all yielding :class:`DatasetRow` records.

    for example in read_dataset("../shared/data/goemotions", "goemotions", splits="dev"):
        ...

Every reader takes a file or, where natural, a folder: a folder reads every split file present in
train, dev, test order, and ``splits="dev"`` (or ``["train", "dev"]``) restricts it (``valid`` and
``validation`` count as ``dev``). Datasets without splits (GNE, Emotion-Stimulus, Snow 2008) give split
``all``. Format options (see each module): ``goemotions`` ``labels=``; ``semeval-*`` ``unescape_newlines=``;
``semeval-ei-reg`` and ``snow2008`` ``dimensions=``; ``emotionlines`` ``fix_cp1252=``.

Taxonomies: GoEmotions, SemEval E-c/EI-reg and Snow 2008 use the built-in ``goemotions``, ``semeval_ec``
and ``ekman``; RECCON and EmotionLines use ``ekman_neutral`` (Ekman + ``neutral``); GNE and Emotion-Stimulus
have their own (``gne``, ``emotion_stimulus``). :func:`dataset_taxonomy` resolves any of these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from annotator.datasets import emotion_stimulus, emotionlines, gne, goemotions, reccon, semeval, snow2008
from annotator.datasets._io import infer_split
from annotator.datasets.labels import EKMAN_NEUTRAL, EKMAN_NEUTRAL_TAXONOMY
from annotator.datasets.types import CauseSpan, DatasetFormatError, DatasetRow
from annotator.taxonomy import Taxonomy, TaxonomyError, get_taxonomy

__all__ = [
    "CONVERSATION_FORMATS",
    "FORMATS",
    "CauseSpan",
    "DatasetFormatError",
    "DatasetRow",
    "available_formats",
    "dataset_taxonomy",
    "detect_format",
    "read_dataset",
]

FORMATS: dict[str, Callable[..., Iterator[DatasetRow]]] = {
    "goemotions": goemotions.read,
    "semeval-ec": semeval.read_ec,
    "semeval-ei-reg": semeval.read_ei_reg,
    "reccon": reccon.read,
    "gne": gne.read,
    "emotion-stimulus": emotion_stimulus.read,
    "emotionlines": emotionlines.read,
    "snow2008": snow2008.read,
}

# Dialogue datasets: each row's metadata names its "conversation", "turn" and "speaker" (ingest stores turns).
CONVERSATION_FORMATS = ("reccon", "emotionlines")

_DATASET_TAXONOMIES: dict[str, tuple[str, ...]] = {
    EKMAN_NEUTRAL_TAXONOMY: EKMAN_NEUTRAL,
    gne.TAXONOMY: gne.LABELS,
    emotion_stimulus.TAXONOMY: emotion_stimulus.LABELS,
}


def available_formats() -> tuple[str, ...]:
    """The names :func:`read_dataset` accepts, in registry order."""
    return tuple(FORMATS)


def read_dataset(path: Path | str, fmt: str | None = None, **options: object) -> Iterator[DatasetRow]:
    """Stream the examples of a dataset file or folder in format ``fmt`` (detected from names if ``None``).

    ``options`` go to the format's reader (e.g. ``splits="dev"``). Raises ``ValueError`` for an unknown or
    undetectable format and :class:`DatasetFormatError` (a ``ValueError``) for a malformed file.
    """
    path = Path(path)
    if fmt is None:
        fmt = detect_format(path)
        if fmt is None:
            raise ValueError(
                f"cannot tell the dataset format of {path} from its name; pass one of: {', '.join(FORMATS)}"
            )
    key = fmt.strip().lower().replace("_", "-")
    if key not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return FORMATS[key](path, **options)


def detect_format(path: Path | str) -> str | None:
    """Guess a format from file names only (contents are not read); ``None`` if unknown or ambiguous.

    A folder is recognised when its data files all point to one format (the SemEval folder holds both E-c
    and EI-reg files, so it is ambiguous: name the format).
    """
    path = Path(path)
    if path.is_dir():
        if (path / snow2008.HEADLINES).is_file() and any(path.glob(f"*{snow2008.SUFFIX}")):
            return "snow2008"
        found = {_detect_file(child) for child in path.iterdir() if child.is_file()} - {None}
        return found.pop() if len(found) == 1 else None
    return _detect_file(path)


def _detect_file(path: Path) -> str | None:
    name = path.name.lower()
    if semeval.is_ec_file(path):
        return "semeval-ec"
    if semeval.is_ei_reg_file(path):
        return "semeval-ei-reg"
    if name.endswith(snow2008.SUFFIX) or (name == snow2008.HEADLINES and any(path.parent.glob(f"*{snow2008.SUFFIX}"))):
        return "snow2008"
    if name.startswith("gne") and name.endswith(".tsv"):
        return "gne"
    if name.endswith(".txt") and "cause" in name:
        return "emotion-stimulus"
    if name.endswith(".json") and name.startswith(("dailydialog", "iemocap")):
        return "reccon"
    if name.endswith(".json") and name.startswith(("friends", "emotionpush")):
        return "emotionlines"
    if (
        name.endswith(".tsv")
        and infer_split(path) != "unknown"
        and any((path.parent / labels).is_file() for labels in goemotions.LABEL_FILES)
    ):
        return "goemotions"
    return None


@lru_cache(maxsize=None)
def dataset_taxonomy(name: str) -> Taxonomy:
    """The label set an :attr:`DatasetRow.taxonomy` names: a built-in one or a dataset's own."""
    if name in _DATASET_TAXONOMIES:
        return Taxonomy(name, _DATASET_TAXONOMIES[name])
    try:
        return get_taxonomy(name)
    except TaxonomyError:
        raise TaxonomyError(
            f"unknown taxonomy {name!r}; dataset taxonomies: {', '.join(_DATASET_TAXONOMIES)} "
            "plus the built-in ones in annotator.taxonomy"
        ) from None
