"""`annotator db`: schema migrations."""

from __future__ import annotations

import typer

from annotator.cli.common import console, user_errors
from annotator.db import current_revision, downgrade, get_engine, head_revision, upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema: upgrade, show the revision, downgrade.")


@app.command("upgrade")
@user_errors
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (default: the newest).

    Example: ANNOTATOR_DATABASE_URL=postgresql://user@host/db annotator db upgrade
    """
    engine = get_engine()
    upgrade(engine, revision)
    console.print(f"database at revision {current_revision(engine)} ({engine.url.render_as_string(hide_password=True)})")


@app.command("current")
@user_errors
def current_cmd() -> None:
    """Show the database's revision and the newest one this version ships."""
    engine = get_engine()
    console.print(f"current: {current_revision(engine) or 'empty'}  head: {head_revision()}")


@app.command("downgrade")
@user_errors
def downgrade_cmd(revision: str = typer.Argument(..., help="Target revision, or 'base' to drop everything.")) -> None:
    """Undo migrations down to REVISION (data in dropped tables is lost)."""
    engine = get_engine()
    downgrade(engine, revision)
    console.print(f"database at revision {current_revision(engine) or 'base'}")
