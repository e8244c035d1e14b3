"""GoEmotions (Demszky et al., 2020): ``{train,dev,test}.tsv``.

Rows are ``text <TAB> label ids <TAB> comment id`` with no header; label ids are comma-separated 0-based
indices into ``emotions.txt`` (27 emotions + ``neutral``). The official files are CSV-quoted (a text with a
``"`` is written as ``"... ""x"" ..."``), so quoting is decoded. Labels come from ``emotions.txt`` (or the
``labels.txt`` some copies ship) next to the data file, else from the built-in ``goemotions`` taxonomy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from annotator.datasets._io import chain_files, check_columns, expand, infer_split, iter_tsv, read_lines
from annotator.datasets.types import LABEL_ERROR, DatasetFormatError, DatasetRow
from annotator.taxonomy import get_taxonomy

TAXONOMY = "goemotions"
LABEL_FILES = ("emotions.txt", "labels.txt")


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".tsv" and infer_split(path) != "unknown"


def load_labels(folder: Path) -> tuple[str, ...]:
    """The label list for files in ``folder``: its ``emotions.txt``/``labels.txt``, else the built-in one."""
    for name in LABEL_FILES:
        candidate = folder / name
        if candidate.is_file():
            labels = tuple(line.strip().lower() for _, line in read_lines(candidate) if line.strip())
            if not labels:
                raise DatasetFormatError(candidate, None, "label file is empty")
            return labels
    return get_taxonomy(TAXONOMY).labels


def read(
    path: Path,
    *,
    splits: str | Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> Iterator[DatasetRow]:
    """Stream GoEmotions examples from a ``.tsv`` file, or from a folder's ``train``/``dev``/``test`` files.

    ``splits`` picks files of a folder (default: every split present, in train, dev, test order).
    ``labels`` overrides the label list found next to the files. The taxonomy is ``goemotions`` when the
    labels are the built-in 28, else ``custom``.
    """
    files = expand(Path(path), _is_data_file, splits, "GoEmotions .tsv")
    chosen = {file: tuple(labels) if labels is not None else load_labels(file.parent) for file in files}
    return chain_files(files, lambda file: _read_file(file, chosen[file]))


def _read_file(path: Path, labels: tuple[str, ...]) -> Iterator[DatasetRow]:
    taxonomy = TAXONOMY if labels == get_taxonomy(TAXONOMY).labels else "custom"
    split = infer_split(path)
    for line, row in iter_tsv(path, quoted=True):
        check_columns(path, line, row, 3)
        text, ids, comment_id = row
        emotions: tuple[str, ...] | None = None
        meta: dict[str, str] = {}
        if ids.strip():
            try:
                indices = [int(part) for part in ids.split(",")]
            except ValueError:
                raise DatasetFormatError(
                    path, line, f"label ids must be comma-separated integers, got {ids!r}"
                ) from None
            bad = [index for index in indices if not 0 <= index < len(labels)]
            if bad:  # a gold label we cannot name: keep the text, drop the label, say why
                meta[LABEL_ERROR] = f"line {line}: label id(s) {bad} outside 0..{len(labels) - 1}"
            else:
                emotions = tuple(labels[index] for index in indices)
        yield DatasetRow(
            id=comment_id.strip(),
            text=text,
            emotions=emotions,
            intensity=None,
            cause=None,
            taxonomy=taxonomy,
            split=split,
            meta={"source_line": line, **meta},
        )
