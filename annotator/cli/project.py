"""`annotator project`: create and list projects, and show the built-in taxonomies."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from annotator import repo
from annotator.cli.common import console, database, user_errors
from annotator.db import session_scope
from annotator.projects.service import ProjectExists, create_project, resolve_taxonomy
from annotator.taxonomy import BUILTIN, get_taxonomy

app = typer.Typer(no_args_is_help=True, help="Projects: a corpus plus the emotion taxonomy it is labelled with.")


@app.command("create")
@user_errors
def create_cmd(
    name: str = typer.Argument(..., help="Project name."),
    taxonomy: str = typer.Option(None, "--taxonomy", "-t",
                                 help=f"Built-in taxonomy: {', '.join(BUILTIN)} (default goemotions), "
                                 "or a name for your own labels."),
    labels: str = typer.Option(None, "--labels", help="Your own labels, comma-separated: joy,anger,fear."),
    labels_file: Path = typer.Option(None, "--labels-file", exists=True, dir_okay=False,
                                     help="Your own labels, one a line."),
    overlap: int = typer.Option(1, "--overlap", min=1, help="Human annotations wanted per item."),
    exist_ok: bool = typer.Option(False, "--exist-ok", help="Succeed if it already exists with the same labels."),
) -> None:
    """Create a project.

    Example: annotator project create reddit --taxonomy goemotions
    """
    tax = resolve_taxonomy(taxonomy, labels.split(",") if labels is not None else None, labels_file)
    with session_scope(database()) as db:
        try:
            project = create_project(db, name, tax, {"overlap": overlap}, exist_ok=exist_ok)
        except ProjectExists as exc:
            hint = "pick another name" if exist_ok else "pick another name, or pass --exist-ok to reuse it"
            raise ValueError(f"{exc}; {hint}") from None
        console.print(f"project [bold]{project.name}[/]: taxonomy {project.taxonomy} ({len(project.labels)} labels)")


@app.command("list")
@user_errors
def list_cmd() -> None:
    """List projects."""
    table = Table("name", "taxonomy", "labels", "created")
    with session_scope(database()) as db:
        for p in repo.list_projects(db):
            table.add_row(p.name, p.taxonomy, str(len(p.labels)), p.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("taxonomies")
def taxonomies_cmd() -> None:
    """Show the built-in emotion taxonomies and their labels."""
    table = Table("name", "labels", "description")
    for name, description in BUILTIN.items():
        table.add_row(name, ", ".join(get_taxonomy(name).labels), description)
    console.print(table)
