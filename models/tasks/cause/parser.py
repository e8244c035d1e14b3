"""Pure helpers for cause spans."""

from __future__ import annotations


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding whitespace (may become empty)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def as_cause(text: str, span: tuple[int, int] | None) -> tuple[int, int, str] | None:
    """(start, end, text[start:end]) for a non-empty span inside ``text``, else ``None``."""
    if span is None:
        return None
    start, end = span
    if not 0 <= start < end <= len(text):
        return None
    return start, end, text[start:end]
