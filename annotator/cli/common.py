"""What every command shares: opening the database and turning known errors into clear exits."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from annotator.db import DatabaseError, open_database
from annotator.ingest.sources import SourceError
from annotator.repo import NotFound
from annotator.taxonomy import TaxonomyError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line however narrow the terminal

# Exceptions whose message is written for the user; anything else is a bug and keeps its traceback.
USER_ERRORS = (DatabaseError, NotFound, SourceError, TaxonomyError, ValueError)
# A path the user named that is a folder, not a folder, not theirs to read or write, on a full or read-only disk:
# any OSError that names a file is about the user's paths, not a bug (network errors name no file).
PATH_ERRORS = (OSError,)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for the user and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # e.g. "pip install 'x[y]'"
    return typer.Exit(code)


def user_errors(func: F) -> F:
    """Turn the errors a user can act on into a one-line message and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            raise fail(str(exc)) from None
        except PATH_ERRORS as exc:
            if exc.filename:
                raise fail(path_message(exc)) from None
            if isinstance(exc, FileNotFoundError):  # ours, with its message: "no such file: x"
                raise fail(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


def path_message(exc: OSError) -> str:
    """``<path>: is a directory`` and the like, naming what to pass instead."""
    what = {IsADirectoryError: "is a folder; pass a file", NotADirectoryError: "is not a folder",
            PermissionError: "cannot be read or written (permission denied)",
            FileExistsError: "already exists"}.get(type(exc), (exc.strerror or str(exc)).lower())
    return f"{exc.filename}: {what}" if exc.filename else str(exc)


def check_errors_out(errors_out: object, source: str) -> None:
    """Refuse an --errors-out that is the input itself: opening it for writing would empty the input."""
    if errors_out is None:
        return
    target = os.fspath(errors_out)  # type: ignore[call-overload]
    if target == "-":
        raise ValueError("--errors-out names a file: standard output carries the summary")
    if source in ("-", "") or not os.path.exists(source):
        return
    if os.path.exists(target) and os.path.samefile(target, source):
        raise ValueError(f"--errors-out {target} is the input file: writing the rejected rows there would erase "
                         "it; name another file")


def database() -> Engine:
    """The configured database with its schema at head (upgraded if ANNOTATOR_AUTO_MIGRATE is on)."""
    return open_database()



def report_rejections(reasons: Counter[str], meanings: dict[str, str], errors_out: object, noun: str) -> None:
    """Print the rejected-{noun}s table and where the rejected {noun}s went (the ingest-errors table, --errors-out)."""
    table = Table("reason", f"{noun}s", "meaning", title=f"rejected {noun}s")
    for reason, n in reasons.most_common():
        table.add_row(escape(reason), f"{n:,}", escape(meanings.get(reason, "")))  # "[start, end]" is text
    console.print(table)
    where = f"written to {errors_out}" if errors_out else "pass --errors-out FILE to get them back"
    console.print(f"rejected {noun}s are kept in the ingest_errors table; {where}")
