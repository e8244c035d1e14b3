"""Adjudication: items whose annotators disagree beyond the project's threshold go to reviewers, who see every
annotation and the labeler's answer side by side and pick or edit the final label. That label becomes the
item's consensus (training data, export) with its provenance: who adjudicated, whose answer they took.

Disagreement is 1 - the mean pairwise MASI similarity of the annotators' emotion sets (the measure consensus
and the review queue use); an item qualifies at the project's ``adjudicate_above`` setting (default 0.5) with at
least two accepted annotations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.consensus import cause_dict, from_humans, from_machine
from annotator.agree.distance import masi_similarity
from annotator.correct.checks import check_labels
from annotator.correct.dashboard import ContextTurn, context_turns
from annotator.label.thresholds import decision_thresholds
from annotator.states import AnnotationStatus
from annotator.tables import Adjudication

DEFAULT_ADJUDICATE_ABOVE = 0.5
LABELER = "labeler"


@dataclass
class AdjudicationItem:
    """One disputed item: its text (with the turns before it, for a turn of a conversation), every answer,
    and a starting proposal (the majority). A cause is a :func:`~annotator.agree.consensus.cause_dict`
    (``turn`` None: the item's own text) or None."""

    item_id: int
    text: str
    disagreement: float
    answers: list[dict[str, Any]]  # {"coder", "emotions", "intensity", "cause"}: annotators, then the labeler
    proposal: dict[str, Any] = field(default_factory=dict)  # majority emotions, mean intensity, common cause
    turn: int | None = None
    speaker: str | None = None
    context: list[ContextTurn] = field(default_factory=list)  # earlier turns, oldest first


def adjudicate_above(settings: dict[str, Any] | None) -> float:
    """The project's disagreement threshold for adjudication (``adjudicate_above``, default 0.5)."""
    return float((settings or {}).get("adjudicate_above", DEFAULT_ADJUDICATE_ABOVE))


def adjudication_queue(db: Session, project_name: str, limit: int = 50) -> list[AdjudicationItem]:
    """Items not yet adjudicated whose annotators disagree at least the project's threshold, most disputed first."""
    project = repo.get_project_or_raise(db, project_name)
    threshold = adjudicate_above(project.settings)
    items = repo.items_to_adjudicate(db, project.id)
    if not items:
        return []
    ids = [i.id for i in items]
    anns = repo.annotations_for_items(db, ids)
    labeler = repo.labeling_adapter(db, project)
    version = labeler.version if labeler else None
    preds = repo.predictions_of_version(db, ids, version)
    decide = decision_thresholds(db, project)(version)
    earlier = context_turns(db, items)
    queue = []
    for item in items:
        accepted = [a for a in anns[item.id] if a.status == AnnotationStatus.ACCEPTED]
        disagreement = 1.0 - masi_similarity([frozenset(a.emotions) for a in accepted])
        if disagreement < threshold:
            continue
        answers = [{"coder": a.annotator, "emotions": list(a.emotions), "intensity": a.intensity,
                    "cause": cause_dict(a.cause_start, a.cause_end, a.cause_text, a.cause_turn, a.cause_outside)}
                   for a in accepted]
        if item.id in preds:
            machine = from_machine(preds[item.id], decide)
            answers.append({"coder": LABELER, "emotions": machine.emotions, "intensity": machine.intensity,
                            "cause": machine.cause})
        majority = from_humans(accepted)
        proposal = {"emotions": majority.emotions, "intensity": majority.intensity, "cause": majority.cause}
        queue.append(AdjudicationItem(item.id, item.text, disagreement, answers, proposal, item.turn, item.speaker,
                                      earlier.get(item.id, [])))
    queue.sort(key=lambda q: (-q.disagreement, q.item_id))
    return queue[:limit]


def adjudicate(db: Session, project_name: str, item_id: int, reviewer: str, emotions: list[str],
               intensity: float | None, cause: tuple[int, int] | None, chosen_from: str | None = None, *,
               cause_turn: int | None = None, cause_outside: bool = False) -> Adjudication:
    """Store ``reviewer``'s final label for an item (replacing an earlier one). ``chosen_from``: the coder
    whose answer was taken as it was, None when edited; ``cause_turn``/``cause_outside`` as for an
    annotation (:func:`annotator.correct.checks.check_labels`). Refuses labels outside the taxonomy, an
    intensity outside [0, 1], a cause span outside its text or in a turn that is not an earlier turn of the
    item's conversation, and an item nobody annotated."""
    fields = check_labels(db, project_name, item_id, emotions, intensity, cause, cause_turn=cause_turn,
                          cause_outside=cause_outside)
    seen = sorted(a.annotator for a in repo.annotations_for_items(db, [item_id])[item_id]
                  if a.status == AnnotationStatus.ACCEPTED)
    if not seen:
        raise ValueError(f"item {item_id} has no annotation to adjudicate")
    adjudicated = {key: fields[key] for key in ("emotions", "intensity", "cause_start", "cause_end", "cause_text",
                                                "cause_turn", "cause_outside")}
    return repo.upsert_adjudication(db, {"item_id": item_id, "reviewer": reviewer, **adjudicated,
                                         "chosen_from": chosen_from, "annotators": seen})
