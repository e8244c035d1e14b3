"""Items as token ids, and batches of them, for the one-pass readout.

An item is ``prefix + text tokens + suffix`` (by default the tokenizer's bos and eos tokens): no
instruction, so a forward pass costs the text and two tokens. Each text token keeps the character span it
came from, which is how a cause pointer over tokens becomes character offsets that are always a substring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

DEFAULT_MAX_TEXT_TOKENS = 256


@dataclass(frozen=True)
class ItemTokens:
    """One item's token ids and, for each text token, its ``(start, end)`` characters in the text."""

    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    first: int  # index in ``ids`` of the first text token (the prefix length)

    @property
    def n_text(self) -> int:
        """How many text tokens the item has (after truncation)."""
        return len(self.offsets)


class ItemEncoder:
    """Tokenizes texts into :class:`ItemTokens` the same way for training and labeling."""

    def __init__(self, tokenizer: "PreTrainedTokenizerBase", prefix: Sequence[int], suffix: Sequence[int],
                 max_text_tokens: int = DEFAULT_MAX_TEXT_TOKENS) -> None:
        if max_text_tokens < 1:
            raise ValueError("max_text_tokens must be >= 1")
        self.tokenizer = tokenizer
        self.prefix = tuple(int(t) for t in prefix)
        self.suffix = tuple(int(t) for t in suffix)
        self.max_text_tokens = max_text_tokens
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)

    @classmethod
    def for_tokenizer(cls, tokenizer: "PreTrainedTokenizerBase",
                      max_text_tokens: int = DEFAULT_MAX_TEXT_TOKENS) -> "ItemEncoder":
        """Prefix = the bos token (if the tokenizer has one), suffix = the eos token."""
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos token; the one-pass readout reads the item at it")
        prefix = (tokenizer.bos_token_id,) if tokenizer.bos_token_id is not None else ()
        return cls(tokenizer, prefix, (tokenizer.eos_token_id,), max_text_tokens)

    @classmethod
    def from_spec(cls, tokenizer: "PreTrainedTokenizerBase", spec: dict[str, Any]) -> "ItemEncoder":
        """The encoder an adapter was trained with (see :meth:`spec`)."""
        return cls(tokenizer, spec["prefix"], spec["suffix"], int(spec["max_text_tokens"]))

    def spec(self) -> dict[str, Any]:
        """What is saved with an adapter so that labeling tokenizes exactly as training did."""
        return {"prefix": list(self.prefix), "suffix": list(self.suffix), "max_text_tokens": self.max_text_tokens}

    def encode(self, texts: Sequence[str]) -> list[ItemTokens]:
        """One :class:`ItemTokens` per text; text beyond ``max_text_tokens`` tokens is cut off."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for ids, offsets in zip(enc["input_ids"], enc["offset_mapping"]):
            ids, offsets = ids[: self.max_text_tokens], offsets[: self.max_text_tokens]
            out.append(ItemTokens(ids=(*self.prefix, *ids, *self.suffix),
                                  offsets=tuple((int(a), int(b)) for a, b in offsets), first=len(self.prefix)))
        return out


@dataclass
class Batch:
    """Right-padded items: ids, positions, the additive causal mask, and where the text tokens are."""

    ids: torch.Tensor  # (B, T) long
    positions: torch.Tensor  # (B, T) long
    mask: torch.Tensor  # (B, 1, T, T) additive float: 0 = attend, min = masked
    valid: torch.Tensor  # (B, T) bool: a real token (not padding)
    text: torch.Tensor  # (B, T) bool: a text token (not prefix, suffix or padding)
    last: torch.Tensor  # (B,) long: column of each item's last token (the suffix)
    first: int  # column of the first text token (the same for every item)
    # per column, the dialogue turn (position) a cause may be pointed at there, -1 elsewhere; None: the
    # pointer ranges over ``text`` (see :func:`models.onepass.dialogue.view_batch`)
    turn_of: torch.Tensor | None = None

    @property
    def area(self) -> torch.Tensor:
        """(B, T) bool: the columns the cause pointer ranges over."""
        return self.text if self.turn_of is None else self.turn_of >= 0

    @property
    def rows(self) -> int:
        return int(self.ids.shape[0])


def make_batch(items: Sequence[ItemTokens], pad_id: int, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> Batch:
    """Pad ``items`` to the longest one and build what a forward pass and the heads need."""
    if not items:
        raise ValueError("an empty batch")
    first = items[0].first
    if any(item.first != first for item in items):
        raise ValueError("items of one batch must share the prefix")
    width = max(len(item.ids) for item in items)
    rows = len(items)
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    valid = torch.zeros((rows, width), dtype=torch.bool)
    text = torch.zeros((rows, width), dtype=torch.bool)
    last = torch.zeros(rows, dtype=torch.long)
    for r, item in enumerate(items):
        n = len(item.ids)
        ids[r, :n] = torch.tensor(item.ids, dtype=torch.long)
        valid[r, :n] = True
        text[r, first : first + item.n_text] = True
        last[r] = n - 1
    positions = torch.arange(width)[None].expand(rows, -1).clone()
    return Batch(ids=ids.to(device), positions=positions.to(device), mask=causal_mask(valid, dtype).to(device),
                 valid=valid.to(device), text=text.to(device), last=last.to(device), first=first)


def causal_mask(valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive (B, 1, T, T) mask: a token sees the real tokens up to itself; padding sees itself only."""
    rows, width = valid.shape
    allowed = torch.tril(torch.ones((width, width), dtype=torch.bool))[None] & valid[:, None, :]
    allowed |= torch.eye(width, dtype=torch.bool)[None]  # no all-masked row (padding rows)
    mask = torch.zeros((rows, width, width), dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[:, None]
