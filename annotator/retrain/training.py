"""Train LoRA adapters from dataset files, register them, and find the shipped default adapter.

``models/`` (torch) is imported inside the functions that train, so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator.datasets import available_formats, detect_format, read_dataset
from annotator.datasets.convert import Skipped, training_records
from annotator.label.adapters import base_spec, resolve_device
from annotator.settings import get_settings
from annotator.taxonomy import Taxonomy, get_taxonomy

if TYPE_CHECKING:
    from models.training.config import ModelConfig, OnePassConfig, SFTConfig, TrainConfig

log = logging.getLogger("annotator.training")



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


def load_records(specs: Sequence[DataSpec], taxonomy: Taxonomy, split: str | None = "train", seed: int = 0,
                 conversations: bool = False) -> list[dict[str, Any]]:
    """Training records of every dataset (each shuffled with ``seed`` and capped at its limit), mixed.

    Rows whose gold label a reader could not use are left out; a warning says how many and why. With
    ``conversations``, turns of conversations say so and unlabeled turns come as context records
    (:func:`annotator.datasets.convert.training_records`).
    """
    rng = random.Random(seed)
    mixed: list[dict[str, Any]] = []
    for spec in specs:
        skipped = Skipped()
        records = list(training_records(read_dataset(spec.path, spec.fmt), spec.fmt, taxonomy.name, taxonomy.labels,
                                        split, skipped=skipped, conversations=conversations))
        if skipped.count:
            log.warning("%s: %d row(s) skipped, their gold label is unusable (e.g. %s)", spec.path, skipped.count,
                        "; ".join(skipped.examples))
        rng.shuffle(records)
        mixed.extend(records[: spec.limit] if spec.limit else records)
    rng.shuffle(mixed)
    return mixed


def load_records_for(specs: Sequence[DataSpec], taxonomies: Sequence[Taxonomy], split: str | None = "train",
                     seed: int = 0, conversations: bool = False) -> list[dict[str, Any]]:
    """Records of every dataset for each taxonomy (a one-pass adapter trains a head per taxonomy); the
    trainer merges the records of one text (of one conversation turn) into one item."""
    return [record for taxonomy in taxonomies
            for record in load_records(specs, taxonomy, split, seed, conversations)]


READOUTS = ("onepass", "instruction")


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings of one ``annotator train`` run (see ``models.training.config`` for the meaning)."""

    epochs: float = 1.0
    max_steps: int | None = None
    max_seconds: float | None = None
    batch_size: int = 16
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
    readout: str = "onepass"
    frozen_layers: int = 18
    head_learning_rate: float = 1e-3
    checkpoint_every: int = 100
    init_adapter: str | None = None  # continue training this adapter folder
    context: bool = True  # one-pass: read conversation turns after the turns before them

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")


@dataclass(frozen=True)
class TrainRequest:
    """Everything ``annotator train`` was asked, kept in a run's folder so ``--resume`` needs nothing else."""

    data: tuple[str, ...]  # FILE[:FORMAT[:LIMIT]] as given
    taxonomies: tuple[str, ...]
    split: str | None
    out: str
    options: TrainOptions

    def as_json(self) -> str:
        """The request as JSON."""
        return json.dumps({"data": list(self.data), "taxonomies": list(self.taxonomies), "split": self.split,
                           "out": self.out, "options": dataclasses.asdict(self.options)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainRequest":
        """Inverse of :meth:`as_json`."""
        raw = json.loads(text)
        raw["options"].setdefault("context", False)  # run folders from before conversations read turns alone
        return cls(tuple(raw["data"]), tuple(raw["taxonomies"]), raw["split"], raw["out"],
                   TrainOptions(**raw["options"]))


RUN_FILE = "run.json"
PARTIAL_SUFFIX = ".partial"


def new_run_dir(request: TrainRequest) -> Path:
    """A fresh folder for a run's checkpoints (``<out>/<run name>-<time>.partial``), holding the request."""
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = out / f"{request.options.run_name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}{PARTIAL_SUFFIX}"
    folder.mkdir()
    (folder / RUN_FILE).write_text(request.as_json())
    return folder


def read_run_dir(folder: Path) -> TrainRequest:
    """The request a run folder was started with (for ``annotator train --resume``)."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a training run folder (no {RUN_FILE}); pass the folder "
                                "`annotator train` printed when it started")
    return TrainRequest.from_json(path.read_text())


def run_training(request: TrainRequest, run_dir: Path | None = None) -> Path:
    """Load the request's data, train (resuming from ``run_dir``'s checkpoint if it has one), write the adapter
    and remove the run folder; returns the adapter folder."""
    specs = [parse_data_spec(spec) for spec in request.data]
    taxonomies = [get_taxonomy(name) for name in request.taxonomies]
    if request.options.readout == "instruction":
        if len(taxonomies) != 1:
            raise ValueError("the instruction readout trains one taxonomy; pass --taxonomy once")
        records = load_records(specs, taxonomies[0], request.split, request.options.seed)
    else:
        records = load_records_for(specs, taxonomies, request.split, request.options.seed,
                                   conversations=request.options.context)
    log.warning("train.data records=%d datasets=%d taxonomies=%s", len(records), len(specs),
                ",".join(t.name for t in taxonomies))
    path = train_adapter(records, {t.name: t.labels for t in taxonomies}, Path(request.out), request.options,
                         work_dir=run_dir)
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    return path


def train_config(options: TrainOptions, out_dir: Path) -> tuple["TrainConfig", "ModelConfig"]:
    """The one translation of :class:`TrainOptions` into ``models.training.config``'s loop and model configs."""
    from models.training.config import ModelConfig, TrainConfig

    train = TrainConfig(output_dir=out_dir, learning_rate=options.learning_rate, epochs=options.epochs,
                        max_steps=options.max_steps, max_seconds=options.max_seconds, batch_size=options.batch_size,
                        seed=options.seed, run_name=options.run_name, progress=options.progress,
                        background_per_example=options.negatives_per_example,
                        half_precision_weights=options.fp16_weights)
    model = ModelConfig(base=base_spec(), cache_dir=get_settings().cache_dir, device=resolve_device(options.device),
                        lora_r=options.lora_r, lora_alpha=options.lora_alpha)
    return train, model


def onepass_config(options: TrainOptions, taxonomies: dict[str, tuple[str, ...]], out_dir: Path,
                   preference_weight: float = 0.0) -> "OnePassConfig":
    """A one-pass run: a head per taxonomy, the cause pointer, the options' loop (and the EmPO term's weight)."""
    from models.training.config import OnePassConfig, ReadoutConfig

    train, model = train_config(options, out_dir)
    readout = ReadoutConfig(taxonomies=dict(taxonomies), frozen_layers=options.frozen_layers,
                            head_learning_rate=options.head_learning_rate, holdout_fraction=options.eval_fraction,
                            checkpoint_every=options.checkpoint_every, preference_weight=preference_weight)
    return OnePassConfig(readout=readout, train=train, model=model)


def sft_config(options: TrainOptions, labels: tuple[str, ...], out_dir: Path) -> "SFTConfig":
    """An instruction-readout run (LoRA SFT of the prompt readout) on one taxonomy."""
    from models.training.config import DataConfig, SFTConfig

    train, model = train_config(options, out_dir)
    return SFTConfig(data=DataConfig(train_file=Path("-"), labels=labels, eval_fraction=options.eval_fraction),
                     train=train, model=model)


def train_adapter(records: Sequence[dict[str, Any]], taxonomies: dict[str, tuple[str, ...]], out_dir: Path,
                  options: TrainOptions, work_dir: Path | None = None) -> Path:
    """Train an adapter on training records and write ``out_dir/<version>/``; returns that folder.

    ``onepass`` (default): LoRA on the upper layers plus a head per taxonomy and the cause pointer,
    resumable from ``work_dir``. ``instruction``: LoRA SFT of the prompt readout (one taxonomy).
    """
    from models.training.data import example_from_dict

    if not records:
        raise ValueError("no training examples: the datasets had no field usable for this taxonomy")
    examples = [example_from_dict(record) for record in records]
    init = Path(options.init_adapter) if options.init_adapter else None
    if options.max_examples is not None:
        examples = examples[: options.max_examples]
    if options.readout == "instruction":
        from models.training.sft import train as train_sft

        (_, labels), = taxonomies.items()
        return train_sft(sft_config(options, labels, out_dir), examples, init_adapter=init)
    from models.onepass.train import train_onepass

    return train_onepass(onepass_config(options, taxonomies, out_dir), examples, init_adapter=init,
                         work_dir=work_dir)
