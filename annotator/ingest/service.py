"""Stream a corpus into a project: validate, deduplicate, insert in batches, keep bad rows aside.

Guarantees:
- a bad row never stops the run and never takes a valid row down with it;
- every rejected row is recorded whole (source, line, reason, raw bytes) in ``ingest_errors``;
- running the same input twice adds nothing (items are unique per project by content hash and by
  external id; errors by source, line and bytes);
- an interrupted run of the same file continues from its last committed batch.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import pickle
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import IO, Any, cast

import orjson
from sqlalchemy import Engine

from annotator import repo
from annotator.bloom import BloomFilter
from annotator.datasets import CONVERSATION_FORMATS
from annotator.datasets.types import LABEL_ERROR
from annotator.db import session_scope
from annotator.hashing import bytes_hash, item_hash
from annotator.ingest.sources import STDIN, Record, SourceError, detect_format, excerpt, fingerprint, iter_records
from annotator.settings import get_settings

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
    "malformed_row": "the CSV row has a different number of fields than the header, or is not CSV",
    "unclosed_quote": "a quoted CSV field never closes (the lines after it are read as rows of their own)",
    "unreadable_rows": "the Parquet rows could not be decoded (a corrupt data page); the rest is read",
    "missing_turn": "the row names a conversation but no turn (or an empty one)",
    "invalid_turn": "the turn is not a whole number from 0 to 1,000,000",
    "invalid_conversation": "the conversation id or speaker is not a string or integer, or is too long",
    "missing_column": "the CSV/Parquet file has no such column",
    "unreadable_source": "the file could not be read at all",
}

WHOLE_FILE_REASONS = frozenset({"missing_column", "unreadable_source"})


@dataclass
class IngestOptions:
    """What to read and how. ``text_field``/``id_field`` name the fields (columns) of the input.

    With ``conversation_field``, a row whose conversation field holds a value is one turn of that conversation:
    ``turn_field`` gives its position (a whole number) and ``speaker_field`` (optional) who said it. Turns are
    unique by (conversation, turn), not by text; rows without a conversation are lone items as before.
    """

    text_field: str = "text"
    id_field: str | None = None
    fmt: str | None = None
    max_text_chars: int = 20000
    batch_size: int = 20000
    conversation_field: str | None = None
    turn_field: str = "turn"
    speaker_field: str | None = None

    def key(self) -> dict[str, Any]:
        """The options that change what a run produces (a resumed run must use the same)."""
        key: dict[str, Any] = {"text_field": self.text_field, "id_field": self.id_field,
                               "max_text_chars": self.max_text_chars}
        if self.conversation_field is not None:  # runs recorded before conversations keep matching
            key.update(conversation_field=self.conversation_field, turn_field=self.turn_field,
                       speaker_field=self.speaker_field)
        return key


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
    label_errors: int = 0  # dataset rows kept without their gold label (``label_error`` in their metadata)
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


@dataclass(slots=True)
class PreparedBatch:
    """One batch of input rows, validated and hashed, in columns (cheap to pass between processes).

    ``items`` holds the valid rows; ``lines``/``raws`` are their line numbers and raw bytes (kept for the
    one rejection only the database can tell: an id already stored with another text). ``bad`` holds the
    rejected rows as (line, reason, message, raw), in input order.
    """

    items: repo.ItemColumns
    lines: list[int]
    raws: list[bytes]
    bad: list[tuple[int, str, str, bytes]]
    rows: int
    last_line: int
    nbytes: int
    label_errors: int = 0


def ingest(engine: Engine, project_name: str, source: str, options: IngestOptions,
           progress: ProgressCallback | None = None, errors_out: IO[bytes] | None = None) -> IngestSummary:
    """Ingest ``source`` (a path, or ``-`` for stdin) into ``project_name``; see the module docstring."""
    fmt = detect_format(source, options.fmt)
    if fmt in CONVERSATION_FORMATS and options.conversation_field is None:
        options = replace(options, conversation_field="conversation", turn_field="turn", speaker_field="speaker")
    print_name = source if source != STDIN else "<stdin>"
    summary = IngestSummary(source=print_name)
    started = time.perf_counter()
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, project_name)
        project_id = project.id
        fp = fingerprint(source)
        live_since = repo.utcnow() - timedelta(seconds=get_settings().job_stale_after)
        run = repo.find_unfinished_run(db, project_id, print_name, fp, fmt, options.key(), live_since)
        if run is None:
            run = repo.start_run(db, project_id, print_name, fp, fmt, options.key())
        else:
            summary.resumed_from = run.rows_done
        summary.position = run.rows_done
        run_id, skip = run.id, run.rows_done
    with engine.connect() as conn:
        # into a project with no items yet, rows this run has certainly not stored skip the lookups
        seen = repo.new_project_filter(conn, project_id)
    summary.run_id = run_id
    # A resumed run's --errors-out also holds the rows rejected before the interruption, after the
    # CSV header (which the reader sends first).
    replay = errors_out is not None and skip > 0

    def store(batch: PreparedBatch | None, finished: bool = False) -> None:
        _store_batch(engine, project_id, run_id, print_name, batch, summary, errors_out, progress, started,
                     finished, seen)

    try:
        for header, batch in prepared_batches(source, fmt, options, skip):
            if header is not None:
                if errors_out is not None:
                    errors_out.write(header)
                continue
            if replay:
                _replay_errors(engine, project_id, print_name, skip, errors_out)
                replay = False
            store(batch)
    except SourceError as exc:
        summary.rejected += 1
        summary.reasons[exc.reason] += 1
        with engine.begin() as conn:
            repo.add_ingest_errors(conn, [error_row(project_id, run_id, print_name, exc.line_number,
                                                     exc.reason, str(exc), exc.raw)])
        exc.recorded = True  # type: ignore[attr-defined]
        raise
    except BaseException:  # interrupted on purpose or failed: the next run may resume this one at once
        with session_scope(engine) as db:
            repo.release_run(db, run_id)
        raise
    if replay:
        _replay_errors(engine, project_id, print_name, skip, errors_out)
    store(None, finished=True)
    summary.finished = True
    return summary


def _replay_errors(engine: Engine, project_id: int, source: str, up_to: int, out: IO[bytes] | None) -> None:
    """Write the rows of ``source`` rejected up to line ``up_to`` (not whole-file errors: no row of theirs)."""
    assert out is not None
    with engine.connect() as conn:
        for err in repo.ingest_errors_for_source(conn, project_id, source, up_to_line=up_to):
            if err.reason not in WHOLE_FILE_REASONS:
                out.write(_with_newline(err.raw))


def _with_newline(raw: bytes) -> bytes:
    return raw if raw.endswith(b"\n") else raw + b"\n"


def error_row(project_id: int, run_id: int | None, source: str, line: int, reason: str, message: str,
              raw: bytes) -> dict[str, Any]:
    """An ``ingest_errors`` row for one rejected input row (``run_id`` None outside an ingest run)."""
    return {
        "project_id": project_id, "run_id": run_id, "source": source, "line_number": line, "reason": reason,
        "message": message, "raw_excerpt": excerpt(raw), "raw": raw, "raw_hash": bytes_hash(raw),
        "created_at": repo.utcnow(),
    }


# --- reading and preparing: in a child process where it can run there --------------------------------

# (header, None) for a CSV header (written first to --errors-out), else (None, batch).
Message = tuple[bytes | None, PreparedBatch | None]


def prepared_batches(source: str, fmt: str, options: IngestOptions, skip: int) -> Iterator[Message]:
    """The input after line ``skip`` as prepared batches, in order. Raises SourceError for a bad file.

    JSONL and CSV are read, parsed, validated and hashed in a forked child process, so on two cores
    that work overlaps the database writes here instead of sharing one interpreter lock with them.
    """
    if fmt in _CHILD_FORMATS and "fork" in mp.get_all_start_methods():
        yield from _from_child(source, fmt, options, skip)
    else:
        yield from _prepare_all(source, fmt, options, skip)


_CHILD_FORMATS = ("jsonl", "csv")  # pure Python readers; pyarrow's threads do not survive a fork


def _prepare_all(source: str, fmt: str, options: IngestOptions, skip: int,
                 stream: IO[bytes] | None = None) -> Iterator[Message]:
    batch: list[Record] = []
    size = options.batch_size
    for record in iter_records(source, fmt, options.text_field, options.id_field, skip=skip, stream=stream,
                               max_chars=options.max_text_chars):
        if record.reason == "header":
            yield record.raw, None
            continue
        batch.append(record)
        if len(batch) >= size:
            yield None, prepare_batch(batch, options)
            batch = []
    if batch:
        yield None, prepare_batch(batch, options)


def _from_child(source: str, fmt: str, options: IngestOptions, skip: int) -> Iterator[Message]:
    """Run :func:`_prepare_all` in a forked child and yield what it sends.

    The pipe holds about one batch, so the child runs at most a batch or two ahead (memory stays flat).
    Standard input is pumped into an OS pipe by a thread here, as the child cannot share ``sys.stdin``
    (which may not even be a file, e.g. under a test runner).
    """
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    stdin_fds = os.pipe() if source == STDIN else None
    child = ctx.Process(target=_child_main, args=(sender, source, fmt, options, skip, stdin_fds),
                        name="ingest-reader", daemon=True)
    child.start()
    sender.close()
    pump: threading.Thread | None = None
    if stdin_fds is not None:
        os.close(stdin_fds[0])
        pump = threading.Thread(target=_pump_stdin, args=(stdin_fds[1],), name="ingest-stdin", daemon=True)
        pump.start()
    try:
        while True:
            try:
                kind, payload = pickle.loads(receiver.recv_bytes())
            except EOFError:
                raise RuntimeError(f"the ingest reader process died (exit code {child.exitcode})") from None
            if kind == "end":
                return
            if kind == "source_error":
                message, reason, line_number, raw = payload
                raise SourceError(message, reason=reason, line_number=line_number, raw=raw)
            if kind == "crash":
                raise RuntimeError(f"the ingest reader process failed:\n{payload}")
            yield (payload, None) if kind == "header" else (None, payload)
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
        child.join()
        if pump is not None:
            pump.join(timeout=5)


def _pump_stdin(fd: int) -> None:
    """Copy standard input into the child's pipe (stops quietly when the child is gone)."""
    stream = sys.stdin.buffer
    try:
        while chunk := stream.read(1 << 20):
            _write_all(fd, chunk)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _die_with_parent() -> None:
    """Make the kernel kill this (forked) process when its parent dies, however it dies (``kill -9``
    included), so a reader never outlives its ingest. Linux only; elsewhere the closed pipe ends it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = mp.parent_process()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the line above
        os._exit(1)


def _child_main(conn: Connection, source: str, fmt: str, options: IngestOptions, skip: int,
                stdin_fds: tuple[int, int] | None) -> None:
    """The reader process: send each header/batch, then ``end``, a ``source_error`` or a ``crash``."""

    _die_with_parent()

    def send(message: tuple[str, Any]) -> None:
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.fast = True  # no memo: several times faster for these flat columns of strings
        pickler.dump(message)
        conn.send_bytes(buf.getbuffer())

    stream: IO[bytes] | None = None
    if stdin_fds is not None:
        os.close(stdin_fds[1])
        stream = os.fdopen(stdin_fds[0], "rb", buffering=1 << 20)
    try:
        for header, batch in _prepare_all(source, fmt, options, skip, stream=stream):
            send(("header", header) if header is not None else ("batch", batch))
        send(("end", None))
    except SourceError as exc:
        send(("source_error", (str(exc), exc.reason, exc.line_number, exc.raw)))
    except (KeyboardInterrupt, BrokenPipeError):
        pass  # the parent is stopping too
    except Exception:
        send(("crash", traceback.format_exc()))
    finally:
        conn.close()


def prepare_batch(records: list[Record], options: IngestOptions) -> PreparedBatch:
    """Validate and hash a batch of records: the valid rows in columns, the rejected ones with their reason."""
    text_field, id_field, limit = options.text_field, options.id_field, options.max_text_chars
    conv_field, turn_field, speaker_field = options.conversation_field, options.turn_field, options.speaker_field
    own_fields = {text_field, id_field, conv_field, turn_field if conv_field else None,
                  speaker_field if conv_field else None} - {None}
    dumps = orjson.dumps
    ext_ids: list[str | None] = []
    texts: list[str] = []
    hashes: list[str] = []
    metas: list[str | None] = []
    conversations: list[str | None] = []
    turns: list[int | None] = []
    speakers: list[str | None] = []
    lines: list[int] = []
    raws: list[bytes] = []
    bad: list[tuple[int, str, str, bytes]] = []
    nbytes = label_errors = 0
    for rec in records:
        nbytes += len(rec.raw)
        if rec.reason is not None:
            bad.append((rec.line_number, rec.reason, rec.message or "", rec.raw))
            continue
        fields = rec.fields
        assert fields is not None
        text = fields.get(text_field)
        reason, message = _check_text(text, text_field, limit)
        ext: str | None = None
        if reason is None and id_field is not None:
            value = fields.get(id_field)
            if type(value) is int:
                value = str(value)
            if value is None or value == "":
                reason, message = "missing_id", f"no {id_field!r} field (or it is empty)"
            elif type(value) is not str or "\x00" in value or len(value) > 512:
                reason, message = "invalid_id", f"{id_field!r} must be a string or integer up to 512 chars"
            else:
                ext = value
        place: Turn = (None, None, None)
        if reason is None and conv_field is not None:
            place, reason, message = _turn_of(fields, conv_field, turn_field, speaker_field)
        if reason is not None:
            bad.append((rec.line_number, reason, message, rec.raw))
            continue
        conversation, turn, speaker = place
        if conversation is not None and ext is None:
            ext = f"{conversation}#{turn}"  # one item per turn: a turn re-sent with other words is a conflict
        label_errors += LABEL_ERROR in fields
        if conv_field is None and len(fields) <= 1 + (ext is not None):
            metas.append(None)  # the common case, without building a dict
        else:
            extra = {k: v for k, v in fields.items() if k not in own_fields}
            metas.append(dumps(extra, default=str).decode() if extra else None)
        ext_ids.append(ext)
        texts.append(cast(str, text))  # _check_text found a str
        hashes.append(item_hash(cast(str, text), conversation, turn))
        conversations.append(conversation)
        turns.append(turn)
        speakers.append(speaker)
        lines.append(rec.line_number)
        raws.append(rec.raw)
    columns = repo.ItemColumns(ext_ids, texts, hashes, metas, conversations, turns, speakers)
    return PreparedBatch(columns, lines, raws, bad, len(records), records[-1].line_number if records else 0, nbytes,
                         label_errors)


Turn = tuple[str | None, int | None, str | None]  # conversation, turn, speaker
MAX_TURN = 1_000_000


def _turn_of(fields: dict[str, Any], conv_field: str, turn_field: str,
             speaker_field: str | None) -> tuple[Turn, str | None, str]:
    """(conversation, turn, speaker) of a row, or the reason and message it cannot be stored.

    A row without a conversation value is a lone item: (None, None, None) and no reason.
    """
    none: Turn = (None, None, None)
    conversation = _name(fields.get(conv_field), 512)
    if conversation is None:
        if fields.get(conv_field) in (None, ""):
            return none, None, ""
        return none, "invalid_conversation", f"{conv_field!r} must be a string or integer up to 512 characters"
    turn = fields.get(turn_field)
    if isinstance(turn, str) and turn.strip().isdigit():
        turn = int(turn)  # CSV columns are text
    if turn is None or turn == "":
        return none, "missing_turn", f"conversation {conversation!r} but no {turn_field!r}"
    if type(turn) is not int or not 0 <= turn <= MAX_TURN:
        return none, "invalid_turn", f"{turn_field!r} must be a whole number from 0 to {MAX_TURN:,}, got {turn!r:.40}"
    speaker = None
    if speaker_field is not None and fields.get(speaker_field) not in (None, ""):
        speaker = _name(fields.get(speaker_field), 200)
        if speaker is None:
            return none, "invalid_conversation", f"{speaker_field!r} must be a string up to 200 characters"
    return (conversation, turn, speaker), None, ""


def _name(value: Any, limit: int) -> str | None:
    """A conversation id or speaker as text, or None where it is not a usable one."""
    if type(value) is int:
        value = str(value)
    if type(value) is not str or not value.strip() or len(value) > limit or "\x00" in value:
        return None
    return value


def _check_text(text: Any, text_field: str, limit: int) -> tuple[str | None, str]:
    """(reason, message) if ``text`` cannot be stored as an item's text, else (None, "")."""
    if text is None:
        return "missing_text", f"no {text_field!r} field (or it is null)"
    if type(text) is not str:
        return "non_string_text", f"{text_field!r} is a {type(text).__name__}, not a string"
    if not text or text.isspace():
        return "empty_text", f"{text_field!r} is empty"
    if len(text) > limit:
        return "text_too_long", f"{len(text)} characters, the limit is {limit}"
    if "\x00" in text:
        return "invalid_text", "the text contains a NUL character"
    return None, ""


# --- storing: here, in one transaction per batch ------------------------------------------------------


class IngestBusy(ValueError):
    """Another ingest holds the project's lock for longer than ANNOTATOR_INGEST_LOCK_TIMEOUT; says who."""


@contextmanager
def _holding_project_lock(engine: Engine, project_id: int) -> Iterator[Any]:
    """A transaction that holds the project's ingest lock, waiting at most ANNOTATOR_INGEST_LOCK_TIMEOUT."""
    timeout = get_settings().ingest_lock_timeout
    try:
        with engine.begin() as conn:
            repo.lock_project_for_ingest(conn, project_id, timeout)
            yield conn
    except repo.LockBusy:
        with engine.connect() as conn:
            holder = repo.ingest_lock_holder(conn, project_id)
        if holder is None:
            raise IngestBusy(f"another writer kept the project's data locked for {timeout:.0f} s (a SQLite "
                             "database takes one writer at a time); try again when it is done, or raise "
                             "ANNOTATOR_INGEST_LOCK_TIMEOUT") from None
        raise IngestBusy(
            f"another ingest into this project has held its lock for over {timeout:.0f} s: PostgreSQL backend "
            f"pid {holder['pid']} ({holder['state']}, client {holder['client'] or 'local'}, "
            f"{holder['application'] or 'no application name'}, since {holder['since']}). Wait for it, or end it "
            f"with SELECT pg_terminate_backend({holder['pid']}); then run this command again: it resumes"
        ) from None


def _store_batch(engine: Engine, project_id: int, run_id: int, source: str, batch: PreparedBatch | None,
                 summary: IngestSummary, errors_out: IO[bytes] | None, progress: ProgressCallback | None,
                 started: float, finished: bool, seen: BloomFilter | None = None) -> None:
    """In one transaction: classify the batch against what is stored, insert the new rows, record the
    rejected ones and move the run's checkpoint. ``batch`` None just closes the run (with ``finished``);
    ``seen``: see :func:`annotator.repo.add_items`."""
    inserted = duplicates = rows = 0
    bad: list[tuple[int, str, str, bytes]] = []
    position = summary.position
    with _holding_project_lock(engine, project_id) as conn:
        if batch is not None:
            added = repo.add_items(conn, project_id, batch.items, seen)
            inserted, duplicates = added.inserted, added.duplicates
            conflicts = [(batch.lines[n], "duplicate_id_conflict",
                          f"id {batch.items.ext_ids[n]!r} was already ingested with a different text", batch.raws[n])
                         for n in added.conflicts]
            bad = sorted(batch.bad + conflicts) if conflicts else batch.bad  # input order
            repo.add_ingest_errors(conn, [error_row(project_id, run_id, source, line, reason, message, raw)
                                          for line, reason, message, raw in bad])
            rows, position = batch.rows, batch.last_line
            summary.bytes_read += batch.nbytes
            summary.label_errors += batch.label_errors
        repo.advance_run(conn, run_id, position, inserted, duplicates, len(bad), finished=finished)
    summary.position = position
    summary.rows_read += rows
    summary.inserted += inserted
    summary.duplicates += duplicates
    summary.rejected += len(bad)
    summary.elapsed = time.perf_counter() - started
    for _, reason, _, raw in bad:
        summary.reasons[reason] += 1
        if errors_out is not None:
            errors_out.write(_with_newline(raw))
    if progress is not None:
        progress(summary)
