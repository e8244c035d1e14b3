"""Train LoRA adapters from dataset files, register them, and find the shipped default adapter.

``models/`` (torch) is imported inside the functions that train, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator import repo
from annotator.datasets import available_formats, detect_format, read_dataset
from annotator.datasets.convert import training_records
from annotator.services.adapters import promote_adapter
from annotator.settings import get_settings
from annotator.tables import Adapter
from annotator.taxonomy import Taxonomy

ADAPTER_META = "emo_adapter.json"  # the metadata file models.training writes next to the peft weights
PACKAGED_BASE_NAMES = ("smollm2", "smollm2-135m-instruct")


@dataclass(frozen=True)
class DataSpec:
    """One ``--data`` argument: a dataset file or folder, its format, and an optional cap on its examples."""

    path: Path
    fmt: str
    limit: int | None = None


def parse_data_spec(spec: str) -> DataSpec:
    """Parse ``FILE[:FORMAT[:LIMIT]]``; the format is detected from the file name when left out."""
    parts = spec.split(":")
    path, fmt, limit = Path(parts[0]), parts[1] if len(parts) > 1 and parts[1] else None, None
    if len(parts) > 3:
        raise ValueError(f"--data {spec!r}: expected FILE[:FORMAT[:LIMIT]]")
    if len(parts) == 3:
        if not parts[2].isdigit() or int(parts[2]) < 1:
            raise ValueError(f"--data {spec!r}: LIMIT must be a positive integer")
        limit = int(parts[2])
    if not path.exists():
        raise FileNotFoundError(f"--data {spec!r}: {path} does not exist")
    fmt = fmt or detect_format(path)
    if fmt is None:
        raise ValueError(f"--data {spec!r}: cannot tell the format from the name; add :FORMAT, one of "
                         f"{', '.join(available_formats())}")
    return DataSpec(path=path, fmt=fmt, limit=limit)


def load_records(specs: Sequence[DataSpec], taxonomy: Taxonomy, split: str | None = "train", seed: int = 0) -> list[dict[str, Any]]:
    """Training records of every dataset (each shuffled with ``seed`` and capped at its limit), mixed."""
    rng = random.Random(seed)
    mixed: list[dict[str, Any]] = []
    for spec in specs:
        records = list(training_records(read_dataset(spec.path, spec.fmt), spec.fmt, taxonomy.name, taxonomy.labels, split))
        rng.shuffle(records)
        mixed.extend(records[: spec.limit] if spec.limit else records)
    rng.shuffle(mixed)
    return mixed


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings of one ``annotator train`` run (see ``models.training.config`` for the meaning)."""

    epochs: float = 1.0
    max_steps: int | None = None
    max_seconds: float | None = None
    batch_size: int = 8
    learning_rate: float = 2e-4
    max_examples: int | None = None
    seed: int = 0
    device: str = "auto"
    eval_fraction: float = 0.05
    lora_r: int = 16
    lora_alpha: int = 32
    run_name: str = "sft"
    progress: bool = True
    negatives_per_example: int | None = None
    fp16_weights: bool = False


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def base_spec() -> str | None:
    """The configured base for ``models.base.resolve_base``: ``None`` for the packaged SmolLM2."""
    name = get_settings().base_model
    return None if name.strip().lower() in PACKAGED_BASE_NAMES else name


def train_adapter(records: Sequence[dict[str, Any]], labels: Sequence[str], out_dir: Path, options: TrainOptions) -> Path:
    """Train a LoRA adapter on training records and write ``out_dir/<version>/``; returns that folder."""
    from models.training.config import DataConfig, ModelConfig, SFTConfig, TrainConfig
    from models.training.data import example_from_dict
    from models.training.sft import train

    if not records:
        raise ValueError("no training examples: the datasets had no field usable for this taxonomy")
    settings = get_settings()
    cfg = SFTConfig(
        data=DataConfig(train_file=Path("-"), labels=tuple(labels), eval_fraction=options.eval_fraction,
                        max_examples=options.max_examples),
        train=TrainConfig(output_dir=out_dir, learning_rate=options.learning_rate, epochs=options.epochs,
                          max_steps=options.max_steps, max_seconds=options.max_seconds, batch_size=options.batch_size, seed=options.seed,
                          run_name=options.run_name, progress=options.progress,
                          background_per_example=options.negatives_per_example,
                          half_precision_weights=options.fp16_weights),
        model=ModelConfig(base=base_spec(), cache_dir=settings.cache_dir, device=resolve_device(options.device),
                          lora_r=options.lora_r, lora_alpha=options.lora_alpha),
    )
    return train(cfg, [example_from_dict(record) for record in records])


def _trained_on_configured_base(adapter: Path) -> bool:
    """Whether the adapter's metadata names the configured base (compared by id: nothing is loaded or hashed)."""
    from models.base import DEFAULT_BASE

    trained_on = adapter_meta(adapter).get("base", {}).get("model_id")
    spec = base_spec()
    if spec is None:
        configured = DEFAULT_BASE
    else:
        path = Path(spec).expanduser()
        configured = path.name if path.suffix == ".gguf" else str(path)
    return trained_on is None or trained_on == configured


def adapter_meta(path: Path) -> dict[str, Any]:
    """The metadata training wrote into an adapter folder."""
    meta = Path(path) / ADAPTER_META
    if not meta.is_file():
        raise FileNotFoundError(f"{path} is not an adapter folder (no {ADAPTER_META})")
    return json.loads(meta.read_text())


def register_adapter(db: Session, path: Path, project_name: str | None = None, activate: bool = False) -> Adapter:
    """Record an adapter folder in the adapters table (status 'candidate', or 'active' with ``activate``)."""
    meta = adapter_meta(path)
    project = repo.get_project_or_raise(db, project_name) if project_name else None
    if activate and project is None:
        raise ValueError("--activate needs --project")
    adapter = db.scalar(select(Adapter).where(Adapter.version == meta["version"]))
    if adapter is None:
        adapter = Adapter(version=meta["version"], path=str(Path(path).resolve()),
                          base_model=meta["base"]["model_id"], base_model_hash=meta["base"]["sha256"],
                          metrics=meta.get("metrics", {}), status="candidate",
                          project_id=project.id if project else None)
        db.add(adapter)
        db.flush()
    if activate and project is not None:
        return promote_adapter(db, project, adapter.version)
    return adapter


def resolve_adapter(db: Session | None, ref: str) -> Path:
    """An adapter folder from a path, or from a version registered in the adapters table."""
    path = Path(ref)
    if (path / ADAPTER_META).is_file():
        return path
    if db is not None:
        adapter = db.scalar(select(Adapter).where(Adapter.version == ref))
        if adapter is not None:
            return Path(adapter.path)
    raise FileNotFoundError(f"adapter {ref!r} is neither an adapter folder nor a registered version")


def default_adapter_path() -> Path | None:
    """The adapter to label with when a project has none active (``ANNOTATOR_DEFAULT_ADAPTER``), or ``None``.

    The setting names an adapter folder, or a folder of adapter versions, of which the newest (by the
    ``created_at`` in its metadata, then name) is used. ``None`` when it is empty, holds no adapter, or the
    adapter was trained on another base than the configured one (``ANNOTATOR_BASE_MODEL``).
    """
    value = get_settings().default_adapter.strip()
    if not value:
        return None
    folder = Path(value)
    if (folder / ADAPTER_META).is_file():
        return folder if _trained_on_configured_base(folder) else None
    if not folder.is_dir():
        return None
    versions = [child for child in folder.iterdir() if (child / ADAPTER_META).is_file()]
    if not versions:
        return None
    chosen = max(versions, key=lambda child: (str(adapter_meta(child).get("created_at", "")), child.name))
    return chosen if _trained_on_configured_base(chosen) else None
