"""GoodNewsEveryone (Bostan et al., 2020), gold release TSV (``gne-release-v1.0.tsv``), with a header row.

The file is CSV-quoted TSV. ``cause``/``experiencer``/``target``/``cue`` are JSON lists of lists of span
strings, lower-cased (mostly), that must be matched case-insensitively in ``headline``. Quirks of the release
handled here:

* a few span cells carry a doubled JSON escape (``\\\\"`` for ``\\"``) and spans copied from the CSV-quoted
  headline, with its doubled quotes and closing quote (``""criminal act""`` plus a stray ``"``); the escape is repaired and the span is matched with CSV doubling
  undone, enclosing quotes trimmed and any quote character (``" ' ‘ ’ “ ”``) matching any other;
* ids are not unique (different headlines share an id): a repeated id gets ``#2``, ``#3``...
  (``meta["gne_id"]`` keeps the original);
* ``intensity`` is a word (almost always ``medium``), kept as ``meta["intensity_label"]``, not mapped to 0..1.

``cause`` is the first cause span located in the headline (offsets into the original-case headline);
``meta["cause_spans"]`` lists every located span as ``{"start", "end", "text"}`` and
``meta["unmatched_cause_spans"]`` the raw strings that could not be located. The other roles are kept raw in
``meta`` (``experiencer``, ``target``, ``cue``: lists of lists of strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.datasets._io import chain_files, check_columns, expand, iter_tsv
from annotator.datasets.types import LABEL_ERROR, CauseSpan, DatasetFormatError, DatasetRow

TAXONOMY = "gne"
LABELS: tuple[str, ...] = (
    "anger",
    "annoyance",
    "disgust",
    "fear",
    "guilt",
    "joy",
    "love_including_like",
    "negative_anticipation_including_pessimism",
    "negative_surprise",
    "positive_anticipation_including_optimism",
    "positive_surprise",
    "pride",
    "sadness",
    "shame",
    "trust",
)
NO_OTHER_EMOTION = "no_other_additional_emotions_are_expressed"
NO_READER_EMOTION = "no_i_did_not_feel_any_emotion"
COLUMNS = (
    "id", "headline", "url", "bias_horizontal", "bias_vertical", "country", "source", "dominant_emotion",
    "intensity", "cause", "experiencer", "target", "cue", "other_emotions", "reader_emotions",
)  # fmt: skip
_QUOTES = "\"'‘’“”"


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".tsv" and path.name.lower().startswith("gne")


def read(path: Path) -> Iterator[DatasetRow]:
    """Stream headline examples from a GNE gold TSV (or a folder holding ``gne*.tsv``).

    GNE has no official split, so every example gets split ``all``.
    """
    return chain_files(expand(Path(path), _is_data_file, None, "GNE .tsv"), _read_file)


def _read_file(path: Path) -> Iterator[DatasetRow]:
    rows = iter_tsv(path, quoted=True)
    header_line, header = next(rows, (1, []))
    if tuple(name.strip().lower() for name in header) != COLUMNS:
        raise DatasetFormatError(path, header_line, f"expected the GNE header ({', '.join(COLUMNS)}), got {header!r}")
    seen: dict[str, int] = {}
    for line, row in rows:
        check_columns(path, line, row, len(COLUMNS))
        record = dict(zip(COLUMNS, row))
        gne_id = record["id"].strip()
        seen[gne_id] = seen.get(gne_id, 0) + 1
        yield _example(path, line, record, gne_id if seen[gne_id] == 1 else f"{gne_id}#{seen[gne_id]}")


def _example(path: Path, line: int, record: dict[str, str], example_id: str) -> DatasetRow:
    headline = record["headline"]
    dominant = record["dominant_emotion"].strip().lower()
    roles = {role: _spans(path, line, role, record[role]) for role in ("cause", "experiencer", "target", "cue")}
    located: list[dict[str, Any]] = []
    unmatched: list[str] = []
    for span in (span for group in roles["cause"] for span in group):
        where = locate(span, headline)
        if where is None:
            unmatched.append(span)
        else:
            located.append({"start": where[0], "end": where[1], "text": headline[where[0] : where[1]]})
    meta: dict[str, Any] = {
        "gne_id": record["id"].strip(),
        "source_line": line,
        "other_emotions": _labels(record["other_emotions"], NO_OTHER_EMOTION),
        "reader_emotions": _labels(record["reader_emotions"], NO_READER_EMOTION),
        "intensity_label": record["intensity"].strip() or None,
        "cause_spans": located,
        "unmatched_cause_spans": unmatched,
        "experiencer": roles["experiencer"],
        "target": roles["target"],
        "cue": roles["cue"],
    }
    for key in ("url", "bias_horizontal", "bias_vertical", "country", "source"):
        meta[key] = record[key].strip() or None
    if dominant and dominant not in LABELS:  # keep the headline and its cause, drop the label, say why
        meta[LABEL_ERROR] = f"line {line}: dominant_emotion {dominant!r} is not one of the 15 GNE classes"
        dominant = ""
    first = located[0] if located else None
    return DatasetRow(
        id=example_id,
        text=headline,
        emotions=(dominant,) if dominant else None,
        intensity=None,
        cause=CauseSpan(first["start"], first["end"], first["text"]) if first else None,
        taxonomy=TAXONOMY,
        split="all",
        meta=meta,
    )


def _labels(cell: str, none_marker: str) -> tuple[str, ...]:
    labels = [part.strip().lower() for part in cell.split(",") if part.strip()]
    return tuple(label for label in labels if label != none_marker)


def _spans(path: Path, line: int, role: str, cell: str) -> list[list[str]]:
    cell = cell.strip()
    if not cell:
        return []
    try:
        value = json.loads(cell)
    except json.JSONDecodeError:
        try:
            # Some cells were JSON-escaped twice: \\" where \" was meant.
            value = json.loads(cell.replace('\\\\"', '\\"'))
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(path, line, f"{role}: not a JSON list of lists ({exc.msg}): {cell!r}") from None
    if not isinstance(value, list) or not all(
        isinstance(group, list) and all(isinstance(span, str) for span in group) for group in value
    ):
        raise DatasetFormatError(path, line, f"{role}: expected a JSON list of lists of strings, got {cell!r}")
    return [group for group in value if group]


def locate(span: str, text: str) -> tuple[int, int] | None:
    """Offsets ``(start, end)`` of ``span`` in ``text``, ignoring case and the quoting quirks of GNE spans."""
    undoubled = span.replace('""', '"')
    for candidate in (span, undoubled, undoubled.strip(_QUOTES + " "), span.strip(_QUOTES + " ")):
        if not candidate.strip():
            continue
        pattern = "".join(f"[{re.escape(_QUOTES)}]" if ch in _QUOTES else re.escape(ch) for ch in candidate)
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found.start(), found.end()
    return None
