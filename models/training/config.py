"""Training configuration: small dataclasses, one concern each, every field with help text.

``SFTConfig`` groups them; ``sft.main(cfg)`` takes it, so a worker or a test can call training without argv.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.base import DEFAULT_CACHE_DIR
from models.tasks.registry import DEFAULT_TASKS

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class DataConfig:
    """Where the labeled examples come from and how they are split."""

    train_file: Path = field(
        metadata={"help": 'JSONL, one example a line: {"text", "emotions": [..]|null, "intensity": x|null, '
                          '"cause": [start, end]|null}; null = not annotated, [s, s] = annotated "no cause"'}
    )
    labels: tuple[str, ...] = field(metadata={"help": "the taxonomy, in order; every other label is a 'no'"})
    eval_fraction: float = field(default=0.1, metadata={"help": "share of examples held out for metrics"})
    max_examples: int | None = field(default=None, metadata={"help": "use at most this many (after shuffling)"})

    def __post_init__(self) -> None:
        self.train_file = Path(self.train_file)
        self.labels = tuple(self.labels)
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError("eval_fraction must be in [0, 1)")
        if len(self.labels) < 1 or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be non-empty and distinct")
        if self.max_examples is not None and self.max_examples < 1:
            raise ValueError("max_examples must be >= 1")


@dataclass
class ModelConfig:
    """The base model, the tasks trained, and the LoRA adapter shape."""

    base: str | None = field(default=None, metadata={"help": "None = packaged SmolLM2-135M-Instruct; or a .gguf / HF folder"})
    cache_dir: Path = field(default=DEFAULT_CACHE_DIR, metadata={"help": "where converted bases are kept"})
    tasks: tuple[str, ...] = field(default=DEFAULT_TASKS, metadata={"help": "registered task names"})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda or cuda:N (fp32 on CPU, bf16 on GPU)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    lora_target_modules: tuple[str, ...] = field(default=LORA_TARGETS, metadata={"help": "module names to adapt"})

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir)
        self.tasks = tuple(self.tasks)
        self.lora_target_modules = tuple(self.lora_target_modules)
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise ValueError("lora_r and lora_alpha must be >= 1")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError("lora_dropout must be in [0, 1)")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")


@dataclass
class TrainConfig:
    """The optimisation loop and where the adapter is written."""

    output_dir: Path = field(metadata={"help": "adapters are written to <output_dir>/<version>/"})
    learning_rate: float = field(default=2e-4, metadata={"help": "AdamW peak learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the training split (ignored if max_steps)"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimizer steps"})
    max_seconds: float | None = field(
        default=None, metadata={"help": "stop (and still save) once training has run this long; the schedule "
                                        "keeps planning for max_steps"}
    )
    batch_size: int = field(default=8, metadata={"help": "examples per step (each is a whole branch tree)"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "linear warmup share of the steps, then linear decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    seed: int = field(default=0, metadata={"help": "seeds the split, the order and the LoRA init"})
    eval_batch_size: int = field(default=32, metadata={"help": "batch size for held-out predictions"})
    run_name: str = field(default="sft", metadata={"help": "first part of the adapter version"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    background_per_example: int | None = field(
        default=None, metadata={"help": "train on at most this many 'background' answers (an emotion's 'no') per "
                                        "example and step, importance-weighted; None = all"}
    )
    half_precision_weights: bool = field(
        default=False, metadata={"help": "round the trained LoRA weights to fp16 and save them so (half the size)"}
    )

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if self.learning_rate <= 0 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("learning_rate must be > 0 and batch sizes >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max_seconds must be > 0")
        if self.epochs <= 0:
            raise ValueError("epochs must be > 0")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.background_per_example is not None and self.background_per_example < 1:
            raise ValueError("background_per_example must be >= 1")
        if not self.run_name.replace("-", "").replace("_", "").isalnum():
            raise ValueError("run_name may use letters, digits, '-' and '_' only")


@dataclass
class SFTConfig:
    """Everything one SFT run needs."""

    data: DataConfig
    train: TrainConfig
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass
class ReadoutConfig:
    """The one-pass readout: which heads to train, where the adapter starts, how the losses are weighed."""

    taxonomies: dict[str, tuple[str, ...]] = field(
        metadata={"help": "taxonomy name -> its labels, in order: one emotion/intensity head each"})
    cause: bool = field(default=True, metadata={"help": "train the cause pointer"})
    frozen_layers: int = field(default=18, metadata={"help": "lower layers without adapter; their output is "
                                                              "computed once per example and kept"})
    head_learning_rate: float = field(default=1e-3, metadata={"help": "AdamW peak learning rate of the heads"})
    emotion_weight: float = field(default=1.0, metadata={"help": "weight of the emotion loss (BCE summed over labels)"})
    intensity_weight: float = field(default=10.0, metadata={"help": "weight of the intensity loss (squared error)"})
    cause_weight: float = field(default=1.0, metadata={"help": "weight of the cause loss (start + end CE)"})
    preference_weight: float = field(default=0.0, metadata={"help": "weight of the EmPO ranking term on corrected "
                                                                      "answers (chosen labels above the rejected "
                                                                      "ones and their Plutchik opposites)"})
    max_text_tokens: int = field(default=128, metadata={"help": "text tokens read per item (the rest is cut)"})
    holdout_fraction: float = field(default=0.05, metadata={"help": "share of items held out to tune the "
                                                                     "thresholds and measure the run"})
    checkpoint_every: int = field(default=100, metadata={"help": "steps between checkpoints (resumable runs)"})
    min_intensity_examples: int = field(default=10, metadata={"help": "an emotion's own intensity output is used "
                                                                        "once it was trained on this many items"})

    def __post_init__(self) -> None:
        self.taxonomies = {str(k): tuple(v) for k, v in self.taxonomies.items()}
        if self.frozen_layers < 0 or self.max_text_tokens < 1 or self.checkpoint_every < 1:
            raise ValueError("frozen_layers must be >= 0, max_text_tokens and checkpoint_every >= 1")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in [0, 1)")
        if min(self.emotion_weight, self.intensity_weight, self.cause_weight, self.preference_weight) < 0 \
                or self.head_learning_rate <= 0:
            raise ValueError("loss weights must be >= 0 and head_learning_rate > 0")


@dataclass
class OnePassConfig:
    """Everything one one-pass training run needs."""

    readout: ReadoutConfig
    train: TrainConfig
    model: ModelConfig = field(default_factory=ModelConfig)
