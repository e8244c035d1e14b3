"""The EmoLLM labeler: base model + optional LoRA adapter -> emotions, intensity and cause for texts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from models.adapters import adapter_version, is_onepass
from models.backends.base import Backend
from models.backends.registry import make_backend
from models.base import DEFAULT_CACHE_DIR, BaseModel, load_tokenizer, resolve_base
from models.prediction import Prediction
from models.tasks.prompt import Prompter
from models.tasks.registry import DEFAULT_TASKS, make_tasks
from models.tokens import Codec


def open_labeler(
    base: str | Path | BaseModel | None,
    adapter_path: Path | None,
    labels: Sequence[str],
    device: str = "cpu",
    *,
    backend: str = "transformers",
    cache_dir: Path = DEFAULT_CACHE_DIR,
    backend_options: dict[str, Any] | None = None,
) -> Any:
    """The labeler for an adapter, with the readout it was trained for.

    A one-pass adapter (``"readout": "onepass.v1"`` in its metadata) is read in one forward pass per batch
    (:class:`models.onepass.labeler.OnePassLabeler`): on transformers (CPU or CUDA), or on vLLM, whose
    pooling engine gives the final hidden states to the same heads (:mod:`models.backends.vllm_onepass`).
    Any other adapter, and the bare base (``adapter_path=None``: zero-shot, any taxonomy), use the
    instruction readout (:class:`Labeler`).

    On vLLM, ``with_adapter`` on the result serves any adapter of either readout: one engine per readout
    (the instruction readout generates, the one-pass readout pools), each shared by its adapters (multi-LoRA).
    """
    shared = _SharedEngines(base, device, backend, cache_dir, backend_options) if backend == "vllm" else None
    if shared is not None:
        return shared.open(adapter_path, labels)
    return _open(base, adapter_path, labels, device, backend, cache_dir, backend_options)


def _open(base: str | Path | BaseModel | None, adapter_path: Path | None, labels: Sequence[str], device: str,
          backend: str, cache_dir: Path, backend_options: dict[str, Any] | None) -> Any:
    if is_onepass(adapter_path):
        from models.onepass.labeler import OnePassLabeler

        assert adapter_path is not None
        return OnePassLabeler(base, adapter_path, labels, device, cache_dir=cache_dir, backend=backend,
                              backend_options=backend_options)
    return Labeler(base, adapter_path, labels, device, backend=backend, cache_dir=cache_dir,
                   backend_options=backend_options)


class _SharedEngines:
    """The labelers that hold a process's vLLM engines on one base: the first of each readout starts its
    engine; later adapters of that readout are served by it (``with_adapter``)."""

    def __init__(self, base: str | Path | BaseModel | None, device: str, backend: str, cache_dir: Path,
                 backend_options: dict[str, Any] | None) -> None:
        self.base = base if isinstance(base, BaseModel) else resolve_base(base, cache_dir)
        self.device, self.backend, self.cache_dir = device, backend, cache_dir
        self.backend_options = backend_options
        self.by_readout: dict[str, Any] = {}

    def open(self, adapter_path: Path | None, labels: Sequence[str]) -> Any:
        """A labeler for ``adapter_path`` on the engine of its readout (started on first use)."""
        kind = "onepass" if is_onepass(adapter_path) else "instruction"
        holder = self.by_readout.get(kind)
        if holder is not None:
            return holder.with_adapter(adapter_path, labels)
        labeler = _open(self.base, adapter_path, labels, self.device, self.backend, self.cache_dir,
                        self.backend_options)
        labeler.shared = self
        self.by_readout[kind] = labeler
        return labeler


class Labeler:
    """Loads the weights once; ``predict`` labels batches of texts with one packed forward pass each.

    The instruction readout: a prompt per item, a yes/no branch per label, an intensity digit and a
    constrained cause decode. It needs no trained head, so it labels any taxonomy zero-shot.
    """

    readout = "instruction"
    thresholds = None  # no tuned thresholds: consumers use the project's, else 0.5
    shared: Any = None  # on vLLM, set by open_labeler: where a one-pass adapter's engine is found

    def __init__(
        self,
        base: str | Path | BaseModel | None,
        adapter_path: Path | None,
        labels: Sequence[str],
        device: str = "cpu",
        *,
        tasks: Sequence[str] = DEFAULT_TASKS,
        backend: str = "transformers",
        cache_dir: Path = DEFAULT_CACHE_DIR,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        """``backend_options``: extra arguments for the backend's loader (e.g. vLLM engine arguments)."""
        self.base = base if isinstance(base, BaseModel) else resolve_base(base, cache_dir)
        self.adapter_path = Path(adapter_path) if adapter_path is not None else None
        self.labels = tuple(labels)
        self.tasks = tuple(tasks)
        self.version = adapter_version(self.adapter_path)
        self.codec = Codec(load_tokenizer(self.base.path))
        self.prompter = Prompter(make_tasks(self.tasks, self.labels), self.codec)
        self.backend = make_backend(backend, self.base.path, self.adapter_path, self.codec.pad_id, device,
                                    **(backend_options or {}))

    def with_adapter(self, adapter_path: Path | None, labels: Sequence[str] | None = None) -> Any:
        """A labeler for another adapter (and taxonomy) on the same base.

        A backend that serves several adapters from one engine (vLLM: multi-LoRA) is shared, so the base
        weights and caches are loaded once; any other backend loads the weights again. A one-pass adapter
        gets a :class:`models.onepass.labeler.OnePassLabeler` on vLLM (from :func:`open_labeler`: its own
        pooling engine, shared by one-pass adapters); elsewhere it must be opened with ``open_labeler``.
        """
        labels = tuple(labels) if labels is not None else self.labels
        if is_onepass(adapter_path):
            if self.shared is not None:  # vLLM: the one-pass readout's own (pooling) engine
                return self.shared.open(adapter_path, labels)
            raise ValueError(f"{adapter_path} is a one-pass adapter: open it with open_labeler (it has no "
                             "instruction readout to share an engine with)")
        share = getattr(self.backend, "with_adapter", None)
        if share is None:
            return Labeler(self.base, adapter_path, labels, self.backend.device, tasks=self.tasks,
                           backend=self.backend.name)
        other = copy.copy(self)
        other.adapter_path = Path(adapter_path) if adapter_path is not None else None
        other.labels = labels
        other.version = adapter_version(other.adapter_path)
        other.prompter = Prompter(make_tasks(self.tasks, labels), self.codec)
        other.backend = share(other.adapter_path)
        return other

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """One Prediction per text, in input order. Fields a task could not read are empty/None."""
        return predict(self.prompter, self.backend, texts, batch_size, self.version)


def predict(
    prompter: Prompter, backend: Backend, texts: Sequence[str], batch_size: int, version: str
) -> list[Prediction]:
    """Label ``texts`` with any prompter/backend pair (also used by training on its in-memory model)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    built_all = [prompter.query(text) for text in texts]
    # similar token lengths share a batch, so little compute goes to padding
    order = sorted(range(len(texts)), key=lambda i: len(built_all[i][0].item))
    out: list[Prediction | None] = [None] * len(texts)
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        built = [built_all[i] for i in chunk]
        results = backend.run(prompter.prefix, [query for query, _ in built])
        for i, (_, slices), result in zip(chunk, built, results):
            values = prompter.parse(texts[i], result, slices)
            out[i] = Prediction(
                emotions=values.get("emotions") or {},
                intensity=values.get("intensity"),
                cause=values.get("cause"),
                adapter_version=version,
            )
    return out  # type: ignore[return-value]
