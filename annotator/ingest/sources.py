"""Streaming readers for corpus files: JSONL, CSV and Parquet (and stdin).

A reader yields one :class:`Record` per input row, in order, without holding the file in memory.
It never raises on a bad row: a row that cannot be read becomes a record carrying its error, so the
caller can keep it aside and carry on. Only a problem with the whole file (a CSV without the named
column, an unreadable Parquet file) raises :class:`SourceError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "csv", "parquet")
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
STDIN = "-"


class SourceError(ValueError):
    """The source as a whole cannot be read (wrong format, missing column); the message says why."""

    def __init__(self, message: str, reason: str = "unreadable_source", line_number: int = 0, raw: bytes = b""):
        super().__init__(message)
        self.reason = reason
        self.line_number = line_number
        self.raw = raw


@dataclass(slots=True)
class Record:
    """One input row: its 1-based line (or row) number, its raw bytes, and either fields or an error."""

    line_number: int
    raw: bytes
    fields: dict[str, Any] | None = None
    reason: str | None = None
    message: str | None = None


def dataset_formats() -> tuple[str, ...]:
    """Names of the annotated-dataset formats ingest also reads (GoEmotions TSV, SemEval, RECCON, ...)."""
    from annotator.datasets import available_formats

    return available_formats()


def detect_format(path: str, explicit: str | None = None) -> str:
    """The input format: ``explicit`` if given, else from the file extension (``.jsonl.gz`` is not supported)."""
    if explicit:
        fmt = explicit.lower()
        if fmt not in FORMATS and fmt not in dataset_formats():
            raise SourceError(
                f"unknown format {explicit!r}; use one of: {', '.join(FORMATS)}, "
                f"or an annotated dataset: {', '.join(dataset_formats())}"
            )
        if fmt in FORMATS and path != STDIN and Path(path).is_dir():
            raise SourceError(f"{path} is a folder; pass a {fmt} file (only the annotated-dataset formats read "
                              "folders)")
        return fmt
    if path == STDIN:
        raise SourceError("reading from stdin needs --format (jsonl or csv)")
    if Path(path).is_dir():
        raise SourceError(f"{path} is a folder; pass a file (only the annotated-dataset formats read folders)")
    ext = Path(path).suffix.lower()
    if ext not in _EXTENSIONS:
        raise SourceError(
            f"cannot tell the format of {path!r} from its extension; pass --format {'|'.join(FORMATS)}"
        )
    return _EXTENSIONS[ext]


def fingerprint(path: str) -> str | None:
    """Identify a file's content cheaply (size, mtime and a hash of its first 64 KiB); None for stdin."""
    if path == STDIN:
        return None
    st = os.stat(path)
    with open(path, "rb") as f:
        head = hashlib.blake2b(f.read(65536), digest_size=8).hexdigest()
    return f"{st.st_size}:{st.st_mtime_ns}:{head}"


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading; ``-`` is standard input."""
    if path == STDIN:
        return sys.stdin.buffer
    return open(path, "rb", buffering=1 << 20)


def excerpt(raw: bytes, limit: int = 200) -> str:
    """A short, printable excerpt of a raw row (undecodable bytes and NUL shown as escapes: PostgreSQL text
    cannot hold a NUL)."""
    text = raw[: limit * 4].decode("utf-8", errors="backslashreplace").rstrip("\r\n").replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_jsonl(stream: IO[bytes], skip: int = 0) -> Iterator[Record]:
    """Yield one record per non-blank line after line ``skip`` (lines up to it are not parsed: resume)."""
    loads = orjson.loads
    for number, line in enumerate(stream, start=1):
        if number <= skip:
            continue
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte order mark is not part of the first row
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as dexc:
                yield Record(number, line, reason="undecodable_bytes",
                             message=f"not valid UTF-8 at byte {dexc.start}")
                continue
            yield Record(number, line, reason="invalid_json", message=f"invalid JSON: {exc}")
            continue
        if type(obj) is not dict:
            yield Record(number, line, reason="not_an_object",
                         message=f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield Record(number, line, obj)


_CSV_FIELD_LIMIT = 2**31 - 1  # csv's default (131,072 chars) would end the read at one long field
_QUOTE = ord('"')


def _csv_records(stream: IO[bytes], bad: list[Record], max_chars: int) -> Iterator[tuple[int, bytes, str]]:
    """(first line, raw bytes, text) of each logical CSV record, split where the quotes balance.

    A quoted field may span lines; a record whose quote is still open after ``max_chars`` characters (no
    text that long is kept anyway) or at the end of the file is an unclosed quote: its first line is
    rejected and the lines after it are read again as records of their own, so one stray quote never
    swallows the rest of the file. Undecodable records go to ``bad``.
    """
    pending: list[tuple[int, bytes]] = []
    again: list[tuple[int, bytes]] = []  # lines to read again, ahead of the stream
    lines = enumerate(stream, start=1)
    size = 0
    while True:
        entry = again.pop(0) if again else next(lines, None)
        if entry is not None:
            pending.append(entry)
            size += len(entry[1])
            if sum(raw.count(_QUOTE) for _, raw in pending) % 2 == 0:
                first, raw = pending[0][0], b"".join(r for _, r in pending)
                pending, size = [], 0
                try:
                    yield first, raw, raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad.append(Record(first, raw, reason="undecodable_bytes",
                                      message=f"not valid UTF-8 at byte {exc.start}"))
                continue
            if size <= max_chars * 4:  # UTF-8 takes at most 4 bytes a character
                continue
        elif not pending:
            return
        (first, raw), rest = pending[0], pending[1:]
        bad.append(Record(first, raw, reason="unclosed_quote",
                          message="a quoted field is never closed; the row is left out and the lines after it "
                                  "are read as rows of their own"))
        again[:0], pending, size = rest, [], 0


def read_csv(stream: IO[bytes], text_field: str, id_field: str | None, delimiter: str = ",",
             skip: int = 0, max_chars: int = 20000) -> Iterator[Record]:
    """Yield the header (as a record with reason ``header``), then one record per row after line ``skip``.

    Never raises on a bad row: an undecodable line, a row with the wrong number of fields, a row csv cannot
    parse and a quote that never closes each become a rejected record. Raises SourceError if a named
    column is missing from the header. A row's number is the line it starts on.
    """
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    bad: list[Record] = []
    records = _csv_records(stream, bad, max_chars)
    header_entry = next(records, None)
    if header_entry is None:
        return
    header = next(csv.reader([header_entry[2]], delimiter=delimiter), [])
    header_raw = header_entry[1]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    for field, flag in ((text_field, "--text-field"), (id_field, "--id-field")):
        if field is not None and field not in header:
            raise SourceError(
                f"the CSV has no column {field!r} (columns: {', '.join(header)}); pass {flag} with one of them",
                reason="missing_column", line_number=1, raw=header_raw,
            )
    width = len(header)
    yield Record(1, header_raw, reason="header")  # the header, so --errors-out can write it first
    for number, raw, text in records:
        while bad:
            record = bad.pop(0)
            if record.line_number > skip:
                yield record
        if number <= skip:
            continue
        try:
            row = next(csv.reader([text], delimiter=delimiter), [])
        except csv.Error as exc:
            yield Record(number, raw, reason="malformed_row", message=f"not a CSV row: {exc}")
            continue
        if not row or (len(row) == 1 and row[0] == ""):
            continue
        if len(row) != width:
            yield Record(number, raw, reason="malformed_row",
                         message=f"{len(row)} fields where the header has {width}")
            continue
        yield Record(number, raw, dict(zip(header, row)))
    for record in bad:
        if record.line_number > skip:
            yield record


def read_parquet(path: str, text_field: str, id_field: str | None, skip: int = 0,
                 batch_rows: int = 10000) -> Iterator[Record]:
    """Yield one record per Parquet row, reading row groups in batches. Raises SourceError on a missing column."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SourceError(f"{path} is not a readable Parquet file: {exc}") from exc
    names = pf.schema_arrow.names
    for field, flag in ((text_field, "--text-field"), (id_field, "--id-field")):
        if field is not None and field not in names:
            raise SourceError(
                f"the Parquet file has no column {field!r} (columns: {', '.join(names)}); pass {flag}",
                reason="missing_column", line_number=0, raw=", ".join(names).encode(),
            )
    number = 0
    for group in range(pf.num_row_groups):
        rows = pf.metadata.row_group(group).num_rows
        if number + rows <= skip:
            number += rows
            continue
        try:  # a corrupt data page spoils its row group only: those rows are rejected, the rest is read
            batches = list(pf.iter_batches(batch_size=batch_rows, row_groups=[group]))
        except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ... for undecodable pages
            for n in range(number + 1, number + rows + 1):
                if n > skip:
                    yield Record(n, orjson.dumps({"row": n, "row_group": group}), reason="unreadable_rows",
                                 message=f"row group {group} of the Parquet file cannot be decoded: {exc}")
            number += rows
            continue
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                if number <= skip:
                    continue
                yield Record(number, orjson.dumps(row, default=str), row)


def read_annotated_dataset(path: str, fmt: str, skip: int = 0) -> Iterator[Record]:
    """Records from a known annotated dataset (``annotator.datasets``): id and text, the gold labels
    under ``gold``, and the dataset's own fields as metadata. Raises SourceError on a malformed file."""
    from annotator.datasets import DatasetFormatError, read_dataset

    try:
        for number, ex in enumerate(read_dataset(Path(path), fmt), start=1):
            if number <= skip:
                continue
            gold = {"emotions": list(ex.emotions) if ex.emotions is not None else None,
                    "intensity": ex.intensity,
                    "cause": None if ex.cause is None else
                    {"start": ex.cause.start, "end": ex.cause.end, "text": ex.cause.text}}
            fields = {"id": ex.id, "text": ex.text, "gold": gold, "taxonomy": ex.taxonomy, "split": ex.split,
                      **ex.meta}
            yield Record(number, orjson.dumps(fields, default=str), fields)
    except DatasetFormatError as exc:
        raise SourceError(str(exc), reason="unreadable_source") from exc


def iter_records(path: str, fmt: str, text_field: str, id_field: str | None, skip: int = 0,
                 stream: IO[bytes] | None = None, max_chars: int = 20000) -> Iterator[Record]:
    """Records of ``path`` in format ``fmt`` whose line (row) number is above ``skip``, the resume point.

    ``stream``, if given, is read instead of opening ``path`` (JSONL and CSV; ``path`` still names the input).
    """
    if fmt in dataset_formats():
        if path == STDIN:
            raise SourceError(f"the {fmt} dataset format cannot be read from stdin; pass its file or folder")
        yield from read_annotated_dataset(path, fmt, skip=skip)
        return
    if fmt == "parquet":
        if path == STDIN:
            raise SourceError("Parquet cannot be read from stdin; pass a file path")
        yield from read_parquet(path, text_field, id_field, skip=skip)
        return
    own = stream is None
    stream = open_binary(path) if stream is None else stream
    try:
        if fmt == "jsonl":
            yield from read_jsonl(stream, skip=skip)
        else:
            delimiter = "\t" if path.lower().endswith(".tsv") else ","
            yield from read_csv(stream, text_field, id_field, delimiter=delimiter, skip=skip, max_chars=max_chars)
    finally:
        if own and stream is not sys.stdin.buffer:
            stream.close()
