"""Alembic environment: the URL and connection come from annotator.db / annotator.settings."""

from alembic import context
from sqlalchemy import create_engine

from annotator.db import normalize_url
from annotator.settings import get_settings
from annotator.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalize_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
