"""Small HTML renderings the pages share (pure functions, escaped input)."""

from __future__ import annotations

from html import escape

_BOX = ("<div style='font-size:1.15rem;line-height:1.6;white-space:pre-wrap;padding:0.8rem 1rem;"
        "border:1px solid rgba(128,128,128,0.35);border-radius:0.5rem'>{}</div>")


def highlight_html(text: str, start: int | None, end: int | None) -> str:
    """``text`` as HTML with the span ``[start, end)`` in a <mark>; the text is escaped, never interpreted."""
    if start is None or end is None or not 0 <= start < end <= len(text):
        return _BOX.format(escape(text))
    return _BOX.format(f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}")
