"""`annotator user`: dashboard accounts."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from annotator.cli.common import console, database, user_errors
from annotator.correct.users import ROLES, add_user, list_users, set_password
from annotator.db import session_scope

app = typer.Typer(no_args_is_help=True, help="Dashboard accounts (`annotator ui`): add, list, change passwords.")


def _read_password(password: str | None, from_stdin: bool) -> str:
    """The password from stdin (one line), from --password, or from a hidden, confirmed prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


_STDIN_HELP = "Read the password from the first line of standard input (for scripts)."
_PASSWORD_HELP = ("The password itself. Avoid it: it shows in `ps` and the shell history; "
                  "prefer --password-stdin or the prompt.")


@app.command("add")
@user_errors
def add_cmd(
    name: str = typer.Argument(..., help="Login name; corrections are stored under it."),
    role: str = typer.Option("annotator", "--role", "-r", help=f"One of: {', '.join(ROLES)}. Reviewers (and admins) "
                             "adjudicate disagreements; admins can retrain, promote and roll back adapters."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
    password: str = typer.Option(None, "--password", help=_PASSWORD_HELP),
) -> None:
    """Add a dashboard account. Without --password-stdin the password is asked for, hidden.

    Example: printf '%s\\n' "$PW" | annotator user add alice --role admin --password-stdin
    """
    secret = _read_password(password, password_stdin)
    with session_scope(database()) as db:
        user = add_user(db, name, secret, role)
        console.print(f"user [bold]{user.name}[/] added ({user.role})")


@app.command("passwd")
@user_errors
def passwd_cmd(
    name: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
    password: str = typer.Option(None, "--password", help=_PASSWORD_HELP),
) -> None:
    """Set a new password for an account.

    Example: annotator user passwd alice
    """
    secret = _read_password(password, password_stdin)
    with session_scope(database()) as db:
        set_password(db, name, secret)
        console.print(f"password of [bold]{name}[/] changed")


@app.command("list")
@user_errors
def list_cmd() -> None:
    """List dashboard accounts with their role and whether they are active.

    Example: annotator user list
    """
    table = Table("name", "role", "active", "created")
    with session_scope(database()) as db:
        for u in list_users(db):
            table.add_row(u.name, u.role, "yes" if u.active else "no", u.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)
