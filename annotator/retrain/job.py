"""Gated retraining: consensus -> SFT -> DPO on corrections -> both adapters on the same gold -> gate.

One job (kind ``retrain``, queue ``train``) whoever starts it: ``annotator retrain``, the dashboard's
button, or the beat schedule (``annotator.retrain.schedule``). The job

1. reads the project's consensus data (train items and the held-out gold, which never enters training);
2. continues training the starting adapter (``--from VERSION``, else the active one, else the shipped
   default, else a fresh LoRA on the base) with SFT on the consensus labels;
3. runs DPO on correction pairs (chosen = the consensus, rejected = the labeler's original answer where
   its emotions were wrong: the EmPO recipe), the reference being the SFT result;
4. evaluates the candidate and the adapter that labels the project now on the same gold;
5. promotes the candidate only if the gate (``annotator.retrain.gate``) says so, records a
   TrainingRun (data hash, sizes, both adapters' metrics, duration, decision and why) and an Adapter row
   (kept forever: ``active`` or ``rejected``; the one it replaces becomes ``retired``);
6. with ``relabel`` and a promotion, starts a pre-labeling job for the items no human has touched.

``models/`` (torch) is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import Engine, select

from annotator import repo
from annotator.db import session_scope
from annotator.jobs.service import (
    add_job_progress,
    create_job,
    get_job,
    register_runner,
    set_job_total,
    submit_job,
)
from annotator.label.adapters import (
    AdapterChoice,
    adapter_meta,
    adapter_row_values,
    promote_adapter,
    resolve_adapter,
)
from annotator.label.thresholds import Thresholds, decided
from annotator.retrain.gate import GateDecision, GatePolicy, decide
from annotator.retrain.training import TrainOptions, onepass_config, sft_config
from annotator.settings import Settings, get_settings
from annotator.states import AdapterStatus, Decision, JobKind, RunState
from annotator.tables import Adapter, Project, TrainingRun, utcnow

if TYPE_CHECKING:
    from models.tasks.base import Example
    from models.training.dpo import PreferencePair

log = logging.getLogger("annotator.retrain")

N_CONSENSUS_KEY = "n_consensus"  # TrainingRun.metrics: consensus items (train + gold) the run saw (the schedule)
STAGES = ("data", "train", "evaluate", "decide")  # the job's progress counts these


@dataclass(frozen=True)
class RetrainParams:
    """One retraining's knobs: settings (``ANNOTATOR_RETRAIN_*``) overridden by the job's params."""

    from_version: str | None = None
    relabel: bool = False
    wait: bool = True
    sft_steps: int = 200
    dpo_steps: int = 50
    batch_size: int = 8
    learning_rate: float = 2e-4
    dpo_learning_rate: float = 5e-5
    dpo_beta: float = 0.1
    preference_weight: float = 0.0
    max_examples: int = 20000
    max_pairs: int = 5000
    max_gold: int = 2000
    primary_metric: str = "emotion_macro_f1"
    margin: float = 0.01
    tolerance: float = 0.02
    seed: int = 0
    device: str = "auto"

    def policy(self) -> GatePolicy:
        """The promotion gate these params describe."""
        return GatePolicy(primary=self.primary_metric, margin=self.margin, tolerance=self.tolerance)

    def train_options(self, project: str, holdout: float) -> TrainOptions:
        """The training options of this retraining (the same options ``annotator train`` takes)."""
        return TrainOptions(max_steps=self.sft_steps, batch_size=self.batch_size, learning_rate=self.learning_rate,
                            seed=self.seed, device=self.device, eval_fraction=holdout, frozen_layers=0,
                            run_name=f"retrain-{_safe(project)}", progress=False)


def retrain_params(overrides: dict[str, Any] | None, settings: Settings | None = None) -> RetrainParams:
    """Settings' defaults with ``overrides`` (a job's params) applied; unknown keys are refused."""
    s = settings or get_settings()
    defaults = RetrainParams(
        sft_steps=s.retrain_sft_steps, dpo_steps=s.retrain_dpo_steps, batch_size=s.retrain_batch_size,
        learning_rate=s.retrain_learning_rate, dpo_learning_rate=s.retrain_dpo_learning_rate,
        dpo_beta=s.retrain_dpo_beta, preference_weight=s.retrain_preference_weight,
        max_examples=s.retrain_max_examples, max_pairs=s.retrain_max_pairs,
        max_gold=s.retrain_max_gold, primary_metric=s.retrain_primary_metric, margin=s.retrain_margin,
        tolerance=s.retrain_tolerance, seed=s.retrain_seed, device=s.device,
    )
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(RetrainParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown retraining parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    params = dataclasses.replace(defaults, **overrides)
    for name in ("sft_steps", "batch_size", "max_examples", "max_gold"):
        if int(getattr(params, name)) < 1:
            raise ValueError(f"{name} must be >= 1")
    if params.dpo_steps < 0 or params.max_pairs < 0 or params.tolerance < 0:
        raise ValueError("dpo_steps, max_pairs and tolerance must be >= 0")
    return params


def start_retrain(engine: Engine, project: str, *, from_version: str | None = None, relabel: bool = False,
                  wait: bool = True, overrides: dict[str, Any] | None = None) -> int:
    """Create a retraining job (kind 'retrain', queue 'train') for ``project``, submit it, return its id.

    ``overrides``: any :class:`RetrainParams` field (e.g. ``{"sft_steps": 10}``) for this job only.
    With ``wait`` and no broker the job runs here and this returns when it is finished. A project without
    consensus items to train on, or without gold to compare on, is refused here (ValueError): no job is made.
    """
    params = {**(overrides or {}), "from_version": from_version, "relabel": relabel, "wait": wait}
    retrain_params(params)  # refuse bad parameters before anything is queued
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        if from_version is not None:
            resolve_adapter(db, proj, from_version)  # NotFound now, not later in a worker
    check_trainable(project, consensus_dataset(engine, project))  # no job that is bound to fail
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        job = create_job(db, JobKind.RETRAIN, proj.id, adapter_version=from_version, params=params, queue="train")
        job_id = job.id
    submit_job(engine, job_id, wait=wait)
    return job_id


def run_retrain_job(engine: Engine, job_id: int) -> dict[str, Any]:
    """The runner of retraining jobs: retrain, gate, record; returns the job's result."""
    with session_scope(engine) as db:
        job = get_job(db, job_id)
        proj = db.get(Project, job.project_id)
        if proj is None:
            raise repo.NotFound(f"job {job_id} names no existing project")
        params = retrain_params(job.params)
        start = resolve_adapter(db, proj, params.from_version)
        current = resolve_adapter(db, proj, None)  # what labels the project now: the candidate's rival
        run = TrainingRun(project_id=proj.id, kind="pending", state=RunState.RUNNING,
                          from_adapter=start.version, params={**dataclasses.asdict(params), "job_id": job_id},
                          started_at=utcnow())
        db.add(run)
        db.flush()
        run_id, name, labels = run.id, proj.name, tuple(proj.labels)
    set_job_total(engine, job_id, len(STAGES))
    try:
        return _retrain(engine, job_id, run_id, name, labels, params, start, current)
    except Exception as exc:
        with session_scope(engine) as db:
            failed = db.get(TrainingRun, run_id)
            if failed is not None:
                failed.state, failed.finished_at = RunState.FAILED, utcnow()
                failed.error = f"{type(exc).__name__}: {exc}"[:4000]
        raise


def _retrain(engine: Engine, job_id: int, run_id: int, project: str, labels: tuple[str, ...],
             params: RetrainParams, start: AdapterChoice, current: AdapterChoice) -> dict[str, Any]:
    started = time.time()
    data = consensus_dataset(engine, project)
    rng = random.Random(params.seed)
    train_items = list(data.train)
    if len(train_items) > params.max_examples:
        train_items = rng.sample(train_items, params.max_examples)
    gold = list(data.gold)[: params.max_gold]
    check_trainable(project, data)
    examples = in_conversations(engine, train_items, [consensus_example(item) for item in train_items])
    pairs = correction_pairs(train_items)[: params.max_pairs]
    add_job_progress(engine, job_id, 1)

    candidate_path, train_metrics = train_candidate(project, labels, examples, pairs, params, start)
    add_job_progress(engine, job_id, 1)

    gold_examples = in_conversations(engine, gold, [consensus_example(item) for item in gold])
    candidate_metrics = evaluate(candidate_path, gold_examples, labels, params)
    current_metrics = evaluate(Path(current.path) if current.path else None, gold_examples, labels, params)
    add_job_progress(engine, job_id, 1)

    decision = decide(candidate_metrics, current_metrics, params.policy())
    version = _record(engine, run_id, project, candidate_path, data.data_hash, len(data.train) + len(data.gold),
                      len(train_items), len(gold), pairs,
                      candidate_metrics, current_metrics, train_metrics, decision, current, params,
                      time.time() - started, {"rule": data.rule, "left_out": data.left_out})
    relabel_job = None
    if decision.promote and params.relabel:
        relabel_job = _relabel(engine, project, version, params.wait)
    add_job_progress(engine, job_id, 1)
    log.warning("retrain.finished project=%s candidate=%s decision=%s", project, version,
                Decision.PROMOTED if decision.promote else Decision.REFUSED)
    return {
        "training_run_id": run_id, "candidate": version, "from_adapter": start.version, "compared_with": current.version,
        "decision": Decision.PROMOTED if decision.promote else Decision.REFUSED, "reason": decision.reason,
        "primary_metric": params.primary_metric, "candidate_metrics": candidate_metrics,
        "active_metrics": current_metrics, "n_train": len(train_items), "n_gold": len(gold), "n_pairs": len(pairs),
        "relabel_job_id": relabel_job,
    }


# --- data -------------------------------------------------------------------------------------------


def consensus_example(item: Any) -> "Example":
    """A consensus item as a training/evaluation example (fields the consensus lacks stay unannotated)."""
    from models.tasks.base import Example

    cause = tuple(item.cause) if item.cause is not None else None
    return Example(text=item.text, emotions=frozenset(item.emotions), intensity=item.intensity, cause=cause,
                   intensities=dict(item.intensities) if getattr(item, "intensities", None) else None,
                   cause_turn=getattr(item, "cause_turn", None) if cause is not None else None)


def in_conversations(engine: Engine, items: Sequence[Any], examples: Sequence["Example"]) -> list["Example"]:
    """``examples`` (one per consensus item) marked with the conversation turn each item is, plus every
    earlier turn of those conversations as a context-only example: a one-pass labeler trained or scored on
    them reads each turn after the turns before it."""
    from models.tasks.base import Example

    with session_scope(engine) as db:
        stored = {row.id: row for row in repo.items_by_ids(db, [item.item_id for item in items])}
        turns = [row for row in stored.values() if row.conversation_id is not None and row.turn is not None]
        earlier = repo.earlier_turns(db, turns)
        out = []
        for item, example in zip(items, examples):
            row = stored.get(item.item_id)
            if row is not None and row.conversation_id is not None and row.turn is not None:
                example = dataclasses.replace(example, conversation=row.conversation_id, turn=row.turn,
                                              speaker=row.speaker)
            out.append(example)
        labeled = {(e.conversation, e.turn) for e in out if e.conversation is not None}
        context: dict[tuple[str, int], Example] = {}
        for row in turns:
            for turn in earlier.get(row.id, []):
                key = (str(turn.conversation_id), int(turn.turn or 0))
                if key not in labeled:
                    context[key] = Example(turn.text, conversation=key[0], turn=key[1], speaker=turn.speaker)
    return out + list(context.values())


def correction_pairs(items: Sequence[Any]) -> list["PreferencePair"]:
    """DPO pairs from the items a human corrected: chosen = the consensus, rejected = the labeler's answer.

    EmPO: only corrections of the emotions make a pair (the rejected answer carries a wrong emotion); the
    pair then also holds whatever else the labeler got wrong (intensity level, cause). A labeler answer
    without a cause is its "none" answer.
    """
    from models.tasks.base import Example
    from models.training.dpo import PreferencePair

    pairs = []
    for item in items:
        original = item.corrected_from
        if not original or original.get("emotions") is None:
            continue
        rejected_emotions = frozenset(original["emotions"])
        if rejected_emotions == frozenset(item.emotions):
            continue
        chosen = consensus_example(item)
        cause = original.get("cause")
        rejected_cause = (int(cause[0]), int(cause[1])) if cause else (0, 0)
        rejected = Example(text=item.text, emotions=rejected_emotions, intensity=original.get("intensity"),
                           cause=rejected_cause if chosen.cause is not None else None,
                           cause_turn=original.get("cause_turn") if cause and chosen.cause is not None else None)
        pairs.append(PreferencePair(chosen=chosen, rejected=rejected))
    return pairs


def check_trainable(project: str, data: Any) -> None:
    """Refuse (ValueError, a message for the user) a consensus dataset that a retraining cannot use."""
    if not data.train:
        raise ValueError(f"project {project!r} has no consensus items to train on yet: annotate more items "
                         "(each needs enough annotations that agree)")
    if not data.gold:
        raise ValueError(f"project {project!r} has no held-out gold items to compare adapters on yet: annotate "
                         "more items (ANNOTATOR_CONSENSUS_GOLD_FRACTION of the consensus items are held out)")


def consensus_dataset(engine: Engine, project: str) -> Any:
    """The project's consensus train items and gold (helper AGREE's ``annotator.agree.consensus_data``)."""
    from annotator.agree.consensus_data import consensus_dataset as build

    return build(engine, project)


# --- training and evaluation ----------------------------------------------------------------------


def train_candidate(project: str, labels: tuple[str, ...], examples: Sequence["Example"],
                    pairs: Sequence["PreferencePair"], params: RetrainParams,
                    start: AdapterChoice) -> tuple[Path, dict[str, Any]]:
    """Train the candidate from the starting adapter; write it, return its folder and training metrics.

    A one-pass start (or none: a fresh one-pass adapter) continues the one-pass readout: LoRA and the head
    for the project's labels, with the EmPO ranking term on ``pairs`` when ``preference_weight`` > 0. An
    instruction-readout start gets SFT, then DPO on ``pairs``.
    """
    from models.adapters import is_onepass

    if start.path is not None and not is_onepass(Path(start.path)):
        return _train_instruction(project, labels, examples, pairs, params, start)
    return _train_onepass(project, labels, examples, pairs, params, start)


def _train_onepass(project: str, labels: tuple[str, ...], examples: Sequence["Example"],
                   pairs: Sequence["PreferencePair"], params: RetrainParams,
                   start: AdapterChoice) -> tuple[Path, dict[str, Any]]:
    from models.adapters import head_taxonomies
    from models.onepass.train import fit_onepass, save_onepass

    heads = head_taxonomies(Path(start.path)) if start.path else {}
    head = next((name for name, own in heads.items() if set(own) == set(labels)), f"project-{_safe(project)}")
    tagged = [dataclasses.replace(e, taxonomy=head) for e in examples]
    rejected = [dataclasses.replace(p.rejected, taxonomy=head) for p in pairs]
    cfg = onepass_config(params.train_options(project, holdout=0.1), {head: labels}, _out_dir(project),
                         preference_weight=params.preference_weight)
    fitted = fit_onepass(cfg, tagged, init_adapter=Path(start.path) if start.path else None, rejected=rejected)
    metrics: dict[str, Any] = {"sft_steps": fitted.meta["steps"], "sft_seconds": fitted.meta["train_seconds"],
                               "sft_loss_first": fitted.meta["losses"][0], "sft_loss_last": fitted.meta["losses"][-1],
                               "preference_weight": params.preference_weight,
                               "preference_items": fitted.meta["data"]["n_corrections"]}
    kind = "onepass+pref" if params.preference_weight > 0 and metrics["preference_items"] else "onepass"
    fitted.meta.update(kind=kind, retrain=metrics, start_adapter=start.version)
    return save_onepass(fitted, cfg.train.output_dir, cfg.train.run_name), metrics


def _train_instruction(project: str, labels: tuple[str, ...], examples: Sequence["Example"],
                       pairs: Sequence["PreferencePair"], params: RetrainParams,
                       start: AdapterChoice) -> tuple[Path, dict[str, Any]]:
    from models.training.dpo import DPOConfig, fit_dpo
    from models.training.sft import fit, save_adapter

    cfg = sft_config(params.train_options(project, holdout=0.0), labels, _out_dir(project))
    examples = [e for e in examples if e.labeled]  # the prompt readout reads each text alone: no context turns
    fitted = fit(cfg, examples, init_adapter=Path(start.path) if start.path else None)
    metrics: dict[str, Any] = {"sft_steps": fitted.meta["steps"], "sft_seconds": fitted.meta["train_seconds"],
                               "sft_loss_first": fitted.meta["losses"][0], "sft_loss_last": fitted.meta["losses"][-1]}
    if params.dpo_steps and pairs:
        dpo_cfg = DPOConfig(beta=params.dpo_beta, learning_rate=params.dpo_learning_rate, max_steps=params.dpo_steps,
                            batch_size=params.batch_size, seed=params.seed, device=cfg.model.device, progress=False)
        dpo_metrics = fit_dpo(fitted.model, fitted.prompter, pairs, dpo_cfg)
        metrics.update({k: v for k, v in dpo_metrics.items() if k != "dpo_losses"})
    meta = {**fitted.meta, "kind": "sft+dpo" if "dpo_loss_last" in metrics else "sft", "retrain": metrics,
            "start_adapter": start.version}
    path = save_adapter(fitted.model, cfg.train.output_dir, cfg.train.run_name, meta,
                        half=cfg.train.half_precision_weights)
    return path, metrics


def _out_dir(project: str) -> Path:
    """Where a project's retrained adapters are written."""
    return get_settings().adapters_dir / _safe(project)


def evaluate(adapter_path: Path | None, gold: Sequence["Example"], labels: Sequence[str],
             params: RetrainParams) -> dict[str, float]:
    """An adapter's metrics on ``gold`` (``models.training.metrics.all_metrics``: emotion F1, intensity, cause)
    plus ``alpha_emotions``, Krippendorff's alpha (MASI on the emotion sets) of its answers against the consensus.

    Both adapters of a retraining go through this one function, on the same gold examples.
    """
    from annotator.retrain.evaluation import score_examples

    scored = score_examples(adapter_path, gold, labels, device=params.device)
    gold = [example for example in gold if example.labeled]  # predictions come back for these (not context)
    metrics = {k: float(v) for k, v in scored.metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("n_")}
    agreement = alpha_against_consensus(gold, [p.emotions for p in scored.predictions], scored.thresholds)
    if agreement is not None:
        metrics["alpha_emotions"] = agreement
    return metrics


def alpha_against_consensus(gold: Sequence["Example"], scores: Sequence[dict[str, float]],
                            threshold: Thresholds = 0.5) -> float | None:
    """Alpha (MASI distance on emotion sets, helper AGREE's code) of the thresholded predictions and the
    consensus as two coders; None when undefined."""
    from annotator.agree.alpha import alpha
    from annotator.agree.matrix import Coding, value_counts

    codings, texts = [], {}
    for i, (example, probs) in enumerate(zip(gold, scores)):
        if example.emotions is None:
            continue
        texts[i] = example.text
        codings.append(Coding(i, "consensus", frozenset(example.emotions)))
        codings.append(Coding(i, "adapter", frozenset(decided(probs, threshold))))
    return alpha(value_counts(codings, "emotions", texts)) if codings else None


# --- records --------------------------------------------------------------------------------------


def _record(engine: Engine, run_id: int, project: str, candidate_path: Path, data_hash: str, n_consensus: int,
            n_train: int, n_gold: int, pairs: Sequence[Any], candidate_metrics: dict[str, float], current_metrics: dict[str, float],
            train_metrics: dict[str, Any], decision: GateDecision, current: AdapterChoice, params: RetrainParams,
            seconds: float, consensus: dict[str, Any]) -> str:
    """Write the candidate's Adapter row, promote it if the gate said so, and close the TrainingRun (with the
    consensus rules its data was built with and who they left out)."""

    meta = adapter_meta(candidate_path)
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        run = db.get(TrainingRun, run_id)
        if run is None:
            raise repo.NotFound(f"training run {run_id} disappeared while it ran")
        adapter = Adapter(**adapter_row_values(meta, candidate_path), project_id=proj.id,
                          metrics={"gold": candidate_metrics, "train": train_metrics},
                          status=AdapterStatus.REJECTED, training_run_id=run_id)
        db.add(adapter)
        db.flush()
        if decision.promote:
            promote_adapter(db, proj, adapter.version)
        run.state, run.finished_at = RunState.DONE, utcnow()
        run.kind = meta.get("kind", "sft")  # what really ran (e.g. no differing pair: no DPO)
        run.candidate_adapter, run.data_hash = adapter.version, data_hash
        run.n_train, run.n_gold = n_train, n_gold
        run.decision, run.reason = (Decision.PROMOTED if decision.promote else Decision.REFUSED), decision.reason
        run.metrics = {"candidate": candidate_metrics, "active": current_metrics, "active_version": current.version,
                       "train": train_metrics, "gate": {**dataclasses.asdict(params.policy()), **decision.as_dict()},
                       "n_pairs": len(pairs), "duration_s": round(seconds, 2), N_CONSENSUS_KEY: n_consensus,
                       "consensus": consensus}
        return adapter.version


def _relabel(engine: Engine, project: str, version: str, wait: bool) -> int:
    """Re-pre-label the items no human has touched with the newly promoted adapter; returns the job id."""
    from annotator.label.prelabel import start_prelabel

    # only_missing stays False: items the old adapter predicted must get the new adapter's prediction too
    job_id = start_prelabel(engine, project, adapter=version, untouched_only=True)
    submit_job(engine, job_id, wait=wait)
    return job_id


def latest_run(engine: Engine, project: str) -> TrainingRun | None:
    """The project's newest finished training run, if any (detached)."""
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        return db.scalar(select(TrainingRun).where(TrainingRun.project_id == proj.id, TrainingRun.state == RunState.DONE)
                         .order_by(TrainingRun.id.desc()).limit(1))


def _safe(name: str) -> str:
    """``name`` reduced to letters, digits, '-' and '_' (adapter run names and folders)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "project"


register_runner(JobKind.RETRAIN, run_retrain_job)
