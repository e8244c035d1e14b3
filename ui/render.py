"""Small HTML renderings the pages share (pure functions, escaped input)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_BOX = ("<div style='font-size:1.15rem;line-height:1.6;white-space:pre-wrap;padding:0.8rem 1rem;"
        "border:1px solid rgba(128,128,128,0.35);border-radius:0.5rem'>{}</div>")


def highlight_html(text: str, start: int | None, end: int | None) -> str:
    """``text`` as HTML with the span ``[start, end)`` in a <mark>; the text is escaped, never interpreted."""
    return _BOX.format(_marked(text, start, end))


def _marked(text: str, start: int | None, end: int | None) -> str:
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape(text)
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"


_TURN = ("<div style='font-size:1.0rem;line-height:1.5;white-space:pre-wrap;padding:0.3rem 1rem;opacity:0.75'>"
         "<span style='font-size:0.8rem'>turn {turn}</span> <b>{speaker}</b>: {text}</div>")


def dialogue_html(context: Sequence[tuple[int, str | None, str]], turn: int | None, speaker: str | None, text: str,
                  start: int | None, end: int | None, cause_turn: int | None = None) -> str:
    """The turns before a conversation item (``(turn, speaker, text)``, oldest first), muted, then the item
    itself in the box with its speaker and turn; the span ``[start, end)`` is marked in the item, or in the
    earlier turn ``cause_turn``; everything escaped."""
    earlier = "".join(_TURN.format(turn=t, speaker=escape(who or "?"),
                                   text=_marked(said, start, end) if t == cause_turn else escape(said))
                      for t, who, said in context)
    label = f"<div style='font-size:0.8rem;padding:0.4rem 0 0.1rem'>turn {turn} · <b>{escape(speaker or '?')}</b>" \
            " (the turn to label)</div>"
    if cause_turn is not None:
        return earlier + label + highlight_html(text, None, None)
    return earlier + label + highlight_html(text, start, end)
