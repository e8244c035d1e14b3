"""All database tables, in one module (named ``tables`` so it is never confused with the ``models`` ML package).

Machine output (``Prediction``) and human output (``Annotation``) live in separate tables. Unique
constraints are named and make every writer safe to re-run: an item once per project by content hash
and by external id, a prediction once per (item, adapter version), an annotation once per
(item, annotator).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from annotator.states import AdapterStatus, AnnotationStatus, JobState, RunState

# Named constraints so that migrations are stable on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Timezone-aware now, for created_at columns."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    """A corpus being labelled with one emotion taxonomy."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    taxonomy: Mapped[str] = mapped_column(String(100))
    labels: Mapped[list[Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active_adapter_id: Mapped[int | None] = mapped_column(
        ForeignKey("adapters.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Item(Base):
    """One text to label, alone or as one turn of a conversation.

    ``content_hash`` is the item's identity within its project: the hash of ``text`` exactly as stored for a
    lone item (one item per distinct text), and of (conversation, turn, text) for a turn, so the same words
    said in two conversations, or twice in one, stay two items (see ``annotator.hashing.item_hash``).
    """

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "content_hash"),
        UniqueConstraint("project_id", "external_id"),
        Index("ix_items_project_id_conversation_id_turn", "project_id", "conversation_id", "turn"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(32))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conversation_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0-based position in the conversation
    speaker: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Adapter(Base):
    """A LoRA adapter version over a base model. Kept forever so a project can roll back."""

    __tablename__ = "adapters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[str] = mapped_column(String(200), unique=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), nullable=True, index=True
    )
    base_model: Mapped[str] = mapped_column(String(500))
    base_model_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=AdapterStatus.CANDIDATE)  # states.AdapterStatus
    readout: Mapped[str | None] = mapped_column(String(50), nullable=True)  # onepass.v1 | instruction
    # tuned per-label decision thresholds: taxonomy -> label -> threshold (one-pass adapters)
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    training_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Prediction(Base):
    """What one adapter version said about one item. ``emotions`` maps every label to its probability."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("item_id", "adapter_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    adapter_version: Mapped[str] = mapped_column(String(200), index=True)
    emotions: Mapped[dict[str, Any]] = mapped_column(JSON)
    intensity: Mapped[float | None] = mapped_column(Float, nullable=True)  # that of the most probable emotion
    intensities: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # label -> [0, 1]
    cause_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    cause_turn: Mapped[int | None] = mapped_column(Integer, nullable=True)  # an earlier turn the span lies in
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # models.onepass.embedding: 64 float16 numbers (one-pass readout), what "what to label next" compares
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # backend, task versions
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotation(Base):
    """A human's labels for one item. ``status`` is 'accepted' or 'rejected' (invalid, kept with its reason)."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("item_id", "annotator"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(200), index=True)
    emotions: Mapped[list[Any]] = mapped_column(JSON)
    intensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    intensities: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # chosen label -> [0, 1]
    cause_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A cause in an earlier turn of the item's conversation: that turn (the offsets are in its text).
    # NULL: the offsets are in the item's own text.
    cause_turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The annotator says the cause is not in the conversation at all (RECCON's latent cause): no span.
    cause_outside: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    source: Mapped[str] = mapped_column(String(50))  # labelstudio | dashboard | import
    status: Mapped[str] = mapped_column(String(20), default=AnnotationStatus.ACCEPTED)  # states.AnnotationStatus
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    lead_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    based_on_adapter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class TrainingRun(Base):
    """One training or retraining job: its data, parameters, metrics and promotion decision."""

    __tablename__ = "training_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(50))  # sft | sft+dpo
    state: Mapped[str] = mapped_column(String(20), default=RunState.QUEUED)  # states.RunState
    from_adapter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    candidate_adapter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_train: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_gold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)  # promoted | refused
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgreementReport(Base):
    """One agreement figure (e.g. Krippendorff's alpha for one field) at one point in time."""

    __tablename__ = "agreement_reports"
    __table_args__ = (Index("ix_agreement_reports_project_id_field", "project_id", "field"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(100))  # e.g. emotion:joy, emotions, intensity, cause
    coders: Mapped[str] = mapped_column(String(50))  # human-human | labeler-human
    metric: Mapped[str] = mapped_column(String(50), default="krippendorff_alpha")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_coders: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestRun(Base):
    """One `annotator ingest` of one source; its checkpoint lets an interrupted run continue."""

    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(200), nullable=True)
    format: Mapped[str] = mapped_column(String(50))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=RunState.RUNNING)  # states.RunState: running|done
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)  # rows consumed, the resume point
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_duplicate: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # moves with every committed batch: a running run with a fresh heartbeat belongs to a live process
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IngestError(Base):
    """A rejected input row, kept whole (``raw``) so it can be fixed and re-ingested."""

    __tablename__ = "ingest_errors"
    __table_args__ = (UniqueConstraint("project_id", "source", "line_number", "raw_hash"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("ingest_runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[str] = mapped_column(String(1000))
    line_number: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    raw_excerpt: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A unit of background work (pre-labeling, retraining, a Label Studio sync) and its progress.

    The database, not the broker, is the source of truth: ``done``/``total`` survive a broker restart,
    and a job can be resumed by re-enqueueing whatever its scope still lacks.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_project_id_kind", "project_id", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))  # prelabel | retrain | ...
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=True)
    adapter_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(50), nullable=True)
    dispatch: Mapped[str] = mapped_column(String(20), default="inprocess")  # inprocess | celery
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED)  # states.JobState
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # moves whenever the job's work advances: a running job whose heartbeat is old has nobody working on it
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobBatch(Base):
    """A finished batch of a job (keyed by its first item), so its items count towards the job once."""

    __tablename__ = "job_batches"
    __table_args__ = (UniqueConstraint("job_id", "first_item_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    first_item_id: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A dashboard account. ``password_hash`` is a salted scrypt hash, never the password."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), default="annotator")  # annotator | admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Adjudication(Base):
    """A reviewer's final label for an item its annotators disagreed on: it becomes the item's consensus."""

    __tablename__ = "adjudications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    emotions: Mapped[list[Any]] = mapped_column(JSON)
    intensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    cause_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    cause_turn: Mapped[int | None] = mapped_column(Integer, nullable=True)  # an earlier turn the span lies in
    cause_outside: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # not in the conversation
    # whose answer the reviewer took as it was (an annotator's name, "labeler"), or None: edited
    chosen_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    annotators: Mapped[list[Any]] = mapped_column(JSON)  # whose annotations the reviewer saw
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoldAnswer(Base):
    """The known answer of a gold (honeypot) item: mixed into review queues like any other item, and every
    annotator's answer to it is scored against this one."""

    __tablename__ = "gold_answers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    emotions: Mapped[list[Any]] = mapped_column(JSON)
    intensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    cause_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ItemClaim(Base):
    """An annotator working on an item in the dashboard: it holds one of the item's ``overlap`` slots until
    it expires or their annotation takes the slot."""

    __tablename__ = "item_claims"
    __table_args__ = (UniqueConstraint("item_id", "annotator"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    annotator: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """Failed dashboard log-ins of one account (``account:<name>``) or one client (``client:<address>``)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LabelStudioTask(Base):
    """Which Label Studio task holds one of our items, and which prediction was sent with it.

    Makes ``annotator labelstudio push`` idempotent: an item is sent again only when it has no task yet
    or its current prediction (``prediction_version``) changed since the last push.
    """

    __tablename__ = "labelstudio_tasks"
    __table_args__ = (
        UniqueConstraint("ls_project_id", "item_id"),
        Index("ix_labelstudio_tasks_ls_project_id_ls_task_id", "ls_project_id", "ls_task_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    ls_project_id: Mapped[int] = mapped_column(BigInteger)
    ls_task_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    prediction_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
