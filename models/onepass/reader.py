"""Label texts with a one-pass network: sorted batches, one forward each, heads decoded into Predictions.

Where the final hidden states come from is :meth:`OnePassReader.final_states`: the transformers network
here; a backend that computes them elsewhere (vLLM, :mod:`models.backends.vllm_onepass`) overrides it and
hands the same padded layout to the same heads and decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from models.onepass.decode import best_spans, emotion_probabilities, intensities, span_chars
from models.onepass.embedding import item_embeddings
from models.onepass.heads import OnePassHeads
from models.onepass.inputs import Batch, ItemEncoder, make_batch
from models.onepass.network import OnePassNetwork
from models.prediction import Prediction


@dataclass
class ReadoutState:
    """What a trained readout knows besides its weights: which intensity outputs were trained, thresholds."""

    intensity_trained: dict[str, list[str]] = field(default_factory=dict)  # taxonomy -> labels
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # taxonomy -> label -> threshold


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

    @torch.inference_mode()
    def predict(self, texts: Sequence[str], taxonomy: str | None, labels: Sequence[str] | None = None,
                batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text, in input order; emotions in ``labels`` order (the head's by default).

        ``taxonomy=None`` reads only the cause (for a network whose heads do not fit the project).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        own = tuple(self.network.spec.taxonomies[taxonomy]) if taxonomy is not None else ()
        order_labels = tuple(labels) if labels is not None else own
        if taxonomy is not None and set(order_labels) != set(own):
            raise ValueError(f"labels {order_labels} are not the labels of head {taxonomy!r}")
        items = self.encoder.encode(texts)
        order = sorted(range(len(texts)), key=lambda i: len(items[i].ids))
        out: list[Prediction | None] = [None] * len(texts)
        trained = self.state.intensity_trained.get(taxonomy or "", [])
        for lo in range(0, len(order), batch_size):
            chunk = order[lo : lo + batch_size]
            batch = make_batch([items[i] for i in chunk], self.encoder.pad_id, dtype=self.network.dtype,
                               device=self.device)
            self.stats["items"] += len(chunk)
            self.stats["real_tokens"] += int(batch.valid.sum())
            self.stats["slots"] += int(batch.ids.numel())
            names = [taxonomy] if taxonomy is not None else []
            hidden = self.final_states(batch)
            outputs = self.network.read(hidden, batch, names)
            vectors = item_embeddings(hidden, batch.text, batch.last).tolist()
            spans = best_spans(outputs.cause, batch) if outputs.cause is not None else [None] * len(chunk)
            if taxonomy is not None:
                probs = emotion_probabilities(outputs.taxonomies[taxonomy], own)
                levels = intensities(outputs.taxonomies[taxonomy], own, trained)
            else:
                probs = levels = [{} for _ in chunk]
            for row, i in enumerate(chunk):
                emotions = {label: probs[row][label] for label in order_labels}
                per_emotion = {label: levels[row][label] for label in order_labels} if levels[row] else None
                top = max(emotions, key=emotions.__getitem__) if emotions else None
                out[i] = Prediction(
                    emotions=emotions,
                    intensity=per_emotion[top] if per_emotion and top is not None else None,
                    cause=span_chars(texts[i], items[i], spans[row]),
                    adapter_version=self.version,
                    intensities=per_emotion,
                    embedding=tuple(vectors[row]),
                )
        return out  # type: ignore[return-value]

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
