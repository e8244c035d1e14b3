"""Engine, sessions and schema migrations.

The schema is owned by Alembic (``migrations/``). Every command that needs the database calls
:func:`open_database`, which upgrades the schema to head when ``ANNOTATOR_AUTO_MIGRATE`` is on (the
default) or stops with a message naming ``annotator db upgrade`` when it is off.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from annotator.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be used as configured; the message says what to do."""


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs (psycopg2 is not a dependency)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (dashboard) do not block the writer (ingest)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # 64 MiB page cache (default 2 MiB): the random-keyed unique indexes of a large project must stay
    # in memory or every insert pays disk reads. A fixed size keeps memory flat for any corpus.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, or for the configured ``ANNOTATOR_DATABASE_URL``."""
    return _engine_for(normalize_url(url or get_settings().database_url))


def _forget_engines_in_child() -> None:
    """After a fork, the child drops the parent's pooled connections without closing them (they are the
    parent's: a child that used or closed one would corrupt it) and opens its own if it ever needs one."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)


_ENGINES: dict[str, Engine] = {}
os.register_at_fork(after_in_child=_forget_engines_in_child)


@lru_cache(maxsize=16)
def _engine_for(url: str) -> Engine:
    engine = _create_engine(url)
    _ENGINES[url] = engine
    return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(parsed.database).parent if parsed.database and parsed.database != ":memory:" else None
        if folder is not None and not folder.is_dir():
            # SQLite would say "unable to open database file"; creating folders nobody asked for is worse.
            raise DatabaseError(f"the folder {folder} of the SQLite database does not exist: create it, or point "
                                "ANNOTATOR_DATABASE_URL at a file in an existing folder")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on ``engine``'s database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` (``base`` empties the schema)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


_ready: set[str] = set()


def open_database(url: str | None = None) -> Engine:
    """Return an engine whose schema is at head, upgrading it or failing with an actionable message."""
    engine = get_engine(url)
    key = str(engine.url)
    if key in _ready:
        return engine
    try:
        current = current_revision(engine)
    except DBAPIError as exc:  # unreachable server, bad credentials, a file that is not a SQLite database
        verb = "open" if engine.url.get_backend_name() == "sqlite" else "connect to"
        reason = " ".join(str(exc.orig).split()).rstrip(".")  # psycopg's reasons span several lines
        raise DatabaseError(
            f"cannot {verb} {engine.url.render_as_string(hide_password=True)}: {reason}. Check ANNOTATOR_DATABASE_URL."
        ) from exc
    if current != head_revision():
        if not get_settings().auto_migrate:
            raise DatabaseError(
                f"the database schema is at {current or 'nothing'}, this version needs {head_revision()}: "
                "run `annotator db upgrade` (ANNOTATOR_AUTO_MIGRATE is off)"
            )
        upgrade(engine)
    _ready.add(key)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
