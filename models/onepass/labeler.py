"""A labeler over a one-pass adapter, with the same interface as the instruction-readout ``Labeler``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from models.adapters import adapter_version
from models.base import DEFAULT_CACHE_DIR, BaseModel, resolve_base
from models.onepass.artifact import load_onepass
from models.onepass.reader import OnePassReader
from models.prediction import Prediction


class OnePassLabeler:
    """Base + one-pass adapter, labeling a taxonomy one of its heads serves."""

    readout = "onepass"

    def __init__(self, base: str | Path | BaseModel | None, adapter_path: Path, labels: Sequence[str],
                 device: str = "cpu", *, cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
        self.base = base if isinstance(base, BaseModel) else resolve_base(base, cache_dir)
        self.adapter_path = Path(adapter_path)
        self.labels = tuple(labels)
        self.version = adapter_version(self.adapter_path)
        network, encoder, state, _ = load_onepass(self.base.path, self.adapter_path, device=device)
        self.reader = OnePassReader(network, encoder, state, self.version, device)
        self.taxonomy = self.reader.taxonomy_for(self.labels)
        if self.taxonomy is None:
            served = ", ".join(f"{name} ({len(labels)} labels)" for name, labels in network.spec.taxonomies.items())
            raise ValueError(f"adapter {self.version} has no head for these {len(self.labels)} labels; it serves: "
                             f"{served or 'none'}")

    @property
    def thresholds(self) -> dict[str, float]:
        """The tuned per-label decision thresholds of the head in use."""
        assert self.taxonomy is not None
        return self.reader.thresholds(self.taxonomy)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        """One Prediction per text, in input order, emotions in this labeler's label order."""
        return self.reader.predict(texts, self.taxonomy, self.labels, batch_size=batch_size)
