"""Emotion taxonomies as data.

The built-in taxonomies live one label a line in ``annotator/taxonomies/<name>.txt``; a project may
also bring its own list. A project stores the taxonomy name and its labels, so later edits to the
files never change an existing project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

BUILTIN = {
    "goemotions": "GoEmotions: 27 emotions + neutral (Demszky et al., 2020)",
    "semeval_ec": "SemEval-2018 Task 1 E-c: 11 emotions (Mohammad et al., 2018)",
    "ekman": "Ekman's 6 basic emotions",
    "plutchik": "Plutchik's 8 primary emotions",
}
ALIASES = {"semeval": "semeval_ec", "semeval2018": "semeval_ec", "e-c": "semeval_ec", "goemotions28": "goemotions"}
_LABEL = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
MAX_LABELS = 500  # a label set larger than this is a wrong file, not a taxonomy (and would not fit any screen)
MAX_LABELS_FILE_BYTES = 64 * 1024


class TaxonomyError(ValueError):
    """A taxonomy name or label list that cannot be used."""


@dataclass(frozen=True)
class Taxonomy:
    """A named, ordered list of emotion labels."""

    name: str
    labels: tuple[str, ...]

    def __contains__(self, label: object) -> bool:
        return label in self.labels


def _read_builtin(name: str) -> tuple[str, ...]:
    text = resources.files("annotator").joinpath("taxonomies", f"{name}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def validate_labels(labels: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Normalise a user-supplied label list (lower-case, stripped) and refuse empty or duplicate labels."""
    cleaned = tuple(label.strip().lower() for label in labels if label.strip())
    if len(cleaned) < 2:
        raise TaxonomyError("a taxonomy needs at least two labels")
    if len(cleaned) > MAX_LABELS:
        raise TaxonomyError(f"a taxonomy has at most {MAX_LABELS} labels, got {len(cleaned):,}")
    bad = [label for label in cleaned if not _LABEL.match(label)]
    if bad:
        raise TaxonomyError(
            f"labels must be lower-case words of at most 64 letters, digits, '_' or '-', got: "
            f"{', '.join(label[:40] for label in bad[:5])}{' ...' if len(bad) > 5 else ''}"
        )
    dupes = sorted({label for label in cleaned if cleaned.count(label) > 1})
    if dupes:
        raise TaxonomyError(f"duplicate labels: {', '.join(dupes)}")
    return cleaned


def get_taxonomy(name: str) -> Taxonomy:
    """Return a built-in taxonomy by name (``goemotions``, ``semeval_ec``, ``ekman``, ``plutchik``)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in BUILTIN:
        raise TaxonomyError(
            f"unknown taxonomy {name!r}; built-in: {', '.join(BUILTIN)} "
            "(or pass your own labels with --labels a,b,c or --labels-file FILE)"
        )
    return Taxonomy(key, _read_builtin(key))


def custom_taxonomy(labels: list[str] | tuple[str, ...], name: str = "custom") -> Taxonomy:
    """Build a user-supplied taxonomy from a list of labels."""
    return Taxonomy(name, validate_labels(labels))


def taxonomy_from_file(path: Path, name: str = "custom") -> Taxonomy:
    """Read a user taxonomy: one label a line (blank lines and ``#`` comments ignored)."""
    with open(path, "rb") as handle:  # bounded: a labels file named by mistake may be huge (or /dev/zero)
        raw = handle.read(MAX_LABELS_FILE_BYTES + 1)
    if len(raw) > MAX_LABELS_FILE_BYTES:
        raise TaxonomyError(f"{path}: a labels file is at most {MAX_LABELS_FILE_BYTES // 1024} KiB (one label a line); "
                            "is this the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TaxonomyError(f"{path}: not a UTF-8 text file (one label a line)") from None
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return custom_taxonomy(lines, name=name)
