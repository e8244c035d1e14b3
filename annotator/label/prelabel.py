"""Pre-labeling: split a project's unlabeled items into batches and label each batch with the labeler.

``label_batch`` is the one code path of a batch, whoever runs it: a Celery worker (``worker.tasks``)
or this process (the embedded default, no broker). It is idempotent: a redelivered batch skips what
is already written, and predictions plus the job's progress commit in one transaction.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from annotator import repo
from annotator.db import session_scope
from annotator.jobs import dispatch
from annotator.jobs.service import (
    complete_batch_in,
    create_job,
    fail_job,
    finish_if_complete,
    get_job,
    keep_alive,
    mark_running,
    queue_name,
    register_dispatcher,
    reopen_job,
)
from annotator.label.adapters import (
    base_spec,
    default_adapter_path,
    ensure_adapter_row,
    resolve_adapter,
    resolve_device,
)
from annotator.label.predictions import pack_embedding
from annotator.label.thresholds import DEFAULT_THRESHOLD, decision_margin
from annotator.settings import get_settings
from annotator.states import AdapterStatus, JobKind, JobState
from annotator.tables import Job

log = logging.getLogger("annotator.prelabel")

# Items per page when listing what is left to label (the scope of a job can be millions of items).
_PAGE = 10_000


class ModelLoadError(RuntimeError):
    """The labeler cannot be loaded on this worker (missing base or adapter, bad device): retrying won't help."""


def start_prelabel(
    engine: Engine,
    project: str,
    *,
    adapter: str | None = None,
    batch_size: int | None = None,
    only_missing: bool = False,
    untouched_only: bool = False,
    limit: int | None = None,
    queue: str | None = None,
) -> int:
    """Create a pre-labeling job over the project's unlabeled items (as of now) and return its id.

    ``limit`` labels only the first N of them (by id), e.g. to try an adapter on a sample.
    Dispatch it with ``annotator.jobs.service.submit_job``.
    """
    size = batch_size or get_settings().prelabel_batch_size
    if size < 1:
        raise ValueError("--batch-size must be at least 1")
    if limit is not None and limit < 0:
        raise ValueError("--limit must be at least 0")
    with session_scope(engine) as db:
        row = repo.get_project_or_raise(db, project)
        choice = resolve_adapter(db, row, adapter)
        if choice.path is not None:  # a row for every adapter that labels: its version and thresholds are known
            ensure_adapter_row(db, Path(choice.path), AdapterStatus.DEFAULT if choice.shipped else AdapterStatus.CANDIDATE)
        top = repo.max_item_id(db, row.id)
        params = {"adapter_path": choice.path, "batch_size": size, "only_missing": only_missing,
                  "untouched_only": untouched_only, "max_item_id": top}
        total = repo.count_unlabeled_items(db, row.id, choice.version, max_item_id=top, only_missing=only_missing,
                                           untouched_only=untouched_only)
        if limit is not None and limit < total:
            # freeze the scope at the limit-th unlabeled item (nothing at all for --limit 0)
            params["max_item_id"] = (repo.unlabeled_item_ids(db, row.id, choice.version, max_item_id=top,
                                                             only_missing=only_missing, untouched_only=untouched_only,
                                                             offset=limit - 1, limit=1)[0] if limit else 0)
            total = limit
        job = create_job(db, JobKind.PRELABEL, row.id, adapter_version=choice.version, total=total, params=params,
                         queue=queue)
        return job.id


def remaining_batches(engine: Engine, job_id: int) -> list[list[int]]:
    """The job's items that still lack its adapter's prediction, in batches of the job's batch size."""
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        project_id, version = _scope(job)
        size = int(job.params["batch_size"])
        batches: list[list[int]] = []
        for page in _pages(db, project_id, version, job.params):
            batches.extend(page[i : i + size] for i in range(0, len(page), size))
        return batches


def dispatch_prelabel(engine: Engine, job_id: int, wait: bool = True) -> None:
    """Send every batch still missing to Celery, or run them here (in a thread when ``wait`` is False).

    This is also how ``--resume`` works: after a broker restart lost the queued messages, it re-sends
    what is missing; batches that are still queued somewhere are harmless duplicates (skipped on write).
    """
    reopen_job(engine, job_id)  # resuming a failed or cancelled job retries it
    with session_scope(engine) as db:
        queue = queue_name(get_job(db, job_id))
    batches = remaining_batches(engine, job_id)
    if not batches:
        mark_running(engine, job_id)
        finish_if_complete(engine, job_id, _result, force=True)  # nothing left: done, whoever labeled it
        return
    if get_settings().broker_url:
        for batch in batches:
            dispatch.send_label_batch(job_id, batch, queue)
        return
    if wait:
        run_batches(engine, job_id, batches)
    else:
        threading.Thread(target=run_batches, args=(engine, job_id, batches), daemon=True,
                         name=f"prelabel-{job_id}").start()


def run_batches(engine: Engine, job_id: int, batches: list[list[int]]) -> None:
    """Run batches one after another in this process (the embedded default)."""
    try:
        for batch in batches:
            label_batch(engine, job_id, batch)
    except ModelLoadError:
        return  # already recorded on the job by label_batch
    except Exception as exc:  # in process nobody else would ever mark the job: record why it stopped
        fail_job(engine, job_id, f"{type(exc).__name__}: {exc}")
        raise


def label_batch(engine: Engine, job_id: int, item_ids: list[int]) -> int:
    """Label the items of one batch that are not labeled yet and write their predictions; returns how many.

    The batch is worked through in slices of ``ANNOTATOR_PRELABEL_PROGRESS_ITEMS`` items; each slice's
    predictions and its count towards the job commit together, so progress moves every few items, not
    once per batch. A slice counts all its items (another job may have labeled some), and only once,
    however often its batch is redelivered (slices split the same way every time); the job finishes
    when no item of its scope lacks a prediction.
    """
    with session_scope(engine) as db:  # the job's row is read once per batch
        job = get_job(db, job_id)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            return 0
        project_id, version = _scope(job)
        params, queued = dict(job.params), job.state == JobState.QUEUED
        labels = tuple(repo.get_project_by_id(db, project_id).labels)
        todo = {item.id: _Todo(item.id, item.text, item.conversation_id, item.turn)
                for item in repo.items_without_prediction(db, item_ids, version)}
    if queued:
        mark_running(engine, job_id)
    step = get_settings().prelabel_progress_items
    ordered = sorted(item_ids)
    written = 0
    with keep_alive(engine, job_id):
        for lo in range(0, len(ordered), step):
            piece = ordered[lo:lo + step]
            rows = _predict(engine, job_id, version, params, labels, [todo[i] for i in piece if i in todo])
            with engine.begin() as conn:  # the slice's items all have their prediction now: count them, once
                written += repo.insert_predictions(conn, rows)
                complete_batch_in(conn, job_id, piece)
    finish_if_complete(engine, job_id, _result, verify=_nothing_left)
    return written


@dataclass(frozen=True)
class _Todo:
    """An item to label, as read in the batch's first transaction."""

    id: int
    text: str
    conversation: str | None
    turn: int | None

    @property
    def key(self) -> tuple[str, int] | None:
        return (self.conversation, self.turn) if self.conversation is not None and self.turn is not None else None


def _predict(engine: Engine, job_id: int, version: str, params: dict[str, Any], labels: tuple[str, ...],
             todo: list[_Todo]) -> list[dict[str, Any]]:
    """The prediction rows for ``todo``; turns of conversations are read after the turns before them where
    the labeler was trained so (one pass per piece of conversation)."""
    if todo:
        try:
            labeler = load_labeler(params.get("adapter_path"), labels)
        except ModelLoadError as exc:
            fail_job(engine, job_id, str(exc))
            raise
        texts, batch_size = [t.text for t in todo], min(len(todo), 64)
        in_context = getattr(labeler, "reads_context", False) and any(t.key for t in todo)
        if in_context:
            conversations = _conversations(engine, [t.id for t in todo if t.key])
            predictions = labeler.predict_turns(texts, [t.key for t in todo], conversations, batch_size=batch_size)
        else:
            predictions = labeler.predict(texts, batch_size=batch_size)
        if predictions and predictions[0].adapter_version != version:
            message = (f"the adapter at {params.get('adapter_path')} is version {predictions[0].adapter_version}, "
                       f"the job expects {version}")
            fail_job(engine, job_id, message)
            raise ModelLoadError(message)
        return [_prediction_row(t.id, p, job_id, labeler, in_context and t.key is not None)
                for t, p in zip(todo, predictions)]
    return []


def _conversations(engine: Engine, item_ids: list[int]) -> dict[str, list[tuple[int, Any]]]:
    """The turns up to each of these items of their conversations: name -> ``(turn, Turn)`` in order."""
    from models.onepass.dialogue import Turn

    with session_scope(engine) as db:
        items = repo.items_by_ids(db, item_ids)
        earlier = repo.earlier_turns(db, items)
        found: dict[str, dict[int, Any]] = {}
        for item in items:
            for turn in [*earlier.get(item.id, []), item]:
                if turn.conversation_id is not None and turn.turn is not None:
                    found.setdefault(turn.conversation_id, {})[turn.turn] = Turn(turn.text, turn.speaker)
    return {name: sorted(turns.items()) for name, turns in found.items()}


# --- the labeler, loaded once per process and kept warm ---------------------------------------------

_labelers: dict[tuple[Any, ...], Any] = {}
_labelers_lock = threading.Lock()


def load_labeler(adapter_path: str | None, labels: tuple[str, ...]) -> Any:
    """The labeler for this adapter and taxonomy, loaded on first use in this process and then reused."""
    settings = get_settings()
    key = (settings.base_model, adapter_path, labels, settings.device, _backend_name())
    with _labelers_lock:
        if key not in _labelers:
            # a vLLM engine serves every adapter of this process (multi-LoRA): load the base only once
            same_engine = (key[0], key[3], key[4])  # base, device, backend
            engine = next((labeler for k, labeler in _labelers.items() if (k[0], k[3], k[4]) == same_engine),
                          None) if key[4] == "vllm" else None
            _labelers[key] = (_build_labeler(adapter_path, labels) if engine is None
                              else engine.with_adapter(Path(adapter_path) if adapter_path else None, labels))
            log.warning("labeler.loaded adapter=%s device=%s labels=%d backend=%s", _labelers[key].version,
                        resolve_device(settings.device), len(labels), _backend_name())
        return _labelers[key]


def describe_labeler_target() -> dict[str, str]:
    """What a worker in this process would serve: base model, device and backend (for its startup log)."""
    settings = get_settings()
    shipped = default_adapter_path()
    return {"base_model": settings.base_model, "device": resolve_device(settings.device), "backend": _backend_name(),
            "default_adapter": str(shipped) if shipped else "none (zero-shot base)"}


def _build_labeler(adapter_path: str | None, labels: tuple[str, ...]) -> Any:
    settings = get_settings()
    try:
        from models.labeler import open_labeler
    except ImportError as exc:
        raise ModelLoadError(
            f"the labeler needs the ML extra: pip install 'emo-annotator[ml]' ({exc})"
        ) from exc
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    base = base_spec()
    if adapter_path is not None and not Path(adapter_path).is_dir():
        raise ModelLoadError(f"adapter folder {adapter_path} does not exist on this worker "
                             "(mount the adapters directory, ANNOTATOR_ADAPTERS_DIR, on every worker)")
    try:
        return open_labeler(base, Path(adapter_path) if adapter_path else None, labels,
                            device=resolve_device(settings.device), backend=_backend_name(),
                            cache_dir=settings.cache_dir)
    except Exception as exc:  # any failure to load is permanent for this worker: say what and where
        raise ModelLoadError(f"cannot load the labeler (base {settings.base_model!r}, adapter {adapter_path}, "
                             f"device {settings.device!r}): {type(exc).__name__}: {exc}") from exc


def _backend_name() -> str:
    return str(getattr(get_settings(), "backend", "transformers"))


def _prediction_row(item_id: int, prediction: Any, job_id: int, labeler: Any, in_context: bool = False) -> dict[str, Any]:
    cause = prediction.cause
    return {
        "item_id": item_id,
        "adapter_version": prediction.adapter_version,
        "emotions": prediction.emotions,
        "intensity": prediction.intensity,
        "intensities": prediction.intensities,
        "cause_start": cause[0] if cause else None,
        "cause_end": cause[1] if cause else None,
        "cause_text": cause[2] if cause else None,
        "cause_turn": getattr(prediction, "cause_turn", None) if cause else None,  # instruction readout: none
        # how sure the least certain decision is, at the labeler's own thresholds (0.5 where it has none)
        "confidence": decision_margin(prediction.emotions, labeler.thresholds or DEFAULT_THRESHOLD),
        "embedding": pack_embedding(prediction.embedding) if prediction.embedding else None,
        "provenance": {"backend": _backend_name(), "base_model": labeler.base.model_id,
                       "base_sha256": labeler.base.sha256, "device": resolve_device(get_settings().device),
                       "context": in_context},
        "job_id": job_id,
    }


def _pages(db: Any, project_id: int, version: str, params: dict[str, Any]):
    after = 0
    while True:
        page = repo.unlabeled_item_ids(
            db, project_id, version, max_item_id=params["max_item_id"], only_missing=params["only_missing"],
            untouched_only=params["untouched_only"], after_id=after, limit=_PAGE,
        )
        if not page:
            return
        yield page
        after = page[-1]


def _scope(job: Job) -> tuple[int, str]:
    """A pre-labeling job's project and adapter version (it always has both)."""
    if job.project_id is None or job.adapter_version is None:
        raise ValueError(f"job {job.id} is not a pre-labeling job (no project or adapter version)")
    return job.project_id, job.adapter_version


def _nothing_left(engine: Engine, job: Job) -> bool:
    """No item of the job's scope lacks the job's prediction (the check before a job is called done)."""
    project_id, version = _scope(job)
    with session_scope(engine) as db:
        return repo.count_unlabeled_items(db, project_id, version, max_item_id=job.params["max_item_id"],
                                          only_missing=job.params["only_missing"],
                                          untouched_only=job.params["untouched_only"]) == 0


def _result(job: Job) -> dict[str, Any]:
    return {"labeled": job.done, "total": job.total, "adapter_version": job.adapter_version}


register_dispatcher(JobKind.PRELABEL, dispatch_prelabel)
