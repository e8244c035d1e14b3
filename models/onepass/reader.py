"""Label texts with a one-pass network: sorted batches, one forward each, heads decoded into Predictions.

Where the final hidden states come from is :meth:`OnePassReader.final_states`: the transformers network
here; a backend that computes them elsewhere (vLLM, :mod:`models.backends.vllm_onepass`) overrides it and
hands the same padded layout to the same heads and decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from models.onepass.decode import best_spans, emotion_probabilities, intensities, span_chars, turn_at
from models.onepass.dialogue import (Conversations, Dialogue, DialogueLayout, Piece, TurnTokens, dialogues_for,
                                     encode_pieces, view_batch)
from models.onepass.embedding import item_embeddings
from models.onepass.heads import OnePassHeads
from models.onepass.inputs import Batch, ItemEncoder, ItemTokens, make_batch
from models.onepass.network import OnePassNetwork
from models.prediction import Prediction


@dataclass
class ReadoutState:
    """What a trained readout knows besides its weights: which intensity outputs were trained, thresholds."""

    intensity_trained: dict[str, list[str]] = field(default_factory=dict)  # taxonomy -> labels
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # taxonomy -> label -> threshold
    layout: DialogueLayout = field(default_factory=DialogueLayout)  # how conversations are cut into pieces
    context_trained: bool = False  # whether training read conversation turns after their context
    cause_across_turns: bool = False  # whether the cause pointer learned spans in earlier turns


class OnePassReader:
    """Turns texts into Predictions for one taxonomy of a one-pass network.

    ``network``: the full :class:`OnePassNetwork`, or only its heads (:class:`OnePassHeads`) in a subclass
    whose :meth:`final_states` computes the hidden states another way.
    """

    def __init__(self, network: OnePassHeads, encoder: ItemEncoder, state: ReadoutState, version: str,
                 device: str = "cpu") -> None:
        self.network = network
        self.encoder = encoder
        self.state = state
        self.version = version
        self.device = device
        self.stats = {"items": 0, "real_tokens": 0, "slots": 0}

    def taxonomy_for(self, labels: Sequence[str]) -> str | None:
        """The head whose labels are exactly ``labels`` (in any order), if the network has one."""
        wanted = set(labels)
        return next((name for name, own in self.network.spec.taxonomies.items() if set(own) == wanted), None)

    def predict(self, texts: Sequence[str], taxonomy: str | None, labels: Sequence[str] | None = None,
                batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text, in input order; emotions in ``labels`` order (the head's by default).

        ``taxonomy=None`` reads only the cause (for a network whose heads do not fit the project).
        """
        read = self.predict_dialogues([Dialogue.lone(text) for text in texts], taxonomy, labels, batch_size)
        return [turns[0] for turns in read]

    def predict_turns(self, texts: Sequence[str], keys: Sequence[tuple[str, int] | None],
                      conversations: Conversations, taxonomy: str | None, labels: Sequence[str] | None = None,
                      batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text, in input order: a text keyed ``(conversation, turn)`` read after the turns
        before it in ``conversations``, a text keyed None alone (see :func:`models.onepass.dialogue.dialogues_for`)."""
        dialogues, owners = dialogues_for(texts, keys, conversations)
        out: list[Prediction | None] = [None] * len(texts)
        for rows, read in zip(owners, self.predict_dialogues(dialogues, taxonomy, labels, batch_size)):
            for row, prediction in zip(rows, read):
                out[row] = prediction
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def predict_dialogues(self, dialogues: Sequence[Dialogue], taxonomy: str | None,
                          labels: Sequence[str] | None = None, batch_size: int = 64,
                          layout: DialogueLayout | None = None) -> list[list[Prediction]]:
        """Per dialogue, one Prediction per target turn (in ``targets`` order), each turn read after the
        turns before it (:mod:`models.onepass.dialogue`): one forward pass per piece of conversation.

        ``layout``: how conversations are cut (default: the one the adapter was trained with).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        own = tuple(self.network.spec.taxonomies[taxonomy]) if taxonomy is not None else ()
        order_labels = tuple(labels) if labels is not None else own
        if taxonomy is not None and set(order_labels) != set(own):
            raise ValueError(f"labels {order_labels} are not the labels of head {taxonomy!r}")
        pieces = encode_pieces(self.encoder, dialogues, layout or self.state.layout)
        found: dict[tuple[int, int], Prediction] = {}
        trained = self.state.intensity_trained.get(taxonomy or "", [])
        for chunk in _batches(pieces, batch_size):
            batch = make_batch([piece.tokens for piece in chunk], self.encoder.pad_id, dtype=self.network.dtype,
                               device=self.device)
            self.stats["items"] += sum(len(piece.views) for piece in chunk)
            self.stats["real_tokens"] += int(batch.valid.sum())
            self.stats["slots"] += int(batch.ids.numel())
            rows = [r for r, piece in enumerate(chunk) for _ in piece.views]
            views = [view for piece in chunk for view in piece.views]
            areas = [area for piece in chunk for area in piece.areas] if self.state.cause_across_turns else None
            keys = [(piece.dialogue, turn) for piece in chunk for turn in piece.turns]
            texts = [dialogues[d].turns[t].text for d, t in keys]
            hidden = self.final_states(batch)
            hidden = hidden if rows == list(range(batch.rows)) else hidden[torch.as_tensor(rows, device=hidden.device)]
            read = view_batch(batch, rows, views, areas)
            names = [taxonomy] if taxonomy is not None else []
            outputs = self.network.read(hidden, read, names)
            vectors = item_embeddings(hidden, read.text, read.last).tolist()
            spans = best_spans(outputs.cause, read) if outputs.cause is not None else [None] * len(views)
            if taxonomy is not None:
                probs = emotion_probabilities(outputs.taxonomies[taxonomy], own)
                levels = intensities(outputs.taxonomies[taxonomy], own, trained)
            else:
                probs = levels = [{} for _ in views]
            for row, key in enumerate(keys):
                emotions = {label: probs[row][label] for label in order_labels}
                per_emotion = {label: levels[row][label] for label in order_labels} if levels[row] else None
                top = max(emotions, key=emotions.__getitem__) if emotions else None
                cause, cause_turn = self._cause(dialogues[key[0]], key[1], views[row],
                                                areas[row] if areas is not None else None, spans[row])
                found[key] = Prediction(
                    emotions=emotions,
                    intensity=per_emotion[top] if per_emotion and top is not None else None,
                    cause=cause,
                    adapter_version=self.version,
                    intensities=per_emotion,
                    embedding=tuple(vectors[row]),
                    cause_turn=cause_turn,
                )
        return [[found[(d, t)] for t in dialogue.targets] for d, dialogue in enumerate(dialogues)]

    @staticmethod
    def _cause(dialogue: Dialogue, position: int, view: ItemTokens, area: Sequence[TurnTokens] | None,
               columns: tuple[int, int] | None) -> tuple[tuple[int, int, str] | None, int | None]:
        """The decoded span and, where it lies in an earlier turn, that turn's number."""
        if columns is None:
            return None, None
        if area is None:
            return span_chars(dialogue.turns[position].text, view, columns), None
        turn = turn_at(area, columns[0])
        if turn is None:
            return None, None
        cause = span_chars(dialogue.turns[turn.position].text, turn, columns)
        if cause is None or turn.position == position:
            return cause, None
        return cause, turn.number

    def final_states(self, batch: Batch) -> torch.Tensor:
        """(B, T, D) final (normed) hidden states of a right-padded batch; padding columns are never read."""
        network = self.network
        if not isinstance(network, OnePassNetwork):
            raise TypeError("a reader over heads alone needs a backend that computes the hidden states")
        return network.upper(network.lower(batch), batch)

    def thresholds(self, taxonomy: str) -> dict[str, float]:
        """Per-label decision thresholds of a head (0.5 where none were tuned)."""
        tuned = self.state.thresholds.get(taxonomy, {})
        return {label: float(tuned.get(label, 0.5)) for label in self.network.spec.taxonomies[taxonomy]}


def _batches(pieces: Sequence[Piece], batch_size: int) -> list[list[Piece]]:
    """Pieces sorted by length into batches of at most ``batch_size`` rows and ``batch_size * 128`` slots (so a
    batch of long conversation pieces stays as big in memory as one of short texts)."""
    order = sorted(pieces, key=lambda piece: len(piece.tokens.ids))
    out: list[list[Piece]] = []
    for piece in order:
        width = len(piece.tokens.ids)
        if out and len(out[-1]) < batch_size and (len(out[-1]) + 1) * width <= batch_size * 128:
            out[-1].append(piece)
        else:
            out.append([piece])
    return out
