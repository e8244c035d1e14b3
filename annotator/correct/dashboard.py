"""What the Streamlit dashboard shows and saves: plain functions over a session, no Streamlit here.

- overview: counts, the per-label distribution of the current best labels, job progress;
- review queue: items the labeler is least sure of (or where coders disagree most), and saving a
  human correction of all three fields under the logged-in annotator;
- agreement: the AgreementReport rows written by the agreement module (never computed here).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.consensus import best_labels, from_humans, from_machine, pick_prediction
from annotator.agree.distance import masi_similarity
from annotator.agree.gold import gold_rate, gold_scores
from annotator.agree.service import agreement_reports, latest_reports
from annotator.correct.checks import check_labels
from annotator.correct.selection_data import select_unannotated
from annotator.jobs.service import list_jobs
from annotator.label.thresholds import Thresholds, decided, decision_thresholds
from annotator.settings import get_settings
from annotator.states import AnnotationStatus
from annotator.tables import Annotation, Item, Job, Prediction, Project

REVIEW_ORDERS = ("selected", "confidence", "disagreement")


# --- overview -----------------------------------------------------------------------------------


def overview(db: Session, project_name: str) -> dict[str, Any]:
    """Items, predicted, corrected (items with an accepted human annotation), annotations, and the adapter
    that labels the project (``labeler``; ``labeler_status`` says whether it was promoted or is the default)."""
    project = repo.get_project_or_raise(db, project_name)
    counts = repo.project_counts(db, project.id)
    labeler = repo.labeling_adapter(db, project)
    return {
        "items": counts["items"],
        "predicted": counts["predicted"],
        "corrected": counts["annotated"],
        "annotations": counts["annotations"],
        "labeler": labeler.version if labeler else None,
        "labeler_status": labeler.status if labeler else None,
    }


def label_distribution(db: Session, project_name: str) -> list[dict[str, Any]]:
    """How many items carry each label in their current best labels, split by source (human / model).

    The rule of :func:`annotator.agree.consensus.best_labels` (the export's): the human majority where people
    annotated the item, else the preferred (active) adapter's prediction, else the newest, thresholded.
    Predictions stream in item order as raw JSON (orjson), which keeps 100k items to seconds.
    One row per (label, source) with a count; every label of the taxonomy is present.
    """
    project = repo.get_project_or_raise(db, project_name)
    thresholds = decision_thresholds(db, project)
    active = repo.labeling_adapter(db, project)
    preferred = active.version if active else None
    humans: dict[int, list[Any]] = defaultdict(list)
    for row in repo.accepted_annotations(db, project.id):
        humans[row.item_id].append(row)
    counts: Counter[tuple[str, str]] = Counter()
    for given in humans.values():
        counts.update((label, "human") for label in from_humans(given).emotions)
    for item_id, rows in groupby(repo.prediction_scores_newest_first(db, project.id), key=lambda r: r[0]):
        if item_id in humans:
            continue
        chosen = pick_prediction(list(rows), preferred, version_of=lambda r: r[1])  # rows: newest first
        if chosen is None:
            continue
        counts.update((label, "model") for label in decided(orjson.loads(chosen[2]), thresholds(chosen[1])))
    sources = sorted({source for _, source in counts} or {"model"})
    return [{"label": label, "source": source, "items": counts[(label, source)]}
            for label in project.labels for source in sources]


def job_progress(db: Session, project_name: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
    """The project's newest jobs (of one kind if given) with state and progress (0..1, None if no total)."""
    project = repo.get_project_or_raise(db, project_name)
    return [
        {"id": job.id, "kind": job.kind, "state": job.state, "adapter": job.adapter_version, "done": job.done,
         "total": job.total, "progress": min(job.done / job.total, 1.0) if job.total else None,
         "error": job.error, "created": job.created_at, "finished": job.finished_at}
        for job in _jobs(db, project.id, limit, kind)
    ]


def _jobs(db: Session, project_id: int, limit: int, kind: str | None) -> list[Job]:
    return list_jobs(db, project_id, limit=limit, kind=kind)


# --- conversations -------------------------------------------------------------------------------


def conversations(db: Session, project_name: str, limit: int = 1000) -> list[tuple[str, int]]:
    """The project's conversations and how many turns each has (id order, at most ``limit``)."""
    return repo.conversation_sizes(db, repo.get_project_or_raise(db, project_name).id, limit)


def conversation_timeline(db: Session, project_name: str, conversation_id: str) -> list[dict[str, Any]]:
    """Every turn of a conversation with its current best labels (human consensus, else the labeler): one
    row per turn with ``turn``, ``speaker``, ``text``, ``emotions``, the intensity of each, ``source``."""
    project = repo.get_project_or_raise(db, project_name)
    items = repo.conversation_items(db, project.id, conversation_id)
    if not items:
        raise repo.NotFound(f"no conversation {conversation_id!r} in project {project_name!r}")
    ids = [item.id for item in items]
    preds, anns = repo.predictions_for_items(db, ids), repo.annotations_for_items(db, ids)
    thresholds = decision_thresholds(db, project)
    labeler = repo.labeling_adapter(db, project)
    rows = []
    for item in items:
        best = best_labels(anns[item.id], preds[item.id], thresholds=thresholds,
                           preferred_adapter=labeler.version if labeler else None)
        levels = best.intensities or {}
        rows.append({"turn": item.turn, "speaker": item.speaker or "?", "text": item.text,
                     "emotions": best.emotions,
                     "intensities": {e: levels.get(e, best.intensity) for e in best.emotions},
                     "source": best.source})
    return rows


# --- review queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextTurn:
    """An earlier turn of the reviewed item's conversation, shown above it."""

    turn: int
    speaker: str | None
    text: str


@dataclass
class ReviewItem:
    """One item to review: the text (with the turns before it, for a turn of a conversation) and what the
    labeler proposed for it."""

    item_id: int
    text: str
    adapter_version: str | None
    probabilities: dict[str, float]  # every label, highest first
    proposed: list[str]  # labels at or over the project's threshold
    intensity: float | None
    cause_start: int | None
    cause_end: int | None
    confidence: float | None
    intensities: dict[str, float] | None = None  # per emotion (one-pass predictions)
    disagreement: float | None = None
    other_annotations: list[dict[str, Any]] = field(default_factory=list)
    turn: int | None = None
    speaker: str | None = None
    context: list[ContextTurn] = field(default_factory=list)  # earlier turns, oldest first
    cause_turn: int | None = None  # the earlier turn the proposed cause is a span of (None: the item's text)
    gold: bool = False  # a gold item (never shown as such: it must look like any other)


def reference_version(db: Session, project: Project) -> str | None:
    """The adapter version whose predictions the queue shows: the active one, else the newest that predicted."""
    active = repo.labeling_adapter(db, project)
    if active is not None:
        return active.version
    return repo.newest_prediction_version(db, project.id)


def review_queue(db: Session, project_name: str, annotator: str, order: str = "selected",
                 limit: int = 50) -> list[ReviewItem]:
    """Items ``annotator`` has not annotated yet: the selector's choice, least confident prediction first, or
    most disagreed first.

    ``selected``: the same items as ``confidence`` would offer, in the order of "what to label next"
    (:mod:`annotator.correct.selection`: uncertainty, labeler-human disagreement, rare labels, diversity).
    ``confidence``: items predicted by the reference version that still need someone (fewer than the
    project's ``overlap`` annotations and claims of others: :func:`claim`), by ascending confidence (unknown
    first).
    ``disagreement``: items others annotated, by 1 - mean pairwise Jaccard between the label sets of
    the other annotators and the labeler (labeler-human disagreement counts when one person annotated).
    """
    if order not in REVIEW_ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of: {', '.join(REVIEW_ORDERS)}")
    project = repo.get_project_or_raise(db, project_name)
    version = reference_version(db, project)
    threshold = decision_thresholds(db, project)(version)
    if order in ("selected", "confidence"):
        if version is None:
            return []
        rows: Sequence[Any] = (
            select_unannotated(db, project, version, annotator, limit, overlap(project)) if order == "selected"
            else repo.least_confident_unannotated(db, project.id, version, annotator, limit, overlap(project)))
        queue = [_review_item(db, item, pred, threshold) for item, pred in rows]
        return _mix_gold(db, project, annotator, version, threshold, queue, limit)
    return _by_disagreement(db, project, annotator, version, threshold, limit)


def _mix_gold(db: Session, project: Project, annotator: str, version: str | None, threshold: Thresholds,
              queue: list[ReviewItem], limit: int) -> list[ReviewItem]:
    """The queue with the gold items ``annotator`` has not done mixed in: the n-th item they are shown (counting
    what they already annotated) is gold when n is a multiple of 1 / the project's gold rate."""
    rate = gold_rate(project.settings)
    golds = repo.gold_items_not_done_by(db, project.id, annotator, version, limit) if rate > 0 else []
    if not golds:
        return queue
    period = max(1, round(1 / rate))
    done = repo.count_annotations_by(db, project.id, annotator)
    pending = [_review_item(db, item, pred, threshold) for item, pred in golds]
    for review in pending:
        review.gold = True
    regular, mixed = list(queue), list[ReviewItem]()
    while len(mixed) < limit and (regular or pending):
        n = done + len(mixed) + 1  # the how-many-th item this annotator is shown
        mixed.append(pending.pop(0) if pending and (n % period == 0 or not regular) else regular.pop(0))
    return mixed


def review_waiting(db: Session, project_name: str, annotator: str, order: str = "selected") -> int:
    """How many items the review queue in ``order`` holds for ``annotator`` in all (it loads them in batches)."""
    if order not in REVIEW_ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of: {', '.join(REVIEW_ORDERS)}")
    project = repo.get_project_or_raise(db, project_name)
    if order == "disagreement":
        return repo.count_annotated_by_others(db, project.id, annotator)
    version = reference_version(db, project)
    if version is None:
        return 0
    gold = repo.count_gold_not_done_by(db, project.id, annotator) if gold_rate(project.settings) > 0 else 0
    return repo.count_unannotated_predicted(db, project.id, version, annotator, overlap(project)) + gold


def overlap(project: Project) -> int:
    """How many people should annotate each item of the project (its ``overlap`` setting, default 1)."""
    return int((project.settings or {}).get("overlap", 1))


def claim(db: Session, project_name: str, item_id: int, annotator: str) -> bool:
    """Hold one of the item's overlap slots for ``annotator`` while they work on it
    (``ANNOTATOR_CLAIM_MINUTES``); False when other people hold or filled them all."""
    project = repo.get_project_or_raise(db, project_name)
    return repo.claim_item(db, item_id, annotator, overlap(project), get_settings().claim_minutes)


def release(db: Session, item_id: int, annotator: str) -> None:
    """Give up ``annotator``'s slot on an item (they skipped it)."""
    repo.release_claim(db, item_id, annotator)


def _by_disagreement(db: Session, project: Project, annotator: str, version: str | None, threshold: Thresholds,
                     limit: int) -> list[ReviewItem]:
    items = repo.items_annotated_by_others(db, project.id, annotator)
    if not items:
        return []
    ids = [item.id for item in items]
    anns = repo.annotations_for_items(db, ids)
    preds = repo.predictions_of_version(db, ids, version)
    scored = []
    for item in items:
        accepted = [a for a in anns[item.id] if a.status == AnnotationStatus.ACCEPTED]
        pred = preds.get(item.id)
        sets = [set(a.emotions) for a in accepted]
        if pred is not None:
            sets.append(set(from_machine(pred, threshold).emotions))
        review = _review_item(db, item, pred, threshold)
        review.disagreement = disagreement(sets)
        review.other_annotations = [
            {"annotator": a.annotator, "emotions": a.emotions, "intensity": a.intensity, "cause": a.cause_text,
             "cause_turn": a.cause_turn, "cause_outside": bool(a.cause_outside)}
            for a in accepted
        ]
        scored.append(review)
    scored.sort(key=lambda r: (-(r.disagreement or 0.0), r.item_id))
    return scored[:limit]


def disagreement(label_sets: list[set[str]]) -> float:
    """1 - the mean pairwise MASI similarity of label sets (the measure agreement and consensus use; two
    empty sets agree); 0 for fewer than two."""
    return 1.0 - masi_similarity([frozenset(s) for s in label_sets])


def _review_item(db: Session, item: Item, pred: Prediction | None, threshold: Thresholds) -> ReviewItem:
    if pred is None:
        review = ReviewItem(item.id, item.text, None, {}, [], None, None, None, None)
    else:
        best = from_machine(pred, threshold)
        probs = dict(sorted((best.scores or {}).items(), key=lambda kv: -kv[1]))
        review = ReviewItem(item.id, item.text, pred.adapter_version, probs, best.emotions, pred.intensity,
                            pred.cause_start, pred.cause_end, pred.confidence,
                            intensities={k: float(v) for k, v in (pred.intensities or {}).items()} or None,
                            cause_turn=pred.cause_turn)
    review.turn, review.speaker = item.turn, item.speaker
    review.context = context_turns(db, [item]).get(item.id, [])
    return review


def context_turns(db: Session, items: Sequence[Item]) -> dict[int, list[ContextTurn]]:
    """Per item that is a turn of a conversation, the turns shown above it (``ANNOTATOR_CONTEXT_TURNS``),
    oldest first."""
    turns = [item for item in items if item.turn is not None]
    earlier = repo.earlier_turns(db, turns, get_settings().context_turns) if turns else {}
    return {item_id: [ContextTurn(int(t.turn), t.speaker, t.text) for t in shown if t.turn is not None]
            for item_id, shown in earlier.items()}


def review_item(db: Session, project_name: str, item_id: int) -> ReviewItem:
    """One item of the project as the review page shows it (the reference version's prediction, if any)."""
    project = repo.get_project_or_raise(db, project_name)
    item = db.get(Item, item_id)
    if item is None or item.project_id != project.id:
        raise repo.NotFound(f"no item {item_id} in project {project_name!r}")
    version = reference_version(db, project)
    pred = repo.predictions_of_version(db, [item_id], version).get(item_id)
    return _review_item(db, item, pred, decision_thresholds(db, project)(version))


def cause_span(text: str, phrase: str, near: int | None = None) -> tuple[int, int] | None:
    """Character offsets of ``phrase`` in ``text`` (None for an empty phrase); ValueError if it is not there.

    When the phrase occurs several times, the occurrence starting nearest to ``near`` wins, so
    accepting a proposed cause keeps its exact offsets.
    """
    phrase = phrase.strip()
    if not phrase:
        return None
    starts = []
    i = text.find(phrase)
    while i != -1:
        starts.append(i)
        i = text.find(phrase, i + 1)
    if not starts:
        raise ValueError(f"the cause {phrase!r} is not a part of the text; copy it exactly from the text")
    start = min(starts, key=lambda s: abs(s - near)) if near is not None else starts[0]
    return start, start + len(phrase)


def proposed_cause(review: ReviewItem) -> str:
    """The words of the labeler's proposed cause, in the item's text or the earlier turn it names."""
    if review.cause_start is None or review.cause_end is None:
        return ""
    return _words_at(review.text, review.context, (review.cause_turn, review.cause_start, review.cause_end))


def _words_at(text: str, context: Sequence[ContextTurn], where: tuple[int | None, int, int]) -> str:
    """The words at ``(turn, start, end)``: in ``text`` for turn None, else in that shown turn ("" if it is
    not shown)."""
    turn, start, end = where
    if turn is None:
        return text[start:end]
    shown = next((t for t in context if t.turn == turn), None)
    return shown.text[start:end] if shown is not None else ""


def locate_cause(review: ReviewItem, phrase: str) -> tuple[int | None, int, int] | None:
    """Where a cause phrase copied from the review page lies (see :func:`locate_phrase`), the labeler's
    proposed cause being the one kept where it is."""
    proposed = None if review.cause_start is None or review.cause_end is None else (
        review.cause_turn, review.cause_start, review.cause_end)
    return locate_phrase(review.text, review.context, phrase, proposed)


def locate_phrase(text: str, context: Sequence[ContextTurn], phrase: str,
                  proposed: tuple[int | None, int, int] | None = None) -> tuple[int | None, int, int] | None:
    """Where a cause phrase copied from a page that shows ``text`` below the turns ``context`` lies:
    ``(turn, start, end)``, turn None for ``text`` itself, else the latest shown turn that holds it; None for
    an empty phrase; ValueError if it is in none of them. ``proposed`` (a cause the page proposed, as
    ``(turn, start, end)``): kept as it is, it stays where it was (an earlier turn too); in ``text`` the
    occurrence nearest it wins."""
    words = phrase.strip()
    if proposed is not None and proposed[0] is not None and words and _words_at(text, context, proposed) == words:
        return proposed
    try:
        span = cause_span(text, phrase, near=proposed[1] if proposed is not None and proposed[0] is None else None)
    except ValueError:
        for shown in reversed(context):
            at = shown.text.find(words)
            if at >= 0:
                return shown.turn, at, at + len(words)
        where = "this turn or the turns shown above it" if context else "the text"
        raise ValueError(f"the cause {words!r} is not a part of {where}; copy it exactly") from None
    return None if span is None else (None, span[0], span[1])


def save_correction(db: Session, project_name: str, item_id: int, annotator: str, emotions: list[str],
                    intensity: float | None, cause: tuple[int, int] | None, *,
                    intensities: dict[str, float] | None = None, cause_turn: int | None = None,
                    cause_outside: bool = False,
                    based_on_adapter: str | None = None, lead_time: float | None = None) -> Annotation:
    """Store (insert or replace) ``annotator``'s labels for one item, with source 'dashboard'.

    ``intensities``: an intensity per chosen emotion (those of emotions not chosen are dropped).
    ``cause_turn``: the earlier turn of the item's conversation ``cause`` is a span of (None: the item's own
    text); ``cause_outside``: the cause is not in the conversation (then ``cause`` must be None). Refuses
    labels outside the taxonomy, an intensity outside [0, 1] and a cause span outside its text.
    """
    fields = check_labels(db, project_name, item_id, emotions, intensity, cause, intensities=intensities,
                          cause_turn=cause_turn, cause_outside=cause_outside)
    row = {"item_id": item_id, "annotator": annotator, **fields,
           "based_on_adapter": based_on_adapter, "lead_time": lead_time}
    repo.upsert_annotations(db, [row], "dashboard")
    repo.release_claim(db, item_id, annotator)  # the annotation holds the slot now
    saved = repo.annotation_of(db, item_id, annotator)
    assert saved is not None  # just upserted in this transaction
    return saved


def project_labels(db: Session, project_name: str) -> list[str]:
    """The project's taxonomy labels, in taxonomy order."""
    return list(repo.get_project_or_raise(db, project_name).labels)


def annotations_by(db: Session, project_name: str, annotator: str) -> int:
    """How many items of the project ``annotator`` has annotated."""
    return repo.count_annotations_by(db, repo.get_project_or_raise(db, project_name).id, annotator)


# --- agreement ----------------------------------------------------------------------------------


def agreement_history(db: Session, project_name: str) -> list[dict[str, Any]]:
    """Every agreement figure recorded for the project, oldest first (field, coders, value, CI, n, time)."""
    reports = agreement_reports(db, repo.get_project_or_raise(db, project_name).id)
    return [
        {"field": r.field, "coders": r.coders, "metric": r.metric, "value": r.value, "ci_low": r.ci_low,
         "ci_high": r.ci_high, "n_items": r.n_items, "n_coders": r.n_coders, "created_at": r.created_at}
        for r in reports
    ]


def annotator_quality(db: Session, project_name: str) -> list[dict[str, Any]]:
    """Per annotator: reliability (alpha on the emotion set against the others' leave-one-out consensus, from
    the latest agreement computation) beside their gold score (:mod:`annotator.agree.gold`)."""
    project = repo.get_project_or_raise(db, project_name)
    newest = [r for r in latest_reports(db, project.id) if r.field == "emotions" and r.coders == "human-human"]
    reliability = (newest[0].details or {}).get("per_annotator", {}) if newest else {}
    gold = {s.annotator: s for s in gold_scores(db, project_name)}
    rows = []
    for name in sorted(set(reliability) | set(gold)):
        score = gold.get(name)
        rows.append({"annotator": name, "reliability": (reliability.get(name) or {}).get("alpha"),
                     "gold_items": score.n_items if score else 0,
                     "gold_emotion_f1": score.emotion_f1 if score else None,
                     "gold_intensity_error": score.intensity_mae if score else None,
                     "gold_cause_f1": score.cause_f1 if score else None})
    return rows


def latest_agreement(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest figure per (field, coders, metric) from :func:`agreement_history`'s rows."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in history:
        latest[(row["field"], row["coders"], row["metric"])] = row
    return sorted(latest.values(), key=lambda r: (r["coders"], r["field"]))

