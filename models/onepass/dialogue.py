"""Conversations for the one-pass readout: each turn read after the turns before it, one pass per conversation.

A conversation (or a piece of a long one) is one token sequence: the prefix, then every turn as
``speaker + ": "`` (when it has a speaker), its text tokens and the suffix. The model is causal, so the
final states of a turn's tokens have seen the earlier turns of the sequence and none after it: one forward
pass gives every turn its context, and the heads read a turn at its own text tokens and its own suffix
token, exactly as they read a lone item. A one-turn conversation without a speaker is, token for token,
a lone item, so lone texts go through the same code.

A conversation longer than ``max_tokens`` is cut into pieces, and each piece starts ``context_turns``
turns before the first turn it reads (those are read again, as context only; fewer where long turns
would not fit in ``max_tokens``): a turn sees the ``context_turns`` turns before it, as many as fit, and
every earlier turn of its piece. A piece is longer than ``max_tokens`` only when one turn is.

The cause pointer of a turn may choose a span in any turn of its piece up to and including its own (a
cause is often in what the other speaker said): each view carries its ``area``, the text tokens of those
turns, and a span never crosses a turn boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from models.onepass.inputs import Batch, ItemEncoder, ItemTokens
from models.tasks.base import Example

DEFAULT_CONTEXT_TURNS = 8
DEFAULT_MAX_TOKENS = 256  # training keeps every layer's attention of a batch of pieces: 512 ran out of 24 GB


@dataclass(frozen=True)
class Turn:
    """One turn of a conversation: what was said and, if known, who said it."""

    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class Dialogue:
    """A conversation's turns in order, and the turns to read (each read once).

    ``numbers``: each turn's number in its conversation (default: its position), which a cause in an
    earlier turn is reported by."""

    turns: tuple[Turn, ...]
    targets: tuple[int, ...]
    numbers: tuple[int, ...] = ()

    @classmethod
    def lone(cls, text: str) -> "Dialogue":
        """A text read alone (no context, no speaker)."""
        return cls((Turn(text),), (0,))

    def number(self, position: int) -> int:
        """The conversation's number of the turn at ``position``."""
        return self.numbers[position] if self.numbers else position


@dataclass(frozen=True)
class TurnTokens:
    """Where one turn's text tokens are in a sequence: its position in the dialogue and number in its
    conversation, its first column, and each text token's characters in the turn's text."""

    position: int
    number: int
    first: int
    offsets: tuple[tuple[int, int], ...]

    @property
    def n_text(self) -> int:
        """How many text tokens the turn has (after truncation)."""
        return len(self.offsets)


@dataclass(frozen=True)
class Piece:
    """One sequence to run: its tokens, and per turn it reads, a view of that turn.

    A view is an :class:`ItemTokens` whose ``ids`` are the sequence up to and including the turn's suffix
    token, whose ``first`` is the column of the turn's first text token and whose ``offsets`` are the turn's
    own characters: what the heads and the cause decoding need, in the sequence's columns.
    """

    tokens: ItemTokens
    views: tuple[ItemTokens, ...]
    dialogue: int  # index of the dialogue it comes from
    turns: tuple[int, ...]  # the dialogue turn each view reads
    areas: tuple[tuple[TurnTokens, ...], ...] = ()  # per view: the turns its cause may lie in, its own last


@dataclass(frozen=True)
class DialogueLayout:
    """How conversations become sequences (saved with an adapter trained on them)."""

    context_turns: int = DEFAULT_CONTEXT_TURNS
    max_tokens: int = DEFAULT_MAX_TOKENS
    separator: str = ": "

    def __post_init__(self) -> None:
        if self.context_turns < 0 or self.max_tokens < 1:
            raise ValueError("context_turns must be >= 0 and max_tokens >= 1")


Conversations = Mapping[str, Sequence[tuple[int, Turn]]]  # name -> its (turn number, Turn), sorted by turn


def conversations_of(examples: Sequence[Example]) -> dict[str, list[tuple[int, Turn]]]:
    """Every conversation of the examples, its turns sorted (context-only examples included; a turn given
    twice, e.g. once per taxonomy, counts once)."""
    found: dict[str, dict[int, Turn]] = {}
    for example in examples:
        if example.conversation is not None:
            turns = found.setdefault(example.conversation, {})
            turns.setdefault(example.turn or 0, Turn(example.text, example.speaker))
    return {name: sorted(turns.items()) for name, turns in found.items()}


def dialogues_for(texts: Sequence[str], keys: Sequence[tuple[str, int] | None],
                  conversations: Conversations) -> tuple[list[Dialogue], list[tuple[int, ...]]]:
    """Dialogues that read every row: a row keyed ``(conversation, turn)`` as that turn of its conversation
    (rows of one conversation share a dialogue), a row keyed None alone. Also, per dialogue, the row each
    of its targets is."""
    dialogues: list[Dialogue] = []
    owners: list[tuple[int, ...]] = []
    by_conversation: dict[str, list[int]] = {}
    for row, (text, key) in enumerate(zip(texts, keys)):
        if key is None:
            dialogues.append(Dialogue.lone(text))
            owners.append((row,))
        else:
            by_conversation.setdefault(key[0], []).append(row)
    for name, rows in by_conversation.items():
        if name not in conversations:
            raise ValueError(f"conversation {name!r} has no turns to read it in")
        turns = conversations[name]
        position = {number: p for p, (number, _) in enumerate(turns)}
        missing = [keys[row] for row in rows if keys[row][1] not in position]  # type: ignore[index]
        if missing:
            raise ValueError(f"turn {missing[0][1]} is not a turn of conversation {name!r}")  # type: ignore[index]
        dialogues.append(Dialogue(tuple(turn for _, turn in turns),
                                  tuple(position[keys[row][1]] for row in rows),  # type: ignore[index]
                                  tuple(number for number, _ in turns)))
        owners.append(tuple(rows))
    return dialogues, owners


def encode_pieces(encoder: ItemEncoder, dialogues: Sequence[Dialogue],
                  layout: DialogueLayout = DialogueLayout()) -> list[Piece]:
    """Every dialogue as pieces (see the module's note), in dialogue order."""
    texts = [turn.text for dialogue in dialogues for turn in dialogue.turns]
    speakers = sorted({turn.speaker for dialogue in dialogues for turn in dialogue.turns if turn.speaker})
    encoded = encoder.encode(texts)
    speaker_ids = _speaker_tokens(encoder, speakers, layout.separator)
    pieces: list[Piece] = []
    at = 0
    for d, dialogue in enumerate(dialogues):
        own = encoded[at : at + len(dialogue.turns)]
        at += len(dialogue.turns)
        bad = [t for t in dialogue.targets if not 0 <= t < len(dialogue.turns)]
        if bad:
            raise ValueError(f"dialogue {d}: turn {bad[0]} to read is not one of its {len(dialogue.turns)} turns")
        turn_ids = [(speaker_ids.get(turn.speaker, ()) if turn.speaker else (), item)
                    for turn, item in zip(dialogue.turns, own)]
        lengths = [len(head) + len(item.ids) - len(encoder.prefix) for head, item in turn_ids]
        for start, end, read in _spans(lengths, sorted(set(dialogue.targets)), layout, len(encoder.prefix)):
            pieces.append(_piece(encoder, turn_ids[start:end], start, read, d, dialogue))
    return pieces


def _speaker_tokens(encoder: ItemEncoder, speakers: Sequence[str], separator: str) -> dict[str, tuple[int, ...]]:
    if not speakers:
        return {}
    ids = encoder.tokenizer([f"{name}{separator}" for name in speakers], add_special_tokens=False)["input_ids"]
    return {name: tuple(int(t) for t in row) for name, row in zip(speakers, ids)}


def _spans(lengths: Sequence[int], targets: Sequence[int], layout: DialogueLayout,
           prefix: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """(first turn, end turn, turns read) of each piece: greedy, within ``max_tokens`` where it can be."""
    out: list[tuple[int, int, tuple[int, ...]]] = []
    i = 0
    while i < len(targets):
        first = targets[i]
        start, end = max(0, first - layout.context_turns), first + 1
        size = prefix + sum(lengths[start:end])
        while size > layout.max_tokens and start < first:  # long turns: keep the nearest ones that fit
            size -= lengths[start]
            start += 1
        j = i + 1
        while j < len(targets):
            extra = sum(lengths[end : targets[j] + 1])
            if size + extra > layout.max_tokens:
                break
            size += extra
            end = targets[j] + 1
            j += 1
        out.append((start, end, tuple(targets[i:j])))
        i = j
    return out


def _piece(encoder: ItemEncoder, turns: Sequence[tuple[tuple[int, ...], ItemTokens]], start: int,
           read: tuple[int, ...], index: int, dialogue: Dialogue) -> Piece:
    ids: list[int] = list(encoder.prefix)
    views: dict[int, ItemTokens] = {}
    seen: list[TurnTokens] = []
    areas: dict[int, tuple[TurnTokens, ...]] = {}
    for k, (head, item) in enumerate(turns):
        ids.extend(head)
        first = len(ids)
        ids.extend(item.ids[item.first :])  # text tokens and the suffix
        seen.append(TurnTokens(start + k, dialogue.number(start + k), first, item.offsets))
        if start + k in read:
            views[start + k] = ItemTokens(ids=tuple(ids), offsets=item.offsets, first=first)
            areas[start + k] = tuple(seen)
    whole = ItemTokens(ids=tuple(ids), offsets=(), first=len(encoder.prefix))
    return Piece(whole, tuple(views[t] for t in read), index, read, tuple(areas[t] for t in read))


def view_batch(batch: Batch, rows: Sequence[int], views: Sequence[ItemTokens],
               areas: Sequence[Sequence[TurnTokens]] | None = None) -> Batch:
    """The views as rows for the heads: row ``k`` is the batch row ``rows[k]`` read at ``views[k]``'s turn.

    The attention mask is left out (the forward pass is done); ``ids``, ``positions`` and ``valid`` are
    those of each view's row. With ``areas`` (a :class:`Piece`'s), the cause pointer of row ``k`` ranges
    over the text tokens of ``areas[k]`` (``turn_of`` says which turn each column is); without, over the
    view's own text.
    """
    index = torch.as_tensor(list(rows), dtype=torch.long, device=batch.ids.device)
    width = batch.ids.shape[1]
    text = torch.zeros((len(views), width), dtype=torch.bool)
    last = torch.zeros(len(views), dtype=torch.long)
    turn_of = torch.full((len(views), width), -1, dtype=torch.long) if areas is not None else None
    for k, view in enumerate(views):
        text[k, view.first : view.first + view.n_text] = True
        last[k] = len(view.ids) - 1
        if turn_of is not None:
            for turn in areas[k]:  # type: ignore[index]
                turn_of[k, turn.first : turn.first + turn.n_text] = turn.position
    device = batch.ids.device
    return Batch(ids=batch.ids[index], positions=batch.positions[index], mask=batch.mask.new_zeros(0),
                 valid=batch.valid[index], text=text.to(device), last=last.to(device), first=batch.first,
                 turn_of=turn_of.to(device) if turn_of is not None else None)
