"""Stream a corpus into a project: validate, deduplicate, insert in batches, keep bad rows aside.

Guarantees:
- a bad row never stops the run and never takes a valid row down with it;
- every rejected row is recorded whole (source, line, reason, raw bytes) in ``ingest_errors``;
- running the same input twice adds nothing (items are unique per project by content hash and by
  external id; errors by source, line and bytes);
- an interrupted run of the same file continues from its last committed batch.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from sqlalchemy import Engine

from annotator import repo
from annotator.db import session_scope
from annotator.hashing import bytes_hash, content_hash
from annotator.sources import STDIN, Record, SourceError, detect_format, excerpt, fingerprint, iter_records

# Why a row was rejected. The keys are stored in ingest_errors.reason.
REASONS = {
    "invalid_json": "the line is not valid JSON",
    "not_an_object": "the line is JSON but not an object",
    "undecodable_bytes": "the line is not valid UTF-8",
    "missing_text": "the text field is missing or null",
    "empty_text": "the text is empty or only whitespace",
    "non_string_text": "the text is not a string",
    "text_too_long": "the text is longer than ANNOTATOR_MAX_TEXT_CHARS",
    "invalid_text": "the text contains a NUL character",
    "missing_id": "the id field is missing or empty",
    "invalid_id": "the id is not a string or an integer",
    "duplicate_id_conflict": "the id was already ingested with a different text",
    "malformed_row": "the CSV row has a different number of fields than the header",
    "missing_column": "the CSV/Parquet file has no such column",
    "unreadable_source": "the file could not be read at all",
}

WHOLE_FILE_REASONS = frozenset({"missing_column", "unreadable_source"})


@dataclass
class IngestOptions:
    """What to read and how. ``text_field``/``id_field`` name the fields (columns) of the input."""

    text_field: str = "text"
    id_field: str | None = None
    fmt: str | None = None
    max_text_chars: int = 20000
    batch_size: int = 5000

    def key(self) -> dict[str, Any]:
        """The options that change what a run produces (a resumed run must use the same)."""
        return {"text_field": self.text_field, "id_field": self.id_field, "max_text_chars": self.max_text_chars}


@dataclass
class IngestSummary:
    """What one `annotator ingest` did."""

    source: str
    run_id: int | None = None
    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    resumed_from: int = 0
    position: int = 0  # the last input line (row) committed: where a resumed run starts
    bytes_read: int = 0
    elapsed: float = 0.0
    finished: bool = False

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall time."""
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[IngestSummary], None]


def ingest(engine: Engine, project_name: str, source: str, options: IngestOptions,
           progress: ProgressCallback | None = None, errors_out: IO[bytes] | None = None) -> IngestSummary:
    """Ingest ``source`` (a path, or ``-`` for stdin) into ``project_name``; see the module docstring."""
    fmt = detect_format(source, options.fmt)
    print_name = source if source != STDIN else "<stdin>"
    summary = IngestSummary(source=print_name)
    started = time.perf_counter()
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, project_name)
        project_id = project.id
        fp = fingerprint(source)
        run = repo.find_unfinished_run(db, project_id, print_name, fp, fmt, options.key())
        if run is None:
            run = repo.start_run(db, project_id, print_name, fp, fmt, options.key())
        else:
            summary.resumed_from = run.rows_done
        summary.position = run.rows_done
        run_id, skip = run.id, run.rows_done
    summary.run_id = run_id
    # A resumed run's --errors-out also holds the rows rejected before the interruption, after the
    # CSV header (which the reader yields first).
    replay = errors_out is not None and skip > 0

    # Two stages overlap: this thread reads, validates and hashes batch N+1 while one writer thread
    # stores batch N (the database driver releases the GIL while it waits on the server).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") as writer:
        pending: Future[None] | None = None

        def submit(batch: list[Record], finished: bool = False) -> Future[None]:
            prepared = _prepare(batch, options)
            if pending is not None:
                pending.result()  # keeps order and re-raises the writer's errors here
            return writer.submit(_store_batch, engine, project_id, run_id, print_name, batch, prepared,
                                 summary, errors_out, progress, started, finished)

        batch: list[Record] = []
        try:
            for record in iter_records(source, fmt, options.text_field, options.id_field, skip=skip):
                if record.reason == "header":
                    if errors_out is not None:
                        errors_out.write(record.raw)
                    continue
                if replay:
                    _replay_errors(engine, project_id, print_name, skip, errors_out)
                    replay = False
                batch.append(record)
                if len(batch) >= options.batch_size:
                    pending = submit(batch)
                    batch = []
        except SourceError as exc:
            if pending is not None:
                pending.result()
            summary.rejected += 1
            summary.reasons[exc.reason] += 1
            with engine.begin() as conn:
                repo.add_ingest_errors(conn, [_error_row(project_id, run_id, print_name, exc.line_number,
                                                         exc.reason, str(exc), exc.raw)])
            raise
        if replay:
            _replay_errors(engine, project_id, print_name, skip, errors_out)
        pending = submit(batch, finished=True)
        pending.result()
    summary.finished = True
    return summary


def _replay_errors(engine: Engine, project_id: int, source: str, up_to: int, out: IO[bytes]) -> None:
    """Write the rows of ``source`` rejected up to line ``up_to`` (not whole-file errors: no row of theirs)."""
    with engine.connect() as conn:
        for err in repo.ingest_errors_for_source(conn, project_id, source, up_to_line=up_to):
            if err.reason not in WHOLE_FILE_REASONS:
                out.write(_with_newline(err.raw))


def _with_newline(raw: bytes) -> bytes:
    return raw if raw.endswith(b"\n") else raw + b"\n"


def _error_row(project_id: int, run_id: int, source: str, line: int, reason: str, message: str,
               raw: bytes) -> dict[str, Any]:
    return {
        "project_id": project_id, "run_id": run_id, "source": source, "line_number": line, "reason": reason,
        "message": message, "raw_excerpt": excerpt(raw), "raw": raw, "raw_hash": bytes_hash(raw),
        "created_at": repo.utcnow(),
    }


Prepared = list[tuple[Record, str | None, str, str, str | None]]


def _prepare(records: list[Record], options: IngestOptions) -> Prepared:
    """Validate rows (setting reason/message on bad ones) and return (record, id, text, hash, meta) for good ones."""
    text_field, id_field, limit = options.text_field, options.id_field, options.max_text_chars
    dumps = orjson.dumps
    good: Prepared = []
    for rec in records:
        if rec.reason is not None:
            continue
        fields = rec.fields
        assert fields is not None
        text = fields.get(text_field)
        if text is None:
            rec.reason, rec.message = "missing_text", f"no {text_field!r} field (or it is null)"
            continue
        if type(text) is not str:
            rec.reason, rec.message = "non_string_text", f"{text_field!r} is a {type(text).__name__}, not a string"
            continue
        if not text or text.isspace():
            rec.reason, rec.message = "empty_text", f"{text_field!r} is empty"
            continue
        if len(text) > limit:
            rec.reason, rec.message = "text_too_long", f"{len(text)} characters, the limit is {limit}"
            continue
        if "\x00" in text:
            rec.reason, rec.message = "invalid_text", "the text contains a NUL character"
            continue
        ext: str | None = None
        if id_field is not None:
            value = fields.get(id_field)
            if type(value) is int:
                value = str(value)
            if value is None or value == "":
                rec.reason, rec.message = "missing_id", f"no {id_field!r} field (or it is empty)"
                continue
            if type(value) is not str or "\x00" in value or len(value) > 512:
                rec.reason, rec.message = "invalid_id", f"{id_field!r} must be a string or integer up to 512 chars"
                continue
            ext = value
        extra = {k: v for k, v in fields.items() if k != text_field and k != id_field}
        meta = dumps(extra, default=str).decode() if extra else None
        good.append((rec, ext, text, content_hash(text), meta))
    return good


def _store_batch(engine: Engine, project_id: int, run_id: int, source: str, records: list[Record],
                 good: Prepared, summary: IngestSummary, errors_out: IO[bytes] | None,
                 progress: ProgressCallback | None, started: float, finished: bool) -> None:
    """In one transaction: classify the batch against what is stored, insert the new rows, record the
    rejected ones and move the run's checkpoint."""
    with engine.begin() as conn:
        repo.lock_project_for_ingest(conn, project_id)
        candidates = [(ext, text, digest, meta) for _, ext, text, digest, meta in good]
        known_ids, known_hashes = repo.existing_items(conn, project_id, candidates) if good else ({}, set())
        keep: list[int] = []
        duplicates = 0
        for n, (rec, ext, _, digest, _) in enumerate(good):
            if ext is not None and ext in known_ids:
                if known_ids[ext] == digest:
                    duplicates += 1
                else:
                    rec.reason = "duplicate_id_conflict"
                    rec.message = f"id {ext!r} was already ingested with a different text"
                continue
            if digest in known_hashes:
                duplicates += 1
                continue
            known_hashes.add(digest)
            if ext is not None:
                known_ids[ext] = digest
            keep.append(n)
        inserted = repo.insert_items(conn, project_id, candidates, keep)
        bad = [r for r in records if r.reason is not None]
        repo.add_ingest_errors(conn, [
            _error_row(project_id, run_id, source, r.line_number, r.reason or "", r.message or "", r.raw)
            for r in bad
        ])
        position = records[-1].line_number if records else summary.position
        if records or finished:
            repo.advance_run(conn, run_id, position, inserted, duplicates, len(bad), finished=finished)
    summary.position = position
    summary.rows_read += len(records)
    summary.inserted += inserted
    summary.duplicates += duplicates
    summary.rejected += len(bad)
    summary.bytes_read += sum(len(r.raw) for r in records)
    summary.elapsed = time.perf_counter() - started
    for r in bad:
        summary.reasons[r.reason or ""] += 1
        if errors_out is not None:
            errors_out.write(_with_newline(r.raw))
    if progress is not None:
        progress(summary)
