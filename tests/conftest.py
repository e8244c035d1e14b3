"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, and the CLI runner.

PostgreSQL tests use a throw-away schema inside the database named by ANNOTATOR_TEST_POSTGRES_URL
(default: the local server, database `test`) and skip with the reason when it is unreachable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from annotator import db as dbmod
from annotator.settings import get_settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pg_admin_url() -> str:
    return get_settings().test_postgres_url.replace("postgresql+psycopg://", "postgresql://")


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(_pg_admin_url(), connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {get_settings().test_postgres_url}: {exc}".splitlines()[0]


_PG_SKIP: list[str | None] = []


def postgres_skip_reason() -> str | None:
    """Why PostgreSQL tests cannot run here (None when they can); checked once per session."""
    if not _PG_SKIP:
        _PG_SKIP.append(_postgres_reason())
    return _PG_SKIP[0]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from default settings with a database URL of its own."""
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", f"sqlite:///{tmp_path}/default.db")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A URL to an empty database, on each backend; also set as ANNOTATOR_DATABASE_URL for the CLI."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/test.db"
        monkeypatch.setenv("ANNOTATOR_DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
        return
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    base = get_settings().test_postgres_url
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        dbmod.get_engine(url).dispose()
        with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def engine(db_url: str) -> Engine:
    """An engine on a fresh database migrated to head with the real migrations."""
    return dbmod.open_database(db_url)


@pytest.fixture
def runner() -> CliRunner:
    """Runs `annotator` commands in process."""
    return CliRunner()


@pytest.fixture
def shared_data() -> Path:
    """The shared real datasets; tests that need them skip when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present: real-data tests need the shared datasets")
    return SHARED_DATA
