"""File helpers shared by the readers: split names, directory expansion, line and TSV iteration."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from annotator.datasets.types import DatasetFormatError

# File-name words that name a split, and the split name we record for them.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "valid": "dev",
    "validation": "dev",
    "val": "dev",
    "test": "test",
}
_SPLIT_ORDER = {"train": 0, "dev": 1, "test": 2}


def infer_split(path: Path) -> str:
    """The split a file name names (``train``, ``dev`` (also for valid/validation) or ``test``), else ``unknown``."""
    words = re.split(r"[^a-z]+", path.name.lower())
    for word in reversed(words):
        if word in SPLIT_ALIASES:
            return SPLIT_ALIASES[word]
    return "unknown"


def as_names(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Accept one name or several (``"train"``, ``"train,dev"`` or ``["train", "dev"]``) as a tuple."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip().lower() for item in items if item.strip())


def normalise_splits(splits: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Map user-given split names through :data:`SPLIT_ALIASES` (``valid`` means ``dev``)."""
    names = as_names(splits)
    return None if names is None else tuple(SPLIT_ALIASES.get(name, name) for name in names)


def expand(
    path: Path,
    matches: Callable[[Path], bool],
    splits: str | Sequence[str] | None,
    what: str,
) -> list[Path]:
    """The files to read: ``path`` itself, or the matching files of a directory, in train/dev/test order.

    ``splits`` keeps only files whose inferred split is listed; asking for a split with no file (or naming
    a file of another split) is an error.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    wanted = normalise_splits(splits)
    if path.is_file():
        if wanted is not None and infer_split(path) not in wanted:
            raise ValueError(f"{path} is the {infer_split(path)!r} split, not {' or '.join(wanted)}")
        return [path]
    files = [child for child in path.iterdir() if child.is_file() and matches(child)]
    if not files:
        raise FileNotFoundError(f"{path}: no {what} files in this directory")
    files.sort(key=lambda f: (_SPLIT_ORDER.get(infer_split(f), 3), f.name))
    if wanted is None:
        return files
    present = {infer_split(f) for f in files}
    missing = [name for name in wanted if name not in present]
    if missing:
        raise FileNotFoundError(
            f"{path}: no {what} file for split(s) {', '.join(missing)}; present: {', '.join(sorted(present))}"
        )
    return [f for f in files if infer_split(f) in wanted]


def _raw_lines(path: Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 file with their line endings, streaming; bad UTF-8 names the line."""
    line_no = 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                yield line
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                path, line_no + 1, f"not valid UTF-8 at or after this line ({exc.reason})"
            ) from None


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, line ending removed), streaming."""
    for line_no, line in enumerate(_raw_lines(path), start=1):
        yield line_no, line.rstrip("\r\n")


def iter_tsv(path: Path, *, quoted: bool) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each non-blank row of a tab-separated file.

    ``quoted=True`` decodes CSV-style quoting (``"a ""b"" c"``, as pandas and Python's csv write it);
    ``quoted=False`` splits on tabs only, so a text may start with a literal quote.
    """
    if not quoted:
        for line_no, line in read_lines(path):
            if line.strip():
                yield line_no, line.split("\t")
        return
    reader = csv.reader(_raw_lines(path), delimiter="\t", quotechar='"', doublequote=True, strict=True)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise DatasetFormatError(path, reader.line_num, f"bad quoting: {exc}") from None


def check_columns(path: Path, line: int, row: Sequence[str], expected: int) -> None:
    """Raise a :class:`DatasetFormatError` unless ``row`` has exactly ``expected`` tab-separated columns."""
    if len(row) != expected:
        raise DatasetFormatError(path, line, f"expected {expected} tab-separated columns, found {len(row)}")


def chain_files(files: Iterable[Path], read_one: Callable[[Path], Iterator]) -> Iterator:
    """Read several files one after the other, lazily."""
    for file in files:
        yield from read_one(file)


def load_json(path: Path, expected: type, shape: str) -> Any:
    """Load a whole JSON file whose top level must be of type ``expected`` (``shape`` describes it)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, expected):
        raise DatasetFormatError(path, None, f"expected {shape}")
    return data
