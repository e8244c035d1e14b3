"""Migrations on SQLite and PostgreSQL: upgrade, downgrade, auto-upgrade and the message when it is off."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from annotator import db as dbmod
from annotator.cli.main import app
from annotator.settings import get_settings
from annotator.tables import Base


def test_migrations_match_the_tables_and_downgrade_cleanly(db_url):
    engine = dbmod.get_engine(db_url)
    dbmod.upgrade(engine)
    assert dbmod.current_revision(engine) == dbmod.head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    dbmod.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    dbmod.upgrade(engine)
    assert {"items", "predictions", "annotations", "ingest_errors"} <= set(inspect(engine).get_table_names())


def test_commands_upgrade_an_empty_database_automatically(db_url, runner):
    result = runner.invoke(app, ["project", "create", "p", "--taxonomy", "ekman"])
    assert result.exit_code == 0, result.output
    assert dbmod.current_revision(dbmod.get_engine(db_url)) == dbmod.head_revision()


def test_without_auto_migrate_commands_say_what_to_run(db_url, runner, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_AUTO_MIGRATE", "false")
    get_settings.cache_clear()
    dbmod._ready.clear()
    result = runner.invoke(app, ["project", "list"])
    assert result.exit_code == 2
    assert "annotator db upgrade" in result.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["project", "list"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"])
    assert dbmod.head_revision() in current.output


def test_unreachable_database_is_a_clear_error(runner, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    result = runner.invoke(app, ["project", "list"])
    assert result.exit_code == 2
    assert "cannot connect" in result.output and "ANNOTATOR_DATABASE_URL" in result.output


@pytest.mark.parametrize("url,expected", [
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_plain_postgres_urls_use_psycopg3(url, expected):
    assert dbmod.normalize_url(url) == expected
