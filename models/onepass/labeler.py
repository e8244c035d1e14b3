"""A labeler over a one-pass adapter, with the same interface as the instruction-readout ``Labeler``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from models.adapters import adapter_version, is_onepass
from models.base import DEFAULT_CACHE_DIR, BaseModel, resolve_base
from models.onepass.dialogue import Conversations
from models.onepass.reader import OnePassReader
from models.prediction import Prediction

BACKENDS = ("transformers", "vllm")


class OnePassLabeler:
    """Base + one-pass adapter, labeling a taxonomy one of its heads serves.

    ``backend``: "transformers" runs base + LoRA + heads in torch (LoRA merged); "vllm" gets the final hidden
    states from a vLLM pooling engine (:mod:`models.backends.vllm_onepass`, ``backend_options`` are its
    engine arguments) and applies the same heads. ``reader``: an already built reader (used by
    :meth:`with_adapter`).
    """

    readout = "onepass"

    def __init__(self, base: str | Path | BaseModel | None, adapter_path: Path, labels: Sequence[str],
                 device: str = "cpu", *, cache_dir: Path = DEFAULT_CACHE_DIR, backend: str = "transformers",
                 backend_options: dict[str, Any] | None = None, reader: OnePassReader | None = None) -> None:
        if backend not in BACKENDS:
            raise NotImplementedError(f"one-pass backend {backend!r}; known: {', '.join(BACKENDS)}")
        self.base = base if isinstance(base, BaseModel) else resolve_base(base, cache_dir)
        self.adapter_path = Path(adapter_path)
        self.labels = tuple(labels)
        self.version = adapter_version(self.adapter_path)
        self.device = device
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        # set by models.labeler.open_labeler on vLLM: opens an instruction adapter on its own engine
        self.shared: Any = None
        if reader is None:
            reader = self._load_reader()
        self.reader = reader
        self.taxonomy = self.reader.taxonomy_for(self.labels)
        if self.taxonomy is None:
            served = ", ".join(f"{name} ({len(labels)} labels)"
                               for name, labels in reader.network.spec.taxonomies.items())
            raise ValueError(f"adapter {self.version} has no head for these {len(self.labels)} labels; it serves: "
                             f"{served or 'none'}")

    def _load_reader(self) -> OnePassReader:
        if self.backend_name == "vllm":
            from models.backends.vllm_onepass import VllmOnePassReader

            return VllmOnePassReader.load(self.base.path, self.adapter_path, self.version, **self.backend_options)
        from models.onepass.artifact import load_onepass

        network, encoder, state, _ = load_onepass(self.base.path, self.adapter_path, device=self.device)
        return OnePassReader(network, encoder, state, self.version, self.device)

    @property
    def thresholds(self) -> dict[str, float]:
        """The tuned per-label decision thresholds of the head in use."""
        assert self.taxonomy is not None
        return self.reader.thresholds(self.taxonomy)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text, in input order, emotions in this labeler's label order."""
        return self.reader.predict(texts, self.taxonomy, self.labels, batch_size=batch_size)

    @property
    def reads_context(self) -> bool:
        """Whether the adapter was trained reading conversation turns after their context (labeling then
        reads them so by default)."""
        return self.reader.state.context_trained

    def predict_turns(self, texts: Sequence[str], keys: Sequence[tuple[str, int] | None],
                      conversations: Conversations, batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text: a text keyed ``(conversation, turn)`` read after the turns before it in
        ``conversations`` (name -> its ``(turn, Turn)`` in order), one keyed None alone."""
        return self.reader.predict_turns(texts, keys, conversations, self.taxonomy, self.labels,
                                         batch_size=batch_size)

    def with_adapter(self, adapter_path: Path | None, labels: Sequence[str] | None = None) -> Any:
        """A labeler for another adapter (and taxonomy) on the same base.

        On vLLM another one-pass adapter shares this engine (multi-LoRA: the base is loaded once); an
        instruction adapter (or the bare base) goes to the instruction readout's engine when
        :func:`models.labeler.open_labeler` wired one (``shared``). On transformers the weights are loaded
        again.
        """
        labels = tuple(labels) if labels is not None else self.labels
        if not is_onepass(adapter_path):
            if self.shared is None:
                raise ValueError(f"{adapter_path} is not a one-pass adapter: open it with models.labeler.open_labeler")
            return self.shared.open(adapter_path, labels)
        assert adapter_path is not None
        share = getattr(self.reader, "with_adapter", None)
        reader = share(Path(adapter_path), adapter_version(Path(adapter_path))) if share is not None else None
        other = OnePassLabeler(self.base, Path(adapter_path), labels, self.device, backend=self.backend_name,
                               backend_options=self.backend_options, reader=reader)
        other.shared = self.shared
        return other
