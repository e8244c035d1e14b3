"""Emotion-Stimulus (Ghazi, Inkpen & Szpakowicz, 2015): one sentence a line with inline tags.

``<happy>These days he is quite happy <cause>travelling by trolley<\\cause> . <\\happy>`` -- closing tags use
a backslash (a forward slash is accepted too). The tags are removed, the sentence is stripped of surrounding
whitespace, and the cause offsets refer to that plain text. Lines without ``<cause>`` (the dataset's
"No Cause" file) give ``cause=None``.

Labels: ``happy`` -> ``joy``, ``sad`` -> ``sadness``; ``anger``, ``fear``, ``surprise``, ``disgust`` unchanged;
``shame`` has no Ekman equivalent and is kept, so the taxonomy is this dataset's own ``emotion_stimulus``
(:data:`LABELS`: Ekman's six plus ``shame``).

Malformed cause tags seen in the release: one line opens ``<cause>`` twice before one ``<\\cause>``; the
innermost (last) opening tag is used and the stray one dropped, noted in ``meta["warnings"]``. Tags may split a
word (``a<cause>t how``); offsets follow the tags as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from annotator.datasets._io import chain_files, expand, read_lines
from annotator.datasets.types import LABEL_ERROR, CauseSpan, DatasetFormatError, DatasetRow

TAXONOMY = "emotion_stimulus"
LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "shame")
TAG_LABELS: dict[str, str] = {
    "happy": "joy",
    "sad": "sadness",
    "anger": "anger",
    "fear": "fear",
    "surprise": "surprise",
    "disgust": "disgust",
    "shame": "shame",
}
_SENTENCE = re.compile(r"^<(?P<tag>[a-z]+)>(?P<body>.*)<[\\/](?P=tag)>$", re.IGNORECASE | re.DOTALL)
_CAUSE_TAG = re.compile(r"<(?P<close>[\\/]?)cause>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[\\/]?[a-z]+>", re.IGNORECASE)


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".txt" and "cause" in path.name.lower()


def read(path: Path) -> Iterator[DatasetRow]:
    """Stream sentences from an Emotion-Stimulus file (or a folder of ``*cause*.txt`` files); split ``all``."""
    return chain_files(expand(Path(path), _is_data_file, None, "Emotion-Stimulus *cause*.txt"), _read_file)


def _read_file(path: Path) -> Iterator[DatasetRow]:
    for line, raw in read_lines(path):
        if raw.strip():
            yield parse_line(raw, path=path, line=line)


def parse_line(raw: str, *, path: Path | str = "<string>", line: int | None = None) -> DatasetRow:
    """Parse one tagged sentence into an :class:`DatasetRow` (``path``/``line`` name it in errors and the id)."""
    sentence = _SENTENCE.match(raw.strip())
    if not sentence:
        raise DatasetFormatError(path, line, "expected <emotion>sentence<\\emotion> with matching tags")
    tag = sentence["tag"].lower()
    text, spans, warnings = _strip_tags(sentence["body"], path, line)
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    causes = [_trim(text, start - lead, end - lead) for start, end in spans]
    meta: dict[str, Any] = {"tag": tag, "source_line": line, "cause_spans": [asdict(c) for c in causes]}
    if warnings:
        meta["warnings"] = warnings
    if tag not in TAG_LABELS:  # keep the sentence and its cause, drop the label, say why
        meta[LABEL_ERROR] = f"line {line}: unknown emotion tag <{tag}>; expected one of {', '.join(TAG_LABELS)}"
    return DatasetRow(
        id=f"{Path(path).stem}-{line}",
        text=text,
        emotions=(TAG_LABELS[tag],) if tag in TAG_LABELS else None,
        intensity=None,
        cause=causes[0] if causes else None,
        taxonomy=TAXONOMY,
        split="all",
        meta=meta,
    )


def _strip_tags(body: str, path: Path | str, line: int | None) -> tuple[str, list[tuple[int, int]], list[str]]:
    """Remove the cause tags; return the plain text and the ``(start, end)`` of each cause in it."""
    stray = [m.group(0) for m in _ANY_TAG.finditer(body) if not _CAUSE_TAG.fullmatch(m.group(0))]
    if stray:
        raise DatasetFormatError(path, line, f"unexpected tag(s) inside the sentence: {', '.join(stray)}")
    pieces: list[str] = []
    length = 0
    opened: list[int] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for tag in _CAUSE_TAG.finditer(body):
        pieces.append(body[cursor : tag.start()])
        length += tag.start() - cursor
        cursor = tag.end()
        if not tag["close"]:
            opened.append(length)
        elif opened:
            spans.append((opened.pop(), length))
        else:
            raise DatasetFormatError(path, line, "<\\cause> without an opening <cause>")
    pieces.append(body[cursor:])
    warnings = [f"ignored {len(opened)} <cause> tag(s) that were never closed"] if opened else []
    return "".join(pieces), sorted(spans), warnings


def _trim(text: str, start: int, end: int) -> CauseSpan:
    """The span ``text[start:end]`` without surrounding whitespace, clamped to the text."""
    start, end = max(start, 0), min(end, len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return CauseSpan(start, end, text[start:end])
