"""The text an item's cause spans are compared in: its own text, or for a turn of a conversation, the
turns up to and including it.

A cause may lie in an earlier turn of the item's conversation (stored as that turn and offsets into its
text). To compare causes wherever they lie, span agreement and the token-majority consensus work on one
string per item: the conversation's turns from the first up to the item, joined by newlines. A lone item's
string is its own text, so nothing changes for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.agree.spans import Span

SEPARATOR = "\n"


@dataclass(frozen=True)
class CauseText:
    """One item's cause string and where each of its turns starts in it (the item's own text last)."""

    text: str
    turns: tuple[tuple[int | None, int, int], ...]  # (turn or None for a lone item, start, end) in ``text``

    @classmethod
    def lone(cls, text: str) -> CauseText:
        """The cause string of an item outside any conversation: its own text."""
        return cls(text, ((None, 0, len(text)),))

    @classmethod
    def conversation(cls, turns: list[tuple[int, str]]) -> CauseText:
        """The cause string of a conversation turn from ``(turn, text)`` of every turn up to it, in turn order."""
        parts, bounds, at = [], [], 0
        for turn, text in turns:
            parts.append(text)
            bounds.append((turn, at, at + len(text)))
            at += len(text) + len(SEPARATOR)
        return cls(SEPARATOR.join(parts), tuple(bounds))

    @property
    def own_text(self) -> str:
        """The item's own text (the last part of the string)."""
        _, lo, hi = self.turns[-1]
        return self.text[lo:hi]

    @property
    def own_turn(self) -> int | None:
        """The item's own turn (None for a lone item)."""
        return self.turns[-1][0]

    def span(self, start: int | None, end: int | None, turn: int | None = None) -> Span | None:
        """A stored cause (offsets into ``turn``'s text, or the item's own text for None) in this string;
        None for no cause or a turn this string does not hold."""
        if start is None or end is None:
            return None
        for t, lo, _ in self.turns:
            if t == (self.own_turn if turn is None else turn):
                return lo + int(start), lo + int(end)
        return None

    def locate(self, span: Span | None) -> tuple[int | None, int, int] | None:
        """A span of this string back as ``(turn, start, end)`` in that turn's text (turn None: the item's own
        text); the turn holding the span's start, the end clipped to it. None for no span."""
        if span is None:
            return None
        for t, lo, hi in self.turns:
            if lo <= span[0] < hi:
                return (None if t == self.own_turn else t), span[0] - lo, min(span[1], hi) - lo
        return None
