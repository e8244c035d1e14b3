"""Every query and write against our tables. Services call these; nothing else writes SQL.

The bulk paths used by ingest talk to the DBAPI driver directly (``executemany`` on SQLite, ``COPY``
on PostgreSQL): the ORM costs more per row than the whole rest of the ingest.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, DateTime, Text, cast, delete, exists, func, insert, or_, select, true, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from annotator.bloom import BloomFilter
from annotator.states import AdapterStatus, AnnotationStatus, RunState
from annotator.tables import (Adapter, Adjudication, Annotation, GoldAnswer, IngestError, IngestRun, Item, ItemClaim,
                              Prediction, Project, utcnow)

# SQLite's limit on bound variables is 32766 since 3.32; stay well under it.
_SQLITE_CHUNK = 900


class NotFound(LookupError):
    """A named object does not exist; the message says how to create it."""


# --- projects -----------------------------------------------------------------------------------


def project_names(db: Session) -> dict[int, str]:
    """Every project's name by id."""
    return {pid: name for pid, name in db.execute(select(Project.id, Project.name))}


def active_adapter(db: Session, project: Project) -> Adapter | None:
    """The adapter promoted for the project (what promotion and rollback change), if any."""
    return db.get(Adapter, project.active_adapter_id) if project.active_adapter_id else None


def labeling_adapter(db: Session, project: Project) -> Adapter | None:
    """The adapter whose predictions label the project now: the promoted one, else the newest shipped default
    (status ``default``) that has pre-labeled its items; None when neither has."""
    active = active_adapter(db, project)
    if active is not None:
        return active
    labeled = exists().where(Prediction.adapter_version == Adapter.version, Prediction.item_id == Item.id,
                             Item.project_id == project.id)
    return db.scalars(select(Adapter).where(Adapter.status == AdapterStatus.DEFAULT, labeled)
                      .order_by(Adapter.created_at.desc(), Adapter.id.desc()).limit(1)).first()


def get_project_by_id(db: Session, project_id: int) -> Project:
    """The project with this id, or NotFound (it was deleted)."""
    project = db.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project with id {project_id} (was it deleted?)")
    return project


def get_project_or_raise(db: Session, name: str) -> Project:
    """The project called ``name``, or NotFound naming the command that creates it."""
    project = db.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = db.scalars(select(Project.name).order_by(Project.name)).all()
        near = difflib.get_close_matches(name, known, n=3, cutoff=0.6) if len(known) > 5 else known
        hint = (f" Did you mean: {', '.join(near)}?" if len(known) > 5 and near else
                f" Existing projects: {', '.join(near)}." if near else "")
        if len(known) > 5:
            hint += " `annotator project list` shows them all."
        raise NotFound(
            f"no project named {name!r}. Create it with `annotator project create {name} --taxonomy goemotions`.{hint}"
        )
    return project


def lock_row(db: Session, table: Any, row_id: int) -> None:
    """Lock one row until the transaction ends, so what is read next cannot change under a writer
    (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: its single write lock, taken by a no-op update)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(table.id).where(table.id == row_id).with_for_update())
    else:
        db.execute(update(table).where(table.id == row_id).values(id=table.id))


def change_project_setting(db: Session, project: Project, key: str, change: Callable[[Any], Any]) -> None:
    """Change one key of a project's settings to ``change(current value)`` without losing another writer's.

    The settings are one JSON column that several writers change (Label Studio sync state, adapter history,
    thresholds); each writes its own key. The row is locked first (PostgreSQL: ``SELECT ... FOR UPDATE``;
    SQLite: its single write lock) and the settings read again under the lock, so two writers at once both
    keep their change. A result of None removes the key.
    """
    db.flush()
    lock_row(db, Project, project.id)
    fresh = db.execute(select(Project.settings).where(Project.id == project.id)).scalar_one()
    current = dict(fresh or {})
    merged = {k: v for k, v in {**current, key: change(current.get(key))}.items() if v is not None}
    db.execute(update(Project).where(Project.id == project.id).values(settings=merged))
    set_committed_value(project, "settings", merged)


def find_project(db: Session, name: str) -> Project | None:
    """The project called ``name``, or None."""
    return db.scalar(select(Project).where(Project.name == name))


def list_projects(db: Session) -> Sequence[Project]:
    """All projects, by name."""
    return db.scalars(select(Project).order_by(Project.name)).all()


def add_project(db: Session, name: str, taxonomy: str, labels: Sequence[str], settings: dict[str, Any]) -> Project:
    """Insert a project row."""
    project = Project(name=name, taxonomy=taxonomy, labels=list(labels), settings=settings)
    db.add(project)
    db.flush()
    return project


# --- ingest runs and errors -----------------------------------------------------------------------


def find_unfinished_run(db: Session, project_id: int, source: str, fingerprint: str | None,
                        fmt: str, options: dict[str, Any], live_since: datetime | None = None) -> IngestRun | None:
    """The latest interrupted run of the same source content with the same options, if any.

    A run whose heartbeat is newer than ``live_since`` belongs to a process still ingesting it: it is not
    interrupted, and a second ingest of the same file starts a run of its own instead of sharing its counters.
    """
    if fingerprint is None:
        return None
    query = (select(IngestRun)
             .where(IngestRun.project_id == project_id, IngestRun.fingerprint == fingerprint,
                    IngestRun.format == fmt, IngestRun.state == RunState.RUNNING)
             .order_by(IngestRun.id.desc()))
    if live_since is not None:
        query = query.where((IngestRun.heartbeat_at.is_(None)) | (IngestRun.heartbeat_at < live_since))
    runs = db.scalars(query).all()
    for run in runs:
        if run.options == options:
            return run
    return None


def start_run(db: Session, project_id: int, source: str, fingerprint: str | None, fmt: str,
              options: dict[str, Any]) -> IngestRun:
    """Insert a new ingest run."""
    run = IngestRun(project_id=project_id, source=source, fingerprint=fingerprint, format=fmt, options=options,
                    heartbeat_at=utcnow())
    db.add(run)
    db.flush()
    return run


def advance_run(conn: Connection, run_id: int, rows_done: int, inserted: int, duplicate: int, rejected: int,
                finished: bool = False) -> None:
    """Move a run's checkpoint forward and add to its counters (in the batch's transaction)."""
    values: dict[str, Any] = {
        "rows_done": rows_done,
        "rows_inserted": IngestRun.rows_inserted + inserted,
        "rows_duplicate": IngestRun.rows_duplicate + duplicate,
        "rows_rejected": IngestRun.rows_rejected + rejected,
        "heartbeat_at": None if finished else utcnow(),
    }
    if finished:
        values.update(state=RunState.DONE, finished_at=utcnow())
    conn.execute(update(IngestRun).where(IngestRun.id == run_id).values(**values))


def release_run(db: Session, run_id: int) -> None:
    """An interrupted run (its process stopping on purpose) may be resumed at once by the next ingest."""
    run = db.get(IngestRun, run_id)
    if run is not None:
        run.heartbeat_at = None


def add_ingest_errors(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Record rejected rows; a row already recorded (same source, line and bytes) is not added again."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(IngestError).on_conflict_do_nothing(), rows)
    else:
        conn.execute(insert(IngestError).prefix_with("OR IGNORE"), rows)


def ingest_errors_for_source(conn: Connection, project_id: int, source: str, up_to_line: int) -> Sequence[Any]:
    """Rejected rows of one source up to a line, in file order."""
    return conn.execute(
        select(IngestError.line_number, IngestError.reason, IngestError.raw)
        .where(IngestError.project_id == project_id, IngestError.source == source,
               IngestError.line_number <= up_to_line)
        .order_by(IngestError.line_number)
    ).all()


# --- bulk item insert (ingest's hot path) -----------------------------------------------------------


class LockBusy(RuntimeError):
    """Another writer held the project's ingest lock for longer than the caller would wait."""


def lock_project_for_ingest(conn: Connection, project_id: int, timeout_s: float = 120.0) -> None:
    """Serialise concurrent ingests into one project for the rest of this transaction.

    SQLite allows one writer at a time: a no-op update takes the write lock now, before the batch's
    first read (:func:`add_items` relies on no other writer between its reads and its insert).
    PostgreSQL takes a transaction-scoped advisory lock, and the batch's commit skips waiting for the
    WAL flush: a crash can lose only the last batches, which the resumed run writes again (ingest is
    idempotent). Either gives up after ``timeout_s`` with :class:`LockBusy` (the transaction is then
    aborted; :func:`ingest_lock_holder` on another connection says who holds it).
    """
    from sqlalchemy.exc import OperationalError

    try:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{max(1, int(timeout_s * 1000))}ms'")
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_INGEST_LOCK, project_id))
            conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("SET LOCAL jit = off")  # compiling the lookups costs more than running them
        else:
            conn.exec_driver_sql("UPDATE projects SET id = id WHERE id = ?", (project_id,))
    except OperationalError as exc:
        text = str(exc.orig)
        if "lock timeout" in text or "database is locked" in text:
            raise LockBusy(text) from exc
        raise


def ingest_lock_holder(conn: Connection, project_id: int) -> dict[str, Any] | None:
    """Who holds a project's ingest lock on PostgreSQL (pid, state, client, since when), if anyone."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.exec_driver_sql(
        "SELECT a.pid, a.state, a.application_name, a.client_addr::text, a.state_change, a.xact_start "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
        (_INGEST_LOCK, project_id)).first()
    if row is None:
        return None
    return {"pid": row[0], "state": row[1], "application": row[2], "client": row[3], "since": row[4],
            "transaction_start": row[5]}


_INGEST_LOCK = 0x494E47  # advisory-lock namespace for ingest ("ING")


@dataclass(slots=True)
class ItemColumns:
    """A batch of candidate items, column by column (position ``n`` of each list is one row).

    ``meta`` is already JSON text; ``ext_ids`` holds None where the input has no id field; the conversation
    columns hold None for lone items (all three may be left out: a batch of lone items).
    """

    ext_ids: list[str | None]
    texts: list[str]
    hashes: list[str]
    metas: list[str | None]
    conversations: list[str | None] | None = None
    turns: list[int | None] | None = None
    speakers: list[str | None] | None = None

    def turn_columns(self) -> tuple[Sequence[str | None], Sequence[int | None], Sequence[str | None]]:
        """The conversation, turn and speaker columns (None for every row of a batch of lone items)."""
        lone = [None] * len(self.texts)
        return self.conversations or lone, self.turns or lone, self.speakers or lone


@dataclass(slots=True)
class AddedItems:
    """What :func:`add_items` did with a batch: rows inserted, rows already stored (same text, or same id
    and text), and the positions of rows whose id is stored with a different text (not inserted)."""

    inserted: int = 0
    duplicates: int = 0
    conflicts: list[int] = field(default_factory=list)


def add_items(conn: Connection, project_id: int, items: ItemColumns, seen: BloomFilter | None = None) -> AddedItems:
    """Insert the batch's new rows, in order; skip rows whose text or id is already in the project.

    A row is a duplicate if its id is stored with the same text, or (id unseen) its text is stored; a
    conflict if its id is stored with another text. Earlier rows of the same batch count as stored.
    Call under :func:`lock_project_for_ingest`, so no concurrent ingest stores rows in between.

    ``seen`` (PostgreSQL; ignored on SQLite): a filter that has been given every id and content hash of the
    project's items, as :func:`new_project_filter` starts it and this function keeps it. Rows it has
    certainly not seen skip the lookups; should another writer have stored one of them meanwhile, the
    unique indexes refuse the insert and the batch is redone with every lookup.
    """
    if not items.hashes:
        return AddedItems()
    if conn.dialect.name != "postgresql":
        return _add_items_sqlite(conn, project_id, items)
    if seen is None:
        return _add_items_postgres(conn, project_id, items, None)[0]
    import psycopg

    maybe = seen.maybe_contains(items.hashes)
    with_id = [(n, ext) for n, ext in enumerate(items.ext_ids) if ext is not None]
    if with_id:
        maybe[[n for n, _ in with_id]] |= seen.maybe_contains([ext for _, ext in with_id])
    conn.exec_driver_sql("SAVEPOINT add_items")
    try:
        result, kept = _add_items_postgres(conn, project_id, items, maybe.nonzero()[0].tolist())
    except psycopg.errors.UniqueViolation:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT add_items")
        result, kept = _add_items_postgres(conn, project_id, items, None)
    conn.exec_driver_sql("RELEASE SAVEPOINT add_items")
    seen.add([items.hashes[n] for n in kept] + [ext for n in kept if (ext := items.ext_ids[n]) is not None])
    return result


def _driver(conn: Connection) -> Any:
    """The DBAPI connection under ``conn`` (psycopg or sqlite3), for COPY and executemany."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no driver connection (it is closed)")
    return raw


def new_project_filter(conn: Connection, project_id: int) -> BloomFilter | None:
    """An empty :class:`BloomFilter` for :func:`add_items` if the project has no items yet, else None."""
    if conn.dialect.name != "postgresql":
        return None
    has_items = conn.execute(select(Item.id).where(Item.project_id == project_id).limit(1)).first()
    return None if has_items else BloomFilter()


def _add_items_postgres(conn: Connection, project_id: int, items: ItemColumns,
                        check: list[int] | None) -> tuple[AddedItems, list[int]]:
    """Look up the ids and hashes of the rows in ``check`` (None: all rows), classify here, then COPY the
    new rows in. Returns the result and the positions of the inserted rows."""
    raw = _driver(conn)
    ext_ids, hashes = items.ext_ids, items.hashes
    rows = range(len(hashes)) if check is None else check
    ids = [ext for n in rows if (ext := ext_ids[n]) is not None]
    # One index probe per value, whatever the statistics say: LIMIT keeps the lateral subquery a nested
    # loop over the unique index. (`= ANY(array)` on a project whose table has not been analysed yet
    # became a scan of the whole project per batch.) Not prepared, so no plan outlives this batch.
    known_ids: dict[str, str] = {}
    known_hashes: set[str] = set()
    with raw.cursor() as cur:
        if ids:
            cur.execute("SELECT i.external_id, i.content_hash FROM unnest(%s::text[]) AS v(id) CROSS JOIN LATERAL "
                        "(SELECT external_id, content_hash FROM items WHERE project_id = %s AND external_id = v.id "
                        "LIMIT 1) AS i", (_pg_text_array(ids), project_id), prepare=False)
            known_ids.update(cur.fetchall())
        if rows:
            cur.execute("SELECT i.content_hash FROM unnest(%s::text[]) AS v(hash) CROSS JOIN LATERAL "
                        "(SELECT content_hash FROM items WHERE project_id = %s AND content_hash = v.hash LIMIT 1) "
                        "AS i", (_pg_text_array([hashes[n] for n in rows]), project_id), prepare=False)
            known_hashes.update(h for (h,) in cur.fetchall())
    result = AddedItems()
    keep: list[int] = []
    for n, digest in enumerate(hashes):
        ext = ext_ids[n]
        if ext is not None and ext in known_ids:
            if known_ids[ext] == digest:
                result.duplicates += 1
            else:
                result.conflicts.append(n)
            continue
        if digest in known_hashes:
            result.duplicates += 1
            continue
        known_hashes.add(digest)
        if ext is not None:
            known_ids[ext] = digest
        keep.append(n)
    if keep:
        now = utcnow()
        texts, metas = items.texts, items.metas
        conversations, turns, speakers = items.turn_columns()
        with raw.cursor() as cur:
            # Binary COPY: about half the client CPU of text COPY (no per-value escaping).
            copy_sql = ("COPY items (project_id, external_id, text, content_hash, meta, created_at, "
                        "conversation_id, turn, speaker) FROM STDIN (FORMAT BINARY)")
            with cur.copy(copy_sql) as cp:
                cp.set_types(_ITEM_COPY_TYPES)
                write_row = cp.write_row
                for n in keep:
                    write_row((project_id, ext_ids[n], texts[n], hashes[n], metas[n], now, conversations[n],
                               turns[n], speakers[n]))
    result.inserted = len(keep)
    return result, keep


# items' columns as migrated; meta (json) is sent as text: json's binary input is its text
_ITEM_COPY_TYPES = ["int8", "varchar", "text", "varchar", "text", "timestamptz", "varchar", "int4", "varchar"]


def _pg_text_array(values: Sequence[str]) -> str:
    """A PostgreSQL ``text[]`` literal: several times cheaper to build here than psycopg's list adapter."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


def _add_items_sqlite(conn: Connection, project_id: int, items: ItemColumns) -> AddedItems:
    """INSERT OR IGNORE the whole batch, then classify only the rows the unique indexes turned away.

    On a fresh corpus nothing is turned away and no lookup runs at all. Rowids grow with each insert
    (the items table has no AUTOINCREMENT, and this transaction holds SQLite's write lock), so the
    rows above the previous maximum are the inserted ones, in batch order.
    """
    raw = _driver(conn)
    ext_ids, texts, hashes, metas = items.ext_ids, items.texts, items.hashes, items.metas
    stamp = _sqlite_datetime(conn, utcnow())
    cur = raw.cursor()
    try:
        cur.execute("SELECT coalesce(max(id), 0) FROM items")
        (before,) = cur.fetchone()
        cur.executemany(
            "INSERT OR IGNORE INTO items (project_id, external_id, text, content_hash, meta, created_at, "
            "conversation_id, turn, speaker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(repeat(project_id), ext_ids, texts, hashes, metas, repeat(stamp), *items.turn_columns()),
        )
        inserted = cur.rowcount
        result = AddedItems(inserted=inserted)
        if inserted == len(hashes):
            return result
        cur.execute("SELECT content_hash, external_id, id FROM items WHERE id > ? ORDER BY id", (before,))
        added = cur.fetchall()
        ignored: list[int] = []
        position: dict[int, int] = {}  # rowid inserted by this batch -> its position in the batch
        k = 0
        for n, digest in enumerate(hashes):
            if k < len(added) and added[k][0] == digest and added[k][1] == ext_ids[n]:
                position[added[k][2]] = n
                k += 1
            else:
                ignored.append(n)
        ids = list({ext_ids[n] for n in ignored if ext_ids[n] is not None})
        stored: dict[str, tuple[str, int]] = {}
        for i in range(0, len(ids), _SQLITE_CHUNK):
            chunk = ids[i : i + _SQLITE_CHUNK]
            cur.execute(f"SELECT external_id, content_hash, id FROM items WHERE project_id = ? "
                        f"AND external_id IN ({','.join('?' * len(chunk))})", (project_id, *chunk))
            stored.update((ext, (digest, rowid)) for ext, digest, rowid in cur.fetchall())
    finally:
        cur.close()
    for n in ignored:
        ext = ext_ids[n]
        hit = stored.get(ext) if ext is not None else None
        # The id counts as stored only if it was there before this row (not inserted by a later row).
        if hit is not None and (hit[1] <= before or position[hit[1]] < n) and hit[0] != hashes[n]:
            result.conflicts.append(n)
        else:
            result.duplicates += 1
    return result


def _sqlite_datetime(conn: Connection, value: datetime) -> Any:
    """``value`` as SQLAlchemy itself stores a DateTime on this dialect, so ORM reads agree with bulk writes."""
    process = DateTime(timezone=True).dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


# --- counts -------------------------------------------------------------------------------------


def project_counts(db: Session, project_id: int) -> dict[str, int]:
    """Items, items with a prediction, items with an accepted annotation, annotations, ingest errors."""
    items = db.scalar(select(func.count()).select_from(Item).where(Item.project_id == project_id)) or 0
    predicted = db.scalar(
        select(func.count(func.distinct(Prediction.item_id))).join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project_id)
    ) or 0
    annotated = db.scalar(
        select(func.count(func.distinct(Annotation.item_id))).join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id, Annotation.status == AnnotationStatus.ACCEPTED)
    ) or 0
    annotations = db.scalar(
        select(func.count()).select_from(Annotation).join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id)
    ) or 0
    errors = db.scalar(select(func.count()).select_from(IngestError).where(IngestError.project_id == project_id)) or 0
    return {"items": items, "predicted": predicted, "annotated": annotated, "annotations": annotations,
            "ingest_errors": errors}


def predictions_by_adapter(db: Session, project_id: int) -> dict[str, int]:
    """How many items each adapter version has predicted in a project."""
    rows = db.execute(
        select(Prediction.adapter_version, func.count()).join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project_id).group_by(Prediction.adapter_version)
    ).all()
    return {version: n for version, n in rows}


def iter_item_pages(db: Session, project_id: int, page_size: int = 1000) -> Iterable[Sequence[Item]]:
    """All items of a project in id order, a page at a time (keyset pagination: memory stays flat)."""
    last = 0
    while True:
        page = db.scalars(
            select(Item).where(Item.project_id == project_id, Item.id > last).order_by(Item.id).limit(page_size)
        ).all()
        if not page:
            return
        yield page
        last = page[-1].id
        db.expunge_all()


def predictions_for_items(db: Session, item_ids: Sequence[int]) -> dict[int, list[Prediction]]:
    """All predictions of the given items, newest first per item."""
    out: dict[int, list[Prediction]] = {i: [] for i in item_ids}
    rows = db.scalars(
        select(Prediction).where(Prediction.item_id.in_(item_ids)).order_by(Prediction.created_at.desc(),
                                                                               Prediction.id.desc())
    ).all()
    for p in rows:
        out[p.item_id].append(p)
    return out


def annotations_for_items(db: Session, item_ids: Sequence[int]) -> dict[int, list[Annotation]]:
    """All annotations of the given items, oldest first per item."""
    out: dict[int, list[Annotation]] = {i: [] for i in item_ids}
    rows = db.scalars(
        select(Annotation).where(Annotation.item_id.in_(item_ids)).order_by(Annotation.created_at, Annotation.id)
    ).all()
    for a in rows:
        out[a.item_id].append(a)
    return out


# --- pre-labeling -------------------------------------------------------------------------------


def _unlabeled(query: Any, project_id: int, adapter_version: str, max_item_id: int | None, only_missing: bool,
               untouched_only: bool) -> Any:
    predicted = select(Prediction.id).where(Prediction.item_id == Item.id)
    if not only_missing:
        predicted = predicted.where(Prediction.adapter_version == adapter_version)
    query = query.where(Item.project_id == project_id, ~predicted.exists())
    if untouched_only:
        query = query.where(~select(Annotation.id).where(Annotation.item_id == Item.id).exists())
    if max_item_id is not None:
        query = query.where(Item.id <= max_item_id)
    return query


def unlabeled_item_ids(db: Session, project_id: int, adapter_version: str, *, max_item_id: int | None = None,
                       only_missing: bool = False, untouched_only: bool = False, after_id: int = 0,
                       offset: int = 0, limit: int | None = None) -> list[int]:
    """Ids (ascending, > ``after_id``) of a project's items that still lack a prediction.

    By default an item counts as unlabeled when ``adapter_version`` has not predicted it; with
    ``only_missing`` only items no adapter has predicted count; ``untouched_only`` leaves out items a
    human has annotated; ``max_item_id`` freezes the scope at the items a job was created for.
    """
    query = _unlabeled(select(Item.id).where(Item.id > after_id), project_id, adapter_version, max_item_id,
                       only_missing, untouched_only).order_by(Item.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query))


def count_unlabeled_items(db: Session, project_id: int, adapter_version: str, *, max_item_id: int | None = None,
                          only_missing: bool = False, untouched_only: bool = False) -> int:
    """How many items ``unlabeled_item_ids`` would list (same filters)."""
    query = _unlabeled(select(func.count()).select_from(Item), project_id, adapter_version, max_item_id,
                       only_missing, untouched_only)
    return int(db.scalar(query) or 0)


def max_item_id(db: Session, project_id: int) -> int:
    """The highest item id of a project (0 when it has none)."""
    return db.scalar(select(func.max(Item.id)).where(Item.project_id == project_id)) or 0


def items_by_ids(db: Session, item_ids: Sequence[int]) -> list[Item]:
    """These items, in id order (ids of no item are left out)."""
    return list(db.scalars(select(Item).where(Item.id.in_(list(item_ids))).order_by(Item.id)))


def items_without_prediction(db: Session, item_ids: Sequence[int], adapter_version: str) -> list[Item]:
    """The given items that ``adapter_version`` has not predicted yet, in id order."""
    done = select(Prediction.id).where(Prediction.item_id == Item.id, Prediction.adapter_version == adapter_version)
    return list(db.scalars(select(Item).where(Item.id.in_(item_ids), ~done.exists()).order_by(Item.id)))


def adapter_thresholds(db: Session, version: str) -> dict[str, Any] | None:
    """The tuned thresholds recorded with an adapter version (taxonomy -> label -> threshold), if any."""
    return db.scalar(select(Adapter.thresholds).where(Adapter.version == version))


def insert_predictions(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert prediction rows, skipping any (item, adapter version) already there; returns how many were new."""
    if not rows:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = (
        dialect_insert(Prediction)
        .values([{**row, "created_at": now} for row in rows])
        .on_conflict_do_nothing(index_elements=["item_id", "adapter_version"])
        .returning(Prediction.id)
    )
    return len(conn.execute(stmt).all())


# --- annotations --------------------------------------------------------------------------------


def upsert_annotations(db: Session, rows: Sequence[Mapping[str, Any]], source: str) -> tuple[int, int]:
    """Insert or overwrite annotations by (item, annotator); returns (inserted, updated).

    Each row maps Annotation columns (``item_id``, ``annotator``, ``emotions``, ...) to values. A row
    without ``status`` is accepted (clearing an earlier rejection). ``created_at`` is kept from the
    first insert; ``updated_at`` is the row's own, else now. Later rows for the same key win.
    """
    inserted = updated = 0
    for lo in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[lo : lo + _SQLITE_CHUNK]
        existing = {
            (a.item_id, a.annotator): a
            for a in db.scalars(select(Annotation).where(
                Annotation.item_id.in_({r["item_id"] for r in chunk}),
                Annotation.annotator.in_({r["annotator"] for r in chunk})))
        }
        for row in chunk:
            # a row that does not say where its cause lies has it in the item's own text
            values = {"status": AnnotationStatus.ACCEPTED, "rejection_reason": None, "cause_turn": None,
                      "cause_outside": None, **row, "source": source}
            created_at, updated_at = values.pop("created_at", None), values.pop("updated_at", None)
            key = (values["item_id"], values["annotator"])
            annotation = existing.get(key)
            if annotation is None:
                now = utcnow()
                annotation = Annotation(**values, created_at=created_at or now, updated_at=updated_at or now)
                db.add(annotation)
                existing[key] = annotation
                inserted += 1
            else:
                for name, value in values.items():
                    setattr(annotation, name, value)
                annotation.updated_at = updated_at or utcnow()
                updated += 1
        db.flush()
    return inserted, updated


def upsert_gold_answers(db: Session, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Insert or replace gold answers by item (``item_id``, ``emotions``, ``intensity``, ``cause_start``,
    ``cause_end``); returns (inserted, updated). Later rows for the same item win."""
    by_item = {row["item_id"]: dict(row) for row in rows}
    existing = {g.item_id: g for lo in range(0, len(by_item), _SQLITE_CHUNK)
                for g in db.scalars(select(GoldAnswer).where(
                    GoldAnswer.item_id.in_(list(by_item)[lo : lo + _SQLITE_CHUNK])))}
    for item_id, values in by_item.items():
        if item_id in existing:
            for name, value in values.items():
                setattr(existing[item_id], name, value)
        else:
            db.add(GoldAnswer(**values))
    db.flush()
    return len(by_item) - len(existing), len(existing)


def gold_answers(db: Session, project_id: int) -> dict[int, tuple[GoldAnswer, str]]:
    """The project's gold answers and their items' texts, by item id."""
    rows = db.execute(select(GoldAnswer, Item.text).join(Item, Item.id == GoldAnswer.item_id)
                      .where(Item.project_id == project_id))
    return {gold.item_id: (gold, text) for gold, text in rows}


def gold_items_not_done_by(db: Session, project_id: int, annotator: str, version: str | None,
                           limit: int) -> Sequence[Any]:
    """(gold item, its prediction of ``version`` or None) for gold items ``annotator`` has not annotated, in id
    order: every annotator sees every gold item, whatever the overlap."""
    return db.execute(
        select(Item, Prediction).join(GoldAnswer, GoldAnswer.item_id == Item.id)
        .outerjoin(Prediction, (Prediction.item_id == Item.id) & (Prediction.adapter_version == version))
        .where(Item.project_id == project_id, ~_annotated_by(annotator)).order_by(Item.id).limit(limit)
    ).all()


def items_to_adjudicate(db: Session, project_id: int, minimum: int = 2) -> Sequence[Item]:
    """Items with at least ``minimum`` accepted annotations and no adjudication yet, in id order."""
    annotated = select(func.count()).select_from(Annotation).where(
        Annotation.item_id == Item.id, Annotation.status == AnnotationStatus.ACCEPTED).scalar_subquery()
    return db.scalars(select(Item).where(Item.project_id == project_id, annotated >= minimum,
                                         ~exists().where(Adjudication.item_id == Item.id))
                      .order_by(Item.id)).all()


def adjudications_for_items(db: Session, item_ids: Sequence[int]) -> dict[int, Adjudication]:
    """The adjudication of each of the items that has one, by item id."""
    out: dict[int, Adjudication] = {}
    for lo in range(0, len(item_ids), _SQLITE_CHUNK):
        out.update({a.item_id: a for a in db.scalars(select(Adjudication).where(
            Adjudication.item_id.in_(list(item_ids[lo : lo + _SQLITE_CHUNK]))))})
    return out


def project_adjudications(db: Session, project_id: int) -> dict[int, Adjudication]:
    """Every adjudication of the project, by item id."""
    return {a.item_id: a for a in db.scalars(select(Adjudication).join(Item, Item.id == Adjudication.item_id)
                                             .where(Item.project_id == project_id))}


def upsert_adjudication(db: Session, values: Mapping[str, Any]) -> Adjudication:
    """Store (or replace) the adjudication of ``values["item_id"]``."""
    row = db.scalar(select(Adjudication).where(Adjudication.item_id == values["item_id"]))
    if row is None:
        row = Adjudication(**values)
        db.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.created_at = utcnow()
    db.flush()
    return row


def count_gold_not_done_by(db: Session, project_id: int, annotator: str) -> int:
    """How many gold items of the project ``annotator`` has not annotated."""
    return db.scalar(select(func.count()).select_from(Item).join(GoldAnswer, GoldAnswer.item_id == Item.id)
                     .where(Item.project_id == project_id, ~_annotated_by(annotator))) or 0


# --- reads several links share (review, agreement, consensus, status) ------------------------------------


def accepted_annotations(db: Session, project_id: int) -> Sequence[Any]:
    """Every accepted annotation of the project (item, annotator, labels, cause, what it corrected), in
    (item, annotator) order."""
    return db.execute(
        select(Annotation.item_id, Annotation.annotator, Annotation.emotions, Annotation.intensity,
               Annotation.intensities, Annotation.cause_start, Annotation.cause_end, Annotation.cause_text,
               Annotation.cause_turn, Annotation.cause_outside, Annotation.based_on_adapter)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id, Annotation.status == AnnotationStatus.ACCEPTED)
        .order_by(Annotation.item_id, Annotation.annotator)
    ).all()


def _annotated_item_ids(project_id: int) -> Any:
    return select(Annotation.item_id).join(Item, Item.id == Annotation.item_id).where(
        Item.project_id == project_id, Annotation.status == AnnotationStatus.ACCEPTED)


def annotated_item_texts(db: Session, project_id: int) -> dict[int, str]:
    """The text of every item of the project with an accepted annotation, by item id."""
    return {i: t for i, t in db.execute(select(Item.id, Item.text).where(Item.id.in_(_annotated_item_ids(project_id))))}


def annotated_conversation_turns(db: Session, project_id: int) -> dict[int, list[tuple[int, str]]]:
    """For every conversation turn of the project with an accepted annotation: ``(turn, text)`` of each turn
    of its conversation up to and including it, in turn order, by item id."""
    target = aliased(Item)
    rows = db.execute(
        select(target.id, Item.turn, Item.text)
        .join(Item, (Item.project_id == target.project_id) & (Item.conversation_id == target.conversation_id)
              & (Item.turn <= target.turn))
        .where(target.id.in_(_annotated_item_ids(project_id)), target.conversation_id.is_not(None),
               target.turn.is_not(None))
        .order_by(target.id, Item.turn))
    out: dict[int, list[tuple[int, str]]] = {}
    for item_id, turn, text in rows:
        if turn is not None:  # always, by the join; this tells the type checker
            out.setdefault(item_id, []).append((turn, text))
    return out


def conversation_turn_texts(db: Session, project_id: int, conversation_ids: Iterable[str]) -> dict[tuple[str, int], str]:
    """The text of every turn of these conversations of the project, by (conversation id, turn)."""
    rows = db.execute(select(Item.conversation_id, Item.turn, Item.text).where(
        Item.project_id == project_id, Item.conversation_id.in_(list(conversation_ids)), Item.turn.is_not(None)))
    return {(conversation, turn): text for conversation, turn, text in rows
            if conversation is not None and turn is not None}


def earlier_turns(db: Session, items: Sequence[Item], window: int | None = None) -> dict[int, list[Item]]:
    """For each turn of a conversation among ``items`` (by item id): the turns of its conversation before it,
    in turn order, the latest ``window`` of them (all for None). Lone items are left out."""
    turns = [i for i in items if i.conversation_id is not None and i.turn is not None]
    if not turns or window == 0:
        return {}
    projects = sorted({i.project_id for i in turns})
    conversations = sorted({i.conversation_id for i in turns if i.conversation_id is not None})
    whole: dict[tuple[int, str | None], list[Item]] = {}
    for lo in range(0, len(conversations), _SQLITE_CHUNK):
        rows = db.scalars(select(Item).where(Item.project_id.in_(projects),
                                             Item.conversation_id.in_(conversations[lo : lo + _SQLITE_CHUNK]),
                                             Item.turn.is_not(None)).order_by(Item.turn))
        for row in rows:
            whole.setdefault((row.project_id, row.conversation_id), []).append(row)
    out: dict[int, list[Item]] = {}
    for item in turns:
        before = [t for t in whole.get((item.project_id, item.conversation_id), [])
                  if t.turn is not None and item.turn is not None and t.turn < item.turn]
        out[item.id] = before[-window:] if window is not None else before
    return out


def conversation_sizes(db: Session, project_id: int, limit: int) -> list[tuple[str, int]]:
    """The project's conversations (id, number of turns), in id order, at most ``limit``."""
    rows = db.execute(select(Item.conversation_id, func.count()).where(
        Item.project_id == project_id, Item.conversation_id.is_not(None))
        .group_by(Item.conversation_id).order_by(Item.conversation_id).limit(limit))
    return [(conversation, int(n)) for conversation, n in rows if conversation is not None]


def conversation_items(db: Session, project_id: int, conversation_id: str) -> list[Item]:
    """Every turn of one conversation of the project, in turn order."""
    return list(db.scalars(select(Item).where(Item.project_id == project_id, Item.conversation_id == conversation_id)
                           .order_by(Item.turn)))


def has_conversations(db: Session, project_id: int) -> bool:
    """Whether any item of the project is a turn of a conversation."""
    return bool(db.scalar(select(exists().where(Item.project_id == project_id, Item.conversation_id.is_not(None)))))


def conversation_turn(db: Session, item: Item, turn: int) -> Item | None:
    """Turn ``turn`` of ``item``'s conversation (None for a lone item or a turn not stored)."""
    if item.conversation_id is None:
        return None
    return db.scalar(select(Item).where(Item.project_id == item.project_id,
                                        Item.conversation_id == item.conversation_id, Item.turn == turn))


def annotated_item_predictions(db: Session, project_id: int, version: str) -> Sequence[Any]:
    """The predictions of ``version`` for the project's items that have an accepted annotation."""
    return db.execute(
        select(Prediction.item_id, Prediction.emotions, Prediction.intensity, Prediction.intensities,
               Prediction.cause_start, Prediction.cause_end, Prediction.cause_turn)
        .where(Prediction.adapter_version == version, Prediction.item_id.in_(_annotated_item_ids(project_id)))
    ).all()


def corrected_predictions(db: Session, project_id: int) -> Sequence[Any]:
    """Every prediction of the project an accepted annotation says it corrected (``based_on_adapter``)."""
    return db.execute(
        select(Prediction.item_id, Prediction.adapter_version, Prediction.emotions, Prediction.intensity,
               Prediction.cause_start, Prediction.cause_end, Prediction.cause_turn)
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project_id,
               select(Annotation.id).where(Annotation.item_id == Prediction.item_id,
                                           Annotation.based_on_adapter == Prediction.adapter_version,
                                           Annotation.status == AnnotationStatus.ACCEPTED).exists())
    ).all()


def annotations_with_prelabels(db: Session, project_id: int, newest: int | None = None) -> Sequence[Any]:
    """(emotions, lead time, based_on_adapter, the emotion scores of that adapter's prediction or None) of every
    accepted human annotation of the project, oldest first (``newest``: only the N most recent, newest first)."""
    order = Annotation.id.desc() if newest is not None else Annotation.id
    return db.execute(
        select(Annotation.emotions, Annotation.lead_time, Annotation.based_on_adapter,
               Prediction.emotions)
        .join(Item, Item.id == Annotation.item_id)
        .outerjoin(Prediction, (Prediction.item_id == Annotation.item_id)
                   & (Prediction.adapter_version == Annotation.based_on_adapter))
        .where(Item.project_id == project_id, Annotation.status == AnnotationStatus.ACCEPTED)
        .order_by(order).limit(newest)
    ).all()


def prediction_scores_newest_first(db: Session, project_id: int) -> Iterable[Any]:
    """(item id, adapter version, emotions as raw JSON text) of every prediction of the project, by item and
    newest first within an item; streamed, so 100k items stay in a few MB."""
    return db.execute(
        select(Prediction.item_id, Prediction.adapter_version, cast(Prediction.emotions, Text))
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project_id)
        .order_by(Prediction.item_id, Prediction.created_at.desc(), Prediction.id.desc())
        .execution_options(yield_per=5000)
    )


def newest_prediction_version(db: Session, project_id: int) -> str | None:
    """The adapter version of the project's newest prediction, if any."""
    return db.scalar(
        select(Prediction.adapter_version).join(Item, Item.id == Prediction.item_id)
        .where(Item.project_id == project_id).order_by(Prediction.created_at.desc(), Prediction.id.desc()).limit(1)
    )


def _annotated_by(annotator: str) -> Any:
    return exists().where(Annotation.item_id == Item.id, Annotation.annotator == annotator)


def least_confident_unannotated(db: Session, project_id: int, version: str, annotator: str,
                                limit: int, overlap: int | None = None, randomly: bool = False) -> Sequence[Any]:
    """(item, prediction of ``version``) for items ``annotator`` has not annotated, least confident first
    (``randomly``: a sample in a fixed shuffled order, so a page drawn twice shows the same items); with
    ``overlap``, only items with a free slot for them (:func:`has_slot_for`). Gold items are left out: the
    review queue mixes them in at the project's rate."""
    shuffled = (Item.id * 2654435761) % 4294967291  # a fixed permutation of ids (Knuth's multiplicative hash)
    order = (shuffled, Item.id) if randomly else (Prediction.confidence.asc().nulls_first(), Item.id)
    return db.execute(
        select(Item, Prediction).join(Prediction, Prediction.item_id == Item.id)
        .where(Item.project_id == project_id, Prediction.adapter_version == version, ~_annotated_by(annotator),
               has_slot_for(annotator, overlap), ~_is_gold())
        .order_by(*order).limit(limit)
    ).all()


def count_unannotated_predicted(db: Session, project_id: int, version: str, annotator: str,
                                overlap: int | None = None) -> int:
    """How many items with a prediction of ``version`` ``annotator`` has not annotated yet (with ``overlap``:
    and that have a free slot for them), gold items left out."""
    return db.scalar(
        select(func.count()).select_from(Item).join(Prediction, Prediction.item_id == Item.id)
        .where(Item.project_id == project_id, Prediction.adapter_version == version, ~_annotated_by(annotator),
               has_slot_for(annotator, overlap), ~_is_gold())
    ) or 0


def items_annotated_by_others(db: Session, project_id: int, annotator: str) -> Sequence[Item]:
    """Items someone else has an accepted annotation of and ``annotator`` has none, in id order."""
    return db.scalars(select(Item).where(Item.project_id == project_id, _annotated_by_others(annotator),
                                         ~_annotated_by(annotator)).order_by(Item.id)).all()


def count_annotated_by_others(db: Session, project_id: int, annotator: str) -> int:
    """How many items someone else has an accepted annotation of and ``annotator`` has none."""
    return db.scalar(select(func.count()).select_from(Item).where(
        Item.project_id == project_id, _annotated_by_others(annotator), ~_annotated_by(annotator))) or 0


# --- distribution: each item is annotated by `overlap` people; a claim holds a slot while someone works ---


def _slots_taken(annotator: str, now: datetime) -> Any:
    """Accepted annotations of the item plus live claims of other people who have not annotated it."""
    annotations = select(func.count()).select_from(Annotation).where(
        Annotation.item_id == Item.id, Annotation.status == AnnotationStatus.ACCEPTED).scalar_subquery()
    claimant_done = exists().where(Annotation.item_id == ItemClaim.item_id, Annotation.annotator == ItemClaim.annotator,
                                   Annotation.status == AnnotationStatus.ACCEPTED)
    claims = select(func.count()).select_from(ItemClaim).where(
        ItemClaim.item_id == Item.id, ItemClaim.annotator != annotator, ItemClaim.expires_at > now,
        ~claimant_done).scalar_subquery()
    return annotations + claims


def _is_gold() -> Any:
    return exists().where(GoldAnswer.item_id == Item.id)


def has_slot_for(annotator: str, overlap: int | None, now: datetime | None = None) -> Any:
    """SQL condition on Item: ``annotator`` holds a live claim on it, or fewer than ``overlap`` slots are taken
    (always true for None)."""
    if overlap is None:
        return true()
    now = now or utcnow()
    mine = exists().where(ItemClaim.item_id == Item.id, ItemClaim.annotator == annotator, ItemClaim.expires_at > now)
    return or_(mine, _slots_taken(annotator, now) < overlap)


def claim_item(db: Session, item_id: int, annotator: str, overlap: int, minutes: float) -> bool:
    """Take (or renew) ``annotator``'s slot on an item for ``minutes``; False when all ``overlap`` slots are
    taken by others. The item row is locked first, so two people never both take its last slot."""
    lock_row(db, Item, item_id)
    now = utcnow()
    if not db.scalar(select(has_slot_for(annotator, overlap, now)).select_from(Item).where(Item.id == item_id)):
        return False
    until = now + timedelta(minutes=minutes)
    mine = db.scalar(select(ItemClaim).where(ItemClaim.item_id == item_id, ItemClaim.annotator == annotator))
    if mine is None:
        db.add(ItemClaim(item_id=item_id, annotator=annotator, expires_at=until))
    else:
        mine.expires_at = until
    db.flush()
    return True


def claimed_unannotated(db: Session, project_id: int, version: str, annotator: str) -> Sequence[Any]:
    """(item, prediction of ``version``) of the items ``annotator`` holds a live claim on and has not annotated
    yet, oldest claim first: what they have open, which their queue keeps first whatever else changes."""
    return db.execute(
        select(Item, Prediction).join(Prediction, Prediction.item_id == Item.id)
        .join(ItemClaim, ItemClaim.item_id == Item.id)
        .where(Item.project_id == project_id, Prediction.adapter_version == version, ItemClaim.annotator == annotator,
               ItemClaim.expires_at > utcnow(), ~_annotated_by(annotator))
        .order_by(ItemClaim.id)
    ).all()


def release_claim(db: Session, item_id: int, annotator: str) -> None:
    """Drop ``annotator``'s claim on an item (their annotation now holds the slot, or they moved on)."""
    db.execute(delete(ItemClaim).where(ItemClaim.item_id == item_id, ItemClaim.annotator == annotator))


def _annotated_by_others(annotator: str) -> Any:
    return exists().where(Annotation.item_id == Item.id, Annotation.annotator != annotator,
                          Annotation.status == AnnotationStatus.ACCEPTED)


def predictions_of_version(db: Session, item_ids: Sequence[int], version: str | None) -> dict[int, Prediction]:
    """The prediction of ``version`` of each of the items that has one, by item id."""
    if version is None or not item_ids:
        return {}
    rows = db.scalars(select(Prediction).where(Prediction.item_id.in_(list(item_ids)),
                                               Prediction.adapter_version == version))
    return {p.item_id: p for p in rows}


def annotation_of(db: Session, item_id: int, annotator: str) -> Annotation | None:
    """``annotator``'s annotation of an item, if any."""
    return db.scalar(select(Annotation).where(Annotation.item_id == item_id, Annotation.annotator == annotator))


def count_annotations_by(db: Session, project_id: int, annotator: str) -> int:
    """How many items of the project ``annotator`` has annotated."""
    return db.scalar(
        select(func.count()).select_from(Annotation).join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id, Annotation.annotator == annotator)
    ) or 0


def items_by_external_id(db: Session, project_id: int, external_ids: Iterable[str]) -> dict[str, Item]:
    """The project's items with these external ids, by external id."""
    rows = db.execute(select(Item.external_id, Item).where(Item.project_id == project_id,
                                                           Item.external_id.in_(list(external_ids))))
    return {ext: item for ext, item in rows if ext is not None}


def ingest_error_reasons(db: Session, project_id: int) -> dict[str, int]:
    """How many rejected rows the project's ingests kept, by reason."""
    rows = db.execute(select(IngestError.reason, func.count()).where(IngestError.project_id == project_id)
                      .group_by(IngestError.reason))
    return {reason: int(n) for reason, n in rows}


def latest_ingest_runs(db: Session, project_id: int, limit: int = 5) -> Sequence[IngestRun]:
    """The project's newest ingest runs."""
    return db.scalars(select(IngestRun).where(IngestRun.project_id == project_id)
                      .order_by(IngestRun.id.desc()).limit(limit)).all()
