"""Snow et al. (2008) MTurk affect ratings of SemEval-2007 headlines (a folder of TSV files).

``headlines.tsv`` (``id, headline``) plus one ``<dimension>.standardized.tsv`` per dimension with columns
``!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold``. Emotions are rated 0..100, valence
-100..100; ``gold`` is the SemEval-2007 expert score.

One :class:`DatasetRow` per headline (id = the headline id, split ``all``), with ``emotions=None`` and
``intensity=None``; the ratings are in ``meta``:

* ``meta["ratings"]``: ``{dimension: [(worker_id, response), ...]}`` in file order;
* ``meta["gold"]``: ``{dimension: gold}``;
* ``meta["annotation_ids"]``: ``{dimension: [amt annotation id, ...]}`` aligned with the ratings;
* ``meta["scales"]``: ``{dimension: (low, high)}``.

The files must be read together, so the dimension files (small) are loaded into memory; headlines stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from annotator.datasets._io import as_names, check_columns, iter_tsv
from annotator.datasets.types import DatasetFormatError, DatasetRow

TAXONOMY = "ekman"
DIMENSIONS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "valence")
SCALES: dict[str, tuple[int, int]] = {dim: (0, 100) for dim in DIMENSIONS} | {"valence": (-100, 100)}
HEADLINES = "headlines.tsv"
SUFFIX = ".standardized.tsv"
RATING_COLUMNS = ("!amt_annotation_ids", "!amt_worker_ids", "orig_id", "response", "gold")


def _number(path: Path, line: int, column: str, cell: str) -> int | float:
    try:
        value = float(cell)
    except ValueError:
        raise DatasetFormatError(path, line, f"{column} must be a number, got {cell!r}") from None
    return int(value) if value.is_integer() else value


def read(path: Path, *, dimensions: str | Sequence[str] | None = None) -> Iterator[DatasetRow]:
    """Stream headline examples with per-worker ratings from the Snow 2008 folder.

    ``path`` is the folder, its ``headlines.tsv``, or one ``<dimension>.standardized.tsv`` (which then
    defaults ``dimensions`` to that one). ``dimensions`` (default: every file present) picks the ratings read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    folder = path if path.is_dir() else path.parent
    if path.is_file() and path.name.endswith(SUFFIX) and dimensions is None:
        dimensions = path.name[: -len(SUFFIX)]
    wanted = as_names(dimensions)
    present = [dim for dim in DIMENSIONS if (folder / f"{dim}{SUFFIX}").is_file()]
    if wanted is None:
        wanted = tuple(present)
    unknown = [dim for dim in wanted if dim not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown Snow 2008 dimension(s) {unknown}; valid: {', '.join(DIMENSIONS)}")
    missing = [dim for dim in wanted if dim not in present]
    if missing:
        raise FileNotFoundError(f"{folder}: no {', '.join(f'{dim}{SUFFIX}' for dim in missing)}")
    headlines = folder / HEADLINES
    if not headlines.is_file():
        raise FileNotFoundError(f"{folder}: no {HEADLINES} (the headline texts)")

    ratings = {dim: _read_ratings(folder / f"{dim}{SUFFIX}") for dim in wanted}
    known = {row[0].strip() for _, row in iter_tsv(headlines, quoted=False) if row}
    for dim, by_item in ratings.items():
        orphans = sorted(set(by_item) - known)
        if orphans:
            raise DatasetFormatError(
                folder / f"{dim}{SUFFIX}", None, f"ratings for headline id(s) missing from {HEADLINES}: {orphans[:10]}"
            )
    return _read_headlines(headlines, ratings)


def _read_headlines(path: Path, ratings: dict[str, dict[str, dict[str, Any]]]) -> Iterator[DatasetRow]:
    rows = iter_tsv(path, quoted=False)
    header_line, header = next(rows, (1, []))
    if [name.strip().lower() for name in header] != ["id", "headline"]:
        raise DatasetFormatError(path, header_line, f"expected the header 'id<TAB>headline', got {header!r}")
    for line, row in rows:
        check_columns(path, line, row, 2)
        item_id, text = row[0].strip(), row[1]
        per_dim = {dim: by_item.get(item_id) for dim, by_item in ratings.items()}
        meta: dict[str, Any] = {
            "ratings": {dim: list(r["ratings"]) if r else [] for dim, r in per_dim.items()},
            "gold": {dim: r["gold"] if r else None for dim, r in per_dim.items()},
            "annotation_ids": {dim: list(r["annotation_ids"]) if r else [] for dim, r in per_dim.items()},
            "scales": {dim: SCALES[dim] for dim in per_dim},
            "source_line": line,
        }
        yield DatasetRow(
            id=item_id, text=text, emotions=None, intensity=None, cause=None, taxonomy=TAXONOMY, split="all", meta=meta
        )


def _read_ratings(path: Path) -> dict[str, dict[str, Any]]:
    """``{headline id: {"ratings": [(worker, response)], "annotation_ids": [...], "gold": gold}}``."""
    dim = path.name[: -len(SUFFIX)]
    low, high = SCALES[dim]
    rows = iter_tsv(path, quoted=False)
    header_line, header = next(rows, (1, []))
    if tuple(name.strip().lower() for name in header) != RATING_COLUMNS:
        raise DatasetFormatError(path, header_line, f"expected the header {', '.join(RATING_COLUMNS)}, got {header!r}")
    by_item: dict[str, dict[str, Any]] = {}
    for line, row in rows:
        check_columns(path, line, row, len(RATING_COLUMNS))
        annotation_id, worker, item_id, response, gold = (cell.strip() for cell in row)
        value = _number(path, line, "response", response)
        gold_value = _number(path, line, "gold", gold)
        if not low <= value <= high:
            raise DatasetFormatError(path, line, f"response {value} is outside the {dim} scale {low}..{high}")
        entry = by_item.setdefault(item_id, {"ratings": [], "annotation_ids": [], "gold": gold_value})
        if entry["gold"] != gold_value:
            raise DatasetFormatError(
                path, line, f"headline {item_id}: gold {gold_value} differs from {entry['gold']} above"
            )
        entry["ratings"].append((worker, value))
        entry["annotation_ids"].append(annotation_id)
    return by_item
