"""Agreement of a project's annotations, field by field, stored as agreement reports.

For every field (``emotion:<label>``, ``emotions``, ``intensity``, ``cause``; see
:mod:`annotator.agree.matrix`) two figures: ``human-human`` (the accepted human annotations) and,
when the project has an active adapter with predictions on annotated items, ``labeler-human`` (the
same with the labeler as one more coder; its details keep the alpha without it for comparison). Each
comes with a bootstrap interval over items, the number of items and coders, and details: every
annotator's alpha against the leave-one-out consensus of the others and, for causes, pairwise span F1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.alpha import alpha
from annotator.agree.alpha import bootstrap as bootstrap_interval
from annotator.agree.context import CauseText
from annotator.agree.matrix import Coding, check_fields, field_names, value_counts
from annotator.agree.reliability import loo_pairs, per_annotator
from annotator.agree.spans import span_f1, span_mask, token_offsets
from annotator.db import session_scope
from annotator.label.thresholds import Thresholds, decided, decision_thresholds
from annotator.settings import get_settings
from annotator.tables import AgreementReport, Project, utcnow

HUMAN = "human-human"
LABELER = "labeler-human"


@dataclass
class ProjectCodings:
    """A project's accepted human codings, its active labeler's codings of the same items, and their texts."""

    labels: list[str]
    humans: list[Coding]
    labeler: list[Coding] = dataclasses.field(default_factory=list)
    labeler_version: str | None = None
    # item -> the string its cause spans are measured in (its own text; for a conversation turn, the turns
    # up to it: annotator.agree.context); every Coding.cause above is a span of it
    cause_texts: dict[int, CauseText] = dataclasses.field(default_factory=dict)
    based_on: dict[int, list[str]] = dataclasses.field(default_factory=dict)  # item -> adapters its annotators corrected

    @property
    def texts(self) -> dict[int, str]:
        """Item -> the string its codings' cause spans are offsets into."""
        return {item: ctx.text for item, ctx in self.cause_texts.items()}


@dataclass
class FieldAgreement:
    """One agreement figure: a field, for one set of coders."""

    field: str
    coders: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_items: int
    n_coders: int
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class AgreementResult:
    """Every figure of one agreement computation."""

    project: str
    created_at: datetime
    figures: list[FieldAgreement]
    labeler: str | None = None  # the adapter measured as one more coder (labeler-human), if any
    annotators: int = 0  # people with at least one accepted annotation

    def to_json(self) -> dict[str, Any]:
        """``{"project", "created_at", "fields": {field: {coders: {alpha, ci_low, ci_high, n_items, n_coders,
        details}}}}``."""
        fields: dict[str, dict[str, Any]] = {}
        for f in self.figures:
            entry = asdict(f)
            entry["alpha"] = entry.pop("value")
            del entry["field"], entry["coders"]
            fields.setdefault(f.field, {})[f.coders] = entry
        return {"project": self.project, "created_at": self.created_at.isoformat(), "labeler": self.labeler,
                "annotators": self.annotators, "fields": fields}


def load_codings(db: Session, project: Project, with_labeler: bool = True) -> ProjectCodings:
    """The accepted annotations of ``project`` as codings, plus (``with_labeler``) the active adapter's
    predictions of the annotated items, decided at the project's thresholds for that adapter."""
    rows = repo.accepted_annotations(db, project.id)
    turns = repo.annotated_conversation_turns(db, project.id)
    contexts = {item: CauseText.conversation(turns[item]) if item in turns else CauseText.lone(text)
                for item, text in repo.annotated_item_texts(db, project.id).items()}
    data = ProjectCodings(labels=list(project.labels), cause_texts=contexts, humans=[
        Coding(r.item_id, r.annotator, frozenset(r.emotions or ()), r.intensity,
               contexts[r.item_id].span(r.cause_start, r.cause_end, r.cause_turn), _pairs(r.intensities))
        for r in rows
    ])
    for r in rows:
        if r.based_on_adapter:
            data.based_on.setdefault(r.item_id, []).append(r.based_on_adapter)
    active = repo.labeling_adapter(db, project) if with_labeler else None
    if active is not None:
        version = active.version
        if version is not None:
            threshold = decision_thresholds(db, project)(version)
            preds = repo.annotated_item_predictions(db, project.id, version)
            data.labeler_version = version
            data.labeler = [predicted_coding(p.item_id, f"labeler:{version}", p.emotions, p.intensity,
                                             contexts[p.item_id].span(p.cause_start, p.cause_end, p.cause_turn),
                                             threshold,
                                             p.intensities)
                            for p in preds]
    return data


def predicted_coding(item: int, coder: str, scores: dict[str, Any], intensity: float | None,
                     cause: tuple[int, int] | None, threshold: Thresholds,
                     intensities: dict[str, Any] | None = None) -> Coding:
    """A prediction as a coding: the labels whose probability reaches their threshold, and the intensity of
    each of those (as a human gives intensities only for the emotions chosen)."""
    chosen = frozenset(decided(scores, threshold))
    return Coding(item, coder, chosen, intensity, cause,
                  _pairs({k: v for k, v in (intensities or {}).items() if k in chosen}))


def _pairs(intensities: dict[str, Any] | None) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((str(k), float(v)) for k, v in (intensities or {}).items() if v is not None))


def compute_agreement(engine: Engine, project: str, fields: Sequence[str] | None = None, *,
                      bootstrap: int | None = None, confidence: float | None = None,
                      with_labeler: bool = True, store: bool = True, seed: int = 0) -> AgreementResult:
    """Alpha (and its bootstrap interval) of every field of ``project``, human-human and labeler-human.

    ``fields`` restricts the fields (default: all); ``bootstrap`` (resamples)/``confidence`` default to
    ANNOTATOR_AGREEMENT_BOOTSTRAP/CONFIDENCE. With ``store`` every figure becomes an agreement report row.
    """
    settings = get_settings()
    resamples = settings.agreement_bootstrap if bootstrap is None else bootstrap
    level = settings.agreement_confidence if confidence is None else confidence
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        project_id = proj.id
        data = load_codings(db, proj, with_labeler)
        names = check_fields(fields, data.labels) if fields else field_names(data.labels, data.humans)
    texts = data.texts
    pairs = loo_pairs(data.humans, texts, with_cause="cause" in names)
    figures: list[FieldAgreement] = []
    for name in names:
        human = _figure(name, HUMAN, data.humans, texts, resamples, level, seed)
        human.details["per_annotator"] = per_annotator(pairs, name, texts)
        if name == "cause":
            human.details.update(pairwise_span_f1(data.humans, texts))
        figures.append(human)
        if data.labeler:
            both = _figure(name, LABELER, data.humans + data.labeler, texts, resamples, level, seed)
            both.details.update(labeler=data.labeler_version, alpha_without_labeler=human.value,
                                delta=None if both.value is None or human.value is None else both.value - human.value)
            figures.append(both)
    result = AgreementResult(project=project, created_at=utcnow(), figures=figures,
                             labeler=data.labeler_version if data.labeler else None,
                             annotators=len({c.coder for c in data.humans}))
    if store:
        with session_scope(engine) as db:
            db.add_all(AgreementReport(project_id=project_id, field=f.field, coders=f.coders, value=f.value,
                                       ci_low=f.ci_low, ci_high=f.ci_high, n_items=f.n_items,
                                       n_coders=f.n_coders, details=f.details, created_at=result.created_at)
                       for f in figures)
    return result


def _figure(name: str, coders: str, codings: Sequence[Coding], texts: dict[int, str], resamples: int,
            confidence: float, seed: int) -> FieldAgreement:
    data = value_counts(codings, name, texts)
    low, high, used = bootstrap_interval(data, resamples, confidence, seed)
    details: dict[str, Any] = {"bootstrap_resamples": used, "confidence": confidence}
    value = alpha(data)
    if value is None:
        details["undefined"] = ("no item has two codings" if data.n_items == 0
                                else "no variation: every coding has the same value")
    return FieldAgreement(name, coders, value, low, high, data.n_items, data.n_coders, details)


def pairwise_span_f1(codings: Sequence[Coding], texts: dict[int, str]) -> dict[str, Any]:
    """Mean token F1 and exact-match rate of the cause spans over every pair of coders of an item
    (pairs where neither gave a cause are left out)."""
    by_item: dict[int, list[Coding]] = {}
    for c in codings:
        by_item.setdefault(c.item, []).append(c)
    scores, exact = [], 0
    for item, group in by_item.items():
        offsets = token_offsets(texts[item])
        for a, b in combinations(group, 2):
            f1 = span_f1(span_mask(offsets, a.cause), span_mask(offsets, b.cause))
            if f1 is not None:
                scores.append(f1)
                exact += a.cause == b.cause
    n = len(scores)
    return {"span_f1": sum(scores) / n if n else None, "span_exact": exact / n if n else None, "span_pairs": n}


def agreement_reports(db: Session, project_id: int) -> Sequence[AgreementReport]:
    """Every agreement figure recorded for the project, oldest first."""
    return db.scalars(select(AgreementReport).where(AgreementReport.project_id == project_id)
                      .order_by(AgreementReport.created_at, AgreementReport.id)).all()


def latest_reports(db: Session, project_id: int) -> list[AgreementReport]:
    """The most recent agreement figures of a project (one computation's rows)."""
    newest = db.scalar(select(AgreementReport.created_at).where(AgreementReport.project_id == project_id)
                       .order_by(AgreementReport.created_at.desc()).limit(1))
    if newest is None:
        return []
    return list(db.scalars(select(AgreementReport).where(AgreementReport.project_id == project_id,
                                                         AgreementReport.created_at == newest)
                           .order_by(AgreementReport.id)))
