"""Every query and write against our tables. Services call these; nothing else writes SQL.

The bulk paths used by ingest talk to the DBAPI driver directly (``executemany`` on SQLite, ``COPY``
on PostgreSQL): the ORM costs more per row than the whole rest of the ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, func, select
from sqlalchemy.orm import Session

from annotator.tables import Annotation, IngestError, IngestRun, Item, Prediction, Project, utcnow

# SQLite's limit on bound variables is 32766 since 3.32; stay well under it.
_SQLITE_CHUNK = 900


class NotFound(LookupError):
    """A named object does not exist; the message says how to create it."""


# --- projects -----------------------------------------------------------------------------------


def get_project_or_raise(db: Session, name: str) -> Project:
    """The project called ``name``, or NotFound naming the command that creates it."""
    project = db.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = db.scalars(select(Project.name).order_by(Project.name)).all()
        hint = f" Existing projects: {', '.join(known)}." if known else ""
        raise NotFound(
            f"no project named {name!r}. Create it with `annotator project create {name} --taxonomy goemotions`.{hint}"
        )
    return project


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
                        fmt: str, options: dict[str, Any]) -> IngestRun | None:
    """The latest interrupted run of the same source content with the same options, if any."""
    if fingerprint is None:
        return None
    runs = db.scalars(
        select(IngestRun)
        .where(IngestRun.project_id == project_id, IngestRun.fingerprint == fingerprint,
               IngestRun.format == fmt, IngestRun.state == "running")
        .order_by(IngestRun.id.desc())
    ).all()
    for run in runs:
        if run.options == options:
            return run
    return None


def start_run(db: Session, project_id: int, source: str, fingerprint: str | None, fmt: str,
              options: dict[str, Any]) -> IngestRun:
    """Insert a new ingest run."""
    run = IngestRun(project_id=project_id, source=source, fingerprint=fingerprint, format=fmt, options=options)
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
    }
    if finished:
        values.update(state="done", finished_at=utcnow())
    conn.execute(IngestRun.__table__.update().where(IngestRun.id == run_id).values(**values))


def add_ingest_errors(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Record rejected rows; a row already recorded (same source, line and bytes) is not added again."""
    if not rows:
        return
    table = IngestError.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    else:
        conn.execute(table.insert().prefix_with("OR IGNORE"), rows)


def ingest_errors_for_source(conn: Connection, project_id: int, source: str, up_to_line: int) -> Sequence[Any]:
    """Rejected rows of one source up to a line, in file order."""
    return conn.execute(
        select(IngestError.line_number, IngestError.reason, IngestError.raw)
        .where(IngestError.project_id == project_id, IngestError.source == source,
               IngestError.line_number <= up_to_line)
        .order_by(IngestError.line_number)
    ).all()


# --- bulk item insert (ingest's hot path) -----------------------------------------------------------


def lock_project_for_ingest(conn: Connection, project_id: int) -> None:
    """Serialise concurrent ingests into one project for the rest of this transaction.

    SQLite already allows one writer at a time; PostgreSQL takes a transaction-scoped advisory lock.
    The batch's commit also skips waiting for the WAL flush: a crash can lose only the last batches,
    which the resumed run writes again (ingest is idempotent).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_INGEST_LOCK, project_id))
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


_INGEST_LOCK = 0x494E47  # advisory-lock namespace for ingest ("ING")


Candidate = tuple[str | None, str, str, str | None]  # external_id, text, content_hash, meta JSON


def existing_items(conn: Connection, project_id: int,
                   candidates: Sequence[Candidate]) -> tuple[dict[str, str], set[str]]:
    """For a batch of candidate rows: {external_id: content_hash} of their ids already stored, and the
    set of their hashes already stored."""
    raw = conn.connection.driver_connection
    ids = [c[0] for c in candidates if c[0] is not None]
    hashes = [c[2] for c in candidates]
    if conn.dialect.name == "postgresql":
        # = ANY(array) always probes the unique indexes; a join against a staging table can get a
        # sequential scan of the whole project when the planner has no statistics yet.
        by_id: dict[str, str] = {}
        with raw.cursor() as cur:
            if ids:
                cur.execute("SELECT external_id, content_hash FROM items WHERE project_id = %s "
                            "AND external_id = ANY(%s::text[])", (project_id, ids))
                by_id.update(cur.fetchall())
            cur.execute("SELECT content_hash FROM items WHERE project_id = %s AND content_hash = ANY(%s::text[])",
                        (project_id, hashes))
            return by_id, {h for (h,) in cur.fetchall()}
    by_id = {}
    known: set[str] = set()
    cur = raw.cursor()
    try:
        for i in range(0, len(ids), _SQLITE_CHUNK):
            chunk = ids[i : i + _SQLITE_CHUNK]
            cur.execute(f"SELECT external_id, content_hash FROM items WHERE project_id = ? "
                        f"AND external_id IN ({','.join('?' * len(chunk))})", (project_id, *chunk))
            by_id.update(cur.fetchall())
        for i in range(0, len(hashes), _SQLITE_CHUNK):
            chunk = hashes[i : i + _SQLITE_CHUNK]
            cur.execute(f"SELECT content_hash FROM items WHERE project_id = ? "
                        f"AND content_hash IN ({','.join('?' * len(chunk))})", (project_id, *chunk))
            known.update(h for (h,) in cur.fetchall())
    finally:
        cur.close()
    return by_id, known


def insert_items(conn: Connection, project_id: int, candidates: Sequence[Candidate], keep: Sequence[int]) -> int:
    """Insert the candidates at positions ``keep`` (those classified as new after :func:`existing_items`).

    Call under :func:`lock_project_for_ingest`, in the same transaction as :func:`existing_items`, so no
    concurrent ingest can store the same rows in between. Returns how many rows were inserted.
    """
    if not keep:
        return 0
    now = utcnow()
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            copy_sql = "COPY items (project_id, external_id, text, content_hash, meta, created_at) FROM STDIN"
            with cur.copy(copy_sql) as cp:
                for n in keep:
                    cp.write_row((project_id, *candidates[n], now))
        return len(keep)
    stamp = _sqlite_datetime(conn, now)
    cur = raw.cursor()
    try:
        cur.executemany(
            "INSERT OR IGNORE INTO items (project_id, external_id, text, content_hash, meta, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(project_id, *candidates[n], stamp) for n in keep],
        )
        return cur.rowcount
    finally:
        cur.close()


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
        .where(Item.project_id == project_id, Annotation.status == "accepted")
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
