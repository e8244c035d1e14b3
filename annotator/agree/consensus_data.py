"""Consensus labels as training data, and the held-out gold slice that never enters training.

Per item: emotions by reliability-weighted majority (each annotator weighted by their alpha on the
emotion set against the leave-one-out consensus of the others, floored at ``MIN_WEIGHT``), intensity by
the mean or median, cause by token majority turned back into a span (:mod:`annotator.agree.consensus`).

An item a reviewer adjudicated (:mod:`annotator.correct.adjudication`) takes the reviewer's label as its
consensus. Otherwise an item becomes training data when it has at least ``min_annotations`` human annotations and its
agreement (mean pairwise MASI similarity of the emotion sets) reaches ``min_agreement``, or, where the
project allows it (``allow_trusted_single``), when a trusted annotator corrected it: then the trusted
annotators' labels are taken as they are. Gold is the hash slice ``gold_fraction`` of the items (by
content hash, so stable across databases and runs) that qualify by the first rule; a slice item never
trains, even before it qualifies.

Rules come from ANNOTATOR_CONSENSUS_* settings; a project overrides them with these keys of
``Project.settings``: ``min_annotations``, ``min_agreement``, ``gold_fraction``, ``trusted_annotators``,
``allow_trusted_single``, ``intensity_method``, ``gold_min_f1``, ``gold_min_items``. With a gold rule
(``gold_min_f1`` > 0), annotators whose answers to gold items score below it are left out of consensus
altogether; who was left out and the rules are kept with the dataset (and the training run).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from annotator import repo
from annotator.agree.distance import masi_similarity
from annotator.agree.gold import GoldScore, gold_scores
from annotator.agree.matrix import Coding
from annotator.agree.reliability import consensus_coding, loo_pairs, per_annotator
from annotator.agree.service import load_codings, predicted_coding
from annotator.agree.spans import as_span
from annotator.db import session_scope
from annotator.hashing import bytes_hash, content_hash
from annotator.label.thresholds import Thresholds, decision_thresholds
from annotator.settings import get_settings

MIN_WEIGHT = 0.05  # an annotator who agrees with no one still counts a little (alpha may be <= 0)


@dataclass(frozen=True)
class ConsensusItem:
    """One item's consensus labels. ``corrected_from`` is the labeler's original answer the annotators
    corrected (``{"adapter_version", "emotions", "intensity", "cause"}``), or None where there is no
    such prediction or it has the consensus emotions and cause."""

    item_id: int
    text: str
    emotions: frozenset[str]
    intensity: float | None
    cause: tuple[int, int] | None
    agreement: float
    n_annotations: int
    corrected_from: dict[str, Any] | None = None
    intensities: dict[str, float] | None = None  # per consensus emotion, where annotators gave one
    adjudicated_by: str | None = None  # the reviewer whose final label this is (then it is the consensus)
    cause_turn: int | None = None  # the earlier turn of the item's conversation ``cause`` indexes (None: its text)


@dataclass(frozen=True)
class ConsensusDataset:
    """Training items, held-out gold items, and a hash of both (the data snapshot id)."""

    train: list[ConsensusItem]
    gold: list[ConsensusItem]
    data_hash: str
    left_out: list[str] = field(default_factory=list)  # annotators the gold rule left out
    rule: dict[str, Any] = field(default_factory=dict)  # the rules this consensus was built with


@dataclass(frozen=True)
class ConsensusRules:
    """When an item's consensus becomes data (see the module docstring)."""

    min_annotations: int = 2
    min_agreement: float = 0.6
    gold_fraction: float = 0.1
    trusted_annotators: frozenset[str] = field(default_factory=frozenset)
    allow_trusted_single: bool = False
    intensity_method: str = "mean"
    gold_min_f1: float = 0.0  # annotators under this gold emotion F1 are left out (0: nobody)
    gold_min_items: int = 3  # ... once they answered this many gold items


def consensus_rules(project_settings: dict[str, Any] | None = None) -> ConsensusRules:
    """The settings' rules, overridden by a project's own settings keys."""
    s = get_settings()
    own = project_settings or {}
    return ConsensusRules(
        min_annotations=int(own.get("min_annotations", s.consensus_min_annotations)),
        min_agreement=float(own.get("min_agreement", s.consensus_min_agreement)),
        gold_fraction=float(own.get("gold_fraction", s.consensus_gold_fraction)),
        trusted_annotators=frozenset(own.get("trusted_annotators", s.consensus_trusted_annotators)),
        allow_trusted_single=bool(own.get("allow_trusted_single", s.consensus_allow_trusted_single)),
        intensity_method=str(own.get("intensity_method", s.consensus_intensity)),
        gold_min_f1=float(own.get("gold_min_f1", s.consensus_gold_min_f1)),
        gold_min_items=int(own.get("gold_min_items", s.consensus_gold_min_items)),
    )


def left_out_by_gold(scores: list[GoldScore], rules: ConsensusRules) -> list[str]:
    """Annotators the gold rule leaves out of consensus: enough gold items answered, emotion F1 too low."""
    if rules.gold_min_f1 <= 0:
        return []
    return sorted(s.annotator for s in scores if s.n_items >= rules.gold_min_items and s.emotion_f1 < rules.gold_min_f1)


def in_gold_slice(digest: str, fraction: float) -> bool:
    """Whether an item (by its content hash) falls in the gold slice of size ``fraction``."""
    point = int(bytes_hash(f"gold:{digest}".encode())[:16], 16) / 16**16
    return point < fraction


def reliability_weights(codings: list[Coding], texts: dict[int, str]) -> dict[str, float]:
    """Each annotator's weight: alpha on the emotion set against the others' consensus, in [MIN_WEIGHT, 1]
    (the mean of the known weights for an annotator who shares no item with anyone)."""
    scores = per_annotator(loo_pairs(codings, texts, with_cause=False), "emotions", texts)
    known = {name: min(1.0, max(MIN_WEIGHT, s["alpha"])) for name, s in scores.items() if s["alpha"] is not None}
    fallback = sum(known.values()) / len(known) if known else 1.0
    return {name: known.get(name, fallback) for name in scores}


def consensus_dataset(engine: Engine, project: str) -> ConsensusDataset:
    """The consensus training items and gold items of ``project`` (see the module docstring)."""
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        rules = consensus_rules(proj.settings)
        data = load_codings(db, proj, with_labeler=False)
        originals = _corrected_predictions(db, proj.id, decision_thresholds(db, proj))
        left_out = left_out_by_gold(gold_scores(db, project), rules)
        adjudicated = repo.project_adjudications(db, proj.id)
    data.humans = [c for c in data.humans if c.coder not in left_out]
    texts = data.texts
    weights = reliability_weights(data.humans, texts)
    by_item: dict[int, list[Coding]] = {}
    for c in data.humans:
        by_item.setdefault(c.item, []).append(c)
    train: list[ConsensusItem] = []
    gold: list[ConsensusItem] = []
    for item_id in sorted(by_item):
        group, context = by_item[item_id], data.cause_texts[item_id]
        text = context.own_text
        agreement = masi_similarity([c.emotions for c in group])
        is_gold = in_gold_slice(content_hash(text), rules.gold_fraction)
        final = adjudicated.get(item_id)
        if final is not None:  # a reviewer settled it: their label is the consensus
            cause = as_span(final.cause_start, final.cause_end)
            original = _most_common_original(originals, item_id, data.based_on.get(item_id, []))
            cause_turn = final.cause_turn if cause is not None else None
            if _answered_alike(original, final.emotions, cause, cause_turn):
                original = None
            (gold if is_gold else train).append(ConsensusItem(
                item_id=item_id, text=text, emotions=frozenset(final.emotions), intensity=final.intensity,
                cause=cause, agreement=agreement, n_annotations=len(group), corrected_from=original,
                adjudicated_by=final.reviewer, cause_turn=cause_turn))
            continue
        if len(group) >= rules.min_annotations and agreement >= rules.min_agreement:
            chosen = group
        elif not is_gold and rules.allow_trusted_single and any(c.coder in rules.trusted_annotators for c in group):
            chosen = [c for c in group if c.coder in rules.trusted_annotators]
        else:
            continue
        cons = consensus_coding(item_id, chosen, context.text, weights, rules.intensity_method)
        # a cause in an earlier turn keeps its turn: a labeler reading the conversation learns to point there
        located = context.locate(cons.cause)
        cause = None if located is None else (located[1], located[2])
        cause_turn = None if located is None else located[0]
        original = _most_common_original(originals, item_id, data.based_on.get(item_id, []))
        if _answered_alike(original, cons.emotions, cause, cause_turn):
            original = None
        entry = ConsensusItem(item_id=item_id, text=text, emotions=cons.emotions, intensity=cons.intensity,
                              cause=cause, agreement=agreement, n_annotations=len(group),
                              corrected_from=original, intensities=dict(cons.intensities) or None,
                              cause_turn=cause_turn)
        (gold if is_gold else train).append(entry)
    return ConsensusDataset(train=train, gold=gold, data_hash=_data_hash(train, gold, left_out), left_out=left_out,
                            rule=dataclasses.asdict(rules) | {"trusted_annotators": sorted(rules.trusted_annotators)})


def _answered_alike(original: dict[str, Any] | None, emotions: Iterable[str], cause: tuple[int, int] | None,
                    cause_turn: int | None) -> bool:
    """Whether the labeler's original answer has the consensus emotions and cause (then nothing was corrected)."""
    return original is not None and set(original["emotions"]) == set(emotions) and \
        as_span(*(original["cause"] or (None, None))) == cause and original.get("cause_turn") == cause_turn


def _corrected_predictions(db: Any, project_id: int, thresholds: Callable[[str], Thresholds]
                           ) -> dict[tuple[int, str], dict[str, Any]]:
    """``{(item, adapter version): original answer}`` for every prediction an annotation says it corrected."""
    rows = repo.corrected_predictions(db, project_id)
    out = {}
    for r in rows:
        cause = as_span(r.cause_start, r.cause_end)
        c = predicted_coding(r.item_id, r.adapter_version, r.emotions, r.intensity, cause, thresholds(r.adapter_version))
        out[(r.item_id, r.adapter_version)] = {"adapter_version": r.adapter_version, "emotions": sorted(c.emotions),
                                               "intensity": c.intensity, "cause": list(cause) if cause else None,
                                               "cause_turn": r.cause_turn if cause else None}
    return out


def _most_common_original(originals: dict[tuple[int, str], dict[str, Any]], item_id: int,
                          versions: list[str]) -> dict[str, Any] | None:
    for version, _ in Counter(versions).most_common():
        if (item_id, version) in originals:
            return originals[(item_id, version)]
    return None


def _data_hash(train: list[ConsensusItem], gold: list[ConsensusItem], left_out: list[str]) -> str:
    """A hash of exactly what training and evaluation see (texts by content hash), and who was left out."""
    rows: list[Any] = [[split, content_hash(i.text), sorted(i.emotions), i.intensity, i.cause, i.corrected_from]
                       + ([sorted(i.intensities.items())] if i.intensities else [])
                       + ([["cause_turn", i.cause_turn]] if i.cause_turn is not None else [])
                       for split, items in (("train", train), ("gold", gold)) for i in items]
    if left_out:
        rows.append(["left_out", left_out])
    return bytes_hash(json.dumps(rows, sort_keys=True).encode())
