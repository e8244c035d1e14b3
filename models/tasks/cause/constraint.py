"""Constrained decoding that can only spell a substring of the text (or "none").

Works on bytes, so any byte-level or sentencepiece vocabulary is handled and any output maps back to
exact character offsets. The answer after "cause:" is either ``b" none"`` or ``b" " + text[s:e]`` for a
span starting at a non-space character and ending on a character boundary; then eos.
"""

from __future__ import annotations

from typing import Sequence

from models.tokens import Codec

NONE = " none"
LEAD = b" "


class SubstringConstraint:
    """Allowed next tokens for the cause answer of one text (implements ``backends.base.Constraint``)."""

    def __init__(self, text: str, codec: Codec) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.none = NONE.encode("utf-8")
        self._vocab = codec.token_bytes
        self._id_bytes = codec.id_bytes
        self._maxlen = codec.max_token_bytes
        self.stop_ids = frozenset({codec.eos_id})
        self._char_at: dict[int, int] = {}  # byte offset of each char boundary -> char index
        offset = 0
        for index, char in enumerate(text):
            self._char_at[offset] = index
            offset += len(char.encode("utf-8"))
        self._char_at[offset] = len(text)
        self._starts = [b for b, c in self._char_at.items() if c < len(text) and not text[c].isspace()]

    def engine_spec(self) -> dict:
        """How another process (vLLM's engine) rebuilds this constraint: factory and JSON kwargs; it adds the codec."""
        return {"factory": f"{__name__}:{type(self).__name__}", "kwargs": {"text": self.text}}

    def emitted_bytes(self, emitted: Sequence[int]) -> bytes:
        """The bytes spelled by the emitted tokens."""
        return b"".join(self._id_bytes.get(t, b"\xff") for t in emitted)  # \xff never matches UTF-8 text

    def _matching_starts(self, spelled: bytes) -> list[int]:
        if len(spelled) <= len(LEAD):
            return self._starts if LEAD.startswith(spelled) else []
        if not spelled.startswith(LEAD):
            return []
        body = spelled[len(LEAD) :]
        return [s for s in self._starts if self.data.startswith(body, s)]

    def allowed(self, emitted: Sequence[int]) -> list[int]:
        """Tokens that keep the answer a prefix of " none" or of " " + a substring; eos where it may end."""
        spelled = self.emitted_bytes(emitted)
        rests: set[bytes] = set()
        can_stop = False
        if self.none.startswith(spelled):
            rest = self.none[len(spelled) :]
            can_stop |= not rest
            if rest:
                rests.add(rest)
        for start in self._matching_starts(spelled):
            consumed = max(0, len(spelled) - len(LEAD))
            end = start + consumed
            if consumed and end in self._char_at:
                can_stop = True
            rest = (LEAD[len(spelled) :] if len(spelled) < len(LEAD) else b"") + self.data[end : end + self._maxlen]
            if rest:
                rests.add(rest)
        tokens = {
            token
            for rest in rests
            for n in range(1, min(self._maxlen, len(rest)) + 1)
            if (token := self._vocab.get(rest[:n])) is not None
        }
        if can_stop:
            tokens |= self.stop_ids
        return sorted(tokens)

    def span(self, emitted: Sequence[int]) -> tuple[int, int] | None:
        """Character span of the decoded answer in the text, whitespace-trimmed; ``None`` for "none"/empty.

        A decode cut by the length limit mid-character is shortened to the last whole character. When the
        spelled text occurs several times, the first occurrence is used.
        """
        spelled = self.emitted_bytes(emitted)
        if spelled == self.none:
            return None
        starts = self._matching_starts(spelled)
        if not starts or len(spelled) <= len(LEAD):
            return None
        start = starts[0]
        end = start + len(spelled) - len(LEAD)
        while end not in self._char_at:
            end -= 1
        first, last = self._char_at[start], self._char_at[end]
        while last > first and self.text[last - 1].isspace():
            last -= 1
        return (first, last) if last > first else None
