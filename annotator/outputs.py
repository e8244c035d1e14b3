"""Files a command writes for the user (exports, rejected rows): one rule for all of them."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

STDOUT = "-"


@contextmanager
def open_output(path: Path | str, binary: bool = False, **text_options: Any) -> Iterator[IO[Any]]:
    """Open ``path`` for writing; ``-`` is standard output.

    Missing parent folders are created. A regular file appears whole: it is written beside its target and
    renamed over it at the end, so a write that fails (disk full, interrupted) leaves an earlier file as it was
    and no half-written one behind. Anything else that exists (a device, a pipe such as ``/dev/stdout`` or a
    shell's ``>(...)``) is written in place. An OSError while writing names ``path`` (a full disk says which
    file), so the command can report it in one line.
    """
    mode = "wb" if binary else "w"
    options = {} if binary else {"encoding": "utf-8", **text_options}
    if str(path) == STDOUT:
        stream = sys.stdout.buffer if binary else sys.stdout
        try:
            yield stream
            stream.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`): nothing more to write, nowhere to say so
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise _naming(BrokenPipeError(errno.EPIPE, "the reader closed the pipe"), "standard output") from None
        return
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
    in_place = target.exists() and not target.is_file()
    if not in_place:
        target.parent.mkdir(parents=True, exist_ok=True)
    written = target if in_place else target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(written, mode, **options) as handle:
            yield handle
        if not in_place:
            os.replace(written, target)
    except OSError as exc:
        raise _naming(exc, str(target)) from None
    finally:
        if not in_place:
            written.unlink(missing_ok=True)


def _naming(exc: OSError, filename: str) -> OSError:
    """``exc`` about ``filename`` (the file the user named, not our temporary one)."""
    return type(exc)(exc.errno, exc.strerror, filename)
