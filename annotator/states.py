"""Every status a row can be in, as string enums (the database stores their values)."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A background job: queued -> running -> done | failed | cancelled (failed or cancelled can be resumed)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class JobKind(StrEnum):
    """What a job does; each kind registers its runner with :mod:`annotator.jobs.service`."""

    PRELABEL = "prelabel"
    RETRAIN = "retrain"


class AdapterStatus(StrEnum):
    """An adapter row: a candidate (registered), the active one of its project, retired (replaced),
    rejected (refused by the promotion gate), or the shipped default that labels projects with none."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"
    DEFAULT = "default"


class AnnotationStatus(StrEnum):
    """A human annotation: accepted, or rejected (invalid; kept with its reason)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RunState(StrEnum):
    """A training run or an ingest run."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Decision(StrEnum):
    """The promotion gate's verdict on a candidate adapter."""

    PROMOTED = "promoted"
    REFUSED = "refused"
