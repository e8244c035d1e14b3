"""Text <-> token ids for tasks: chat-prompt splitting, choice branches, the byte form of every token.

Tasks speak text ("anger:" + " yes"); this module turns that text into the token ids a backend runs, the
same way for inference, SFT and (later) DPO. Prompt pieces are tokenized separately and concatenated
(``prefix | text + turn end | branch stem | answer``), which is also how trl tokenizes prompt/completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

_SENTINEL = "\x00EMO_TEXT\x00"


@dataclass(frozen=True)
class ChatPrompt:
    """A chat prompt split around the user text: ``prefix + text + suffix`` is the rendered template."""

    prefix: str  # system turn + user turn start: identical for every item, so its KV is computed once
    suffix: str  # user turn end + assistant turn start


class Codec:
    """Wraps a Hugging Face tokenizer with the few operations tasks and training need."""

    def __init__(self, tokenizer: "PreTrainedTokenizerBase") -> None:
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the tokenizer has no eos token; it is needed to end a decoded answer")
        self.eos_id: int = int(eos)
        self.pad_id: int = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)
        self._choice_cache: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def encode(self, text: str) -> tuple[int, ...]:
        """Token ids of ``text`` (special-token strings such as ``<|im_end|>`` are recognised)."""
        return tuple(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        return self.tokenizer.decode(list(ids))

    def chat_prompt(self, system: str) -> ChatPrompt:
        """Render the chat template (system, user, assistant start) and split it around the user text."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": _SENTINEL}]
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if rendered.count(_SENTINEL) != 1:
            raise ValueError("the chat template must place the user text exactly once")
        prefix, suffix = rendered.split(_SENTINEL)
        return ChatPrompt(prefix=prefix, suffix=suffix)

    def choice_branch(self, stem: str, choices: Sequence[str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Branch ids and one answer token per choice, such that ``stem + choice`` tokenizes as branch + token.

        Each full string is tokenized; the branch is their longest common token prefix and every choice
        must then be exactly one more token. E.g. "intensity: 7" -> ["intensity", ":", " "] + ["7"].
        """
        key = (stem, tuple(choices))
        if key in self._choice_cache:
            return self._choice_cache[key]
        full = [self.encode(stem + choice) for choice in choices]
        common = 0
        while all(len(ids) > common for ids in full) and len({ids[common] for ids in full}) == 1:
            common += 1
        if any(len(ids) != common + 1 for ids in full):
            raise ValueError(f"choices {list(choices)!r} after {stem!r} are not one distinct token each")
        self._choice_cache[key] = (full[0][:common], tuple(ids[common] for ids in full))
        return self._choice_cache[key]

    def completion_ids(self, stem: str, answer: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(branch ids, answer ids) for a free-form answer; the answer ends with eos."""
        stem_ids = self.encode(stem)
        full = self.encode(stem + answer)
        if full[: len(stem_ids)] != stem_ids:  # merge across the boundary: keep the stem's own tokens
            full = stem_ids + self.encode(answer)
        return stem_ids, full[len(stem_ids) :] + (self.eos_id,)

    @cached_property
    def token_bytes(self) -> dict[bytes, int]:
        """Raw bytes of every ordinary (non-special) token -> its id; the lowest id wins a tie."""
        special = set(self.tokenizer.all_special_ids) | set(getattr(self.tokenizer, "added_tokens_decoder", {}))
        pieces = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        byte_level = _is_byte_level(pieces)
        table: dict[bytes, int] = {}
        for token_id, piece in enumerate(pieces):
            if token_id in special or piece is None:
                continue
            raw = _byte_level_bytes(piece) if byte_level else _sentencepiece_bytes(piece)
            if raw:
                table.setdefault(raw, token_id)
        return table

    @cached_property
    def id_bytes(self) -> dict[int, bytes]:
        """Inverse of :attr:`token_bytes`."""
        return {token_id: raw for raw, token_id in self.token_bytes.items()}

    @cached_property
    def max_token_bytes(self) -> int:
        """Length in bytes of the longest ordinary token."""
        return max(len(raw) for raw in self.token_bytes)


def _gpt2_unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode table used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes)}


_U2B = _gpt2_unicode_to_byte()


def _is_byte_level(pieces: Sequence[str | None]) -> bool:
    sample = [p for p in pieces[:5000] if p]
    return any("Ġ" in p for p in sample) and all(ch in _U2B for p in sample[-1000:] for ch in p)


def _byte_level_bytes(piece: str) -> bytes:
    if not all(ch in _U2B for ch in piece):
        return b""
    return bytes(_U2B[ch] for ch in piece)


def _sentencepiece_bytes(piece: str) -> bytes:
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return bytes([int(piece[3:5], 16)])
    return piece.replace("▁", " ").encode("utf-8")
