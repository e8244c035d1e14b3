"""Measure a labeler (base + adapter, or the bare base) on gold examples.

``score_examples`` is the one code path: the `annotator evaluate` command and the retraining gate (comparing two adapters on held-out human gold) both run it. ``models/`` is
imported lazily.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from annotator.db import session_scope
from annotator.label.adapters import (
    adapter_meta,
    adapter_meta_or_none,
    base_spec,
    default_adapter_path,
    resolve_adapter,
    resolve_device,
)
from annotator.retrain.training import DataSpec, load_records
from annotator.settings import get_settings
from annotator.taxonomy import Taxonomy

if TYPE_CHECKING:
    from models.prediction import Prediction
    from models.tasks.base import Example as GoldExample


@dataclass
class Evaluation:
    """A labeler's metrics on gold examples, the predictions they come from, and the thresholds it decided at."""

    metrics: dict[str, float]
    predictions: list["Prediction"]
    thresholds: float | dict[str, float]


def score_examples(
    adapter_path: Path | None,
    examples: Sequence["GoldExample"],
    labels: Sequence[str],
    *,
    device: str = "auto",
    batch_size: int = 32,
    context: bool | None = None,
) -> Evaluation:
    """Metrics of the labeler ``base + adapter_path`` (the bare base when ``None``) on gold examples, the
    predictions they were computed from, and the decision thresholds (a one-pass adapter's tuned ones per
    label, else 0.5).

    ``examples`` are ``models.tasks.base.Example`` (``None`` fields are not scored). Keys, where the gold
    has the field: ``emotion_macro_f1``, ``emotion_micro_f1``, ``emotion_jaccard``, ``emotion_ece``,
    ``intensity_pearson`` (mean over gold emotions, and ``intensity_pearson/<emotion>``), ``intensity_mae``,
    ``cause_token_f1``, ``cause_exact``, ``cause_f1`` (character overlap), plus ``n_examples``,
    ``n_emotions``, ``n_intensity``, ``n_cause``; for conversations also ``cause_token_f1/same_turn``,
    ``/earlier_turn`` (a gold cause in an earlier turn: read alone, the labeler cannot point there) and
    ``/none``, with their ``n_cause/...`` counts.

    Turns of conversations (examples with ``conversation``; context-only ones are read, never scored) are
    read after the turns before them when ``context`` is true, alone when false; None: as the adapter was
    trained (a one-pass adapter trained on conversations). The instruction readout reads every text alone.
    """
    from models.labeler import open_labeler
    from models.training.metrics import all_metrics

    if not examples:
        raise ValueError("no gold examples to evaluate on")
    settings = get_settings()
    labeler = open_labeler(base_spec(), adapter_path, tuple(labels), resolve_device(device),
                           cache_dir=settings.cache_dir)
    in_context = hasattr(labeler, "predict_turns") and any(e.conversation is not None for e in examples) and (
        labeler.reads_context if context is None else context)
    scored = [example for example in examples if example.labeled]
    if not scored:
        raise ValueError("no gold example has a field to score")
    if in_context:
        from models.onepass.dialogue import conversations_of

        keys = [(e.conversation, e.turn or 0) if e.conversation is not None else None for e in scored]
        predictions = labeler.predict_turns([e.text for e in scored], keys, conversations_of(examples),
                                            batch_size=batch_size)
    else:
        predictions = labeler.predict([example.text for example in scored], batch_size=batch_size)
    turns = {(e.conversation, e.turn or 0): e.text for e in examples if e.conversation is not None}
    examples = scored
    thresholds = labeler.thresholds or 0.5
    metrics = all_metrics(examples, predictions, labeler.labels, thresholds, turns if turns else None)
    metrics.update(
        n_examples=float(len(examples)),
        n_emotions=float(sum(e.emotions is not None for e in examples)),
        n_intensity=float(sum(e.intensity is not None or bool(e.intensities) for e in examples)),
        n_cause=float(sum(e.cause is not None for e in examples)),
    )
    return Evaluation(metrics, predictions, thresholds)


def evaluation_adapter(ref: str | None, taxonomy: Taxonomy, zero_shot: bool,
                       database: Callable[[], Engine]) -> Path | None:
    """The adapter folder ``annotator evaluate`` measures: ``ref`` (a folder, or a version registered in the
    database, which is opened only then), else the shipped default adapter if it serves the taxonomy;
    None for the zero-shot base. ValueError when none fits."""
    from models.adapters import head_taxonomies, is_onepass, serves

    if zero_shot:
        if ref:
            raise ValueError("pass either --adapter or --zero-shot, not both")
        return None
    if ref and adapter_meta_or_none(Path(ref)) is not None:
        path: Path | None = Path(ref)
    elif ref:
        with session_scope(database()) as db:
            path = Path(str(resolve_adapter(db, None, ref).path))
    else:
        path = default_adapter_path(taxonomy.labels)
    if path is None:
        raise ValueError(f"no adapter for taxonomy {taxonomy.name}: pass --adapter, --zero-shot, or set "
                         "ANNOTATOR_DEFAULT_ADAPTER to one that serves it")
    if is_onepass(path) and not serves(path, taxonomy.labels):
        heads = ", ".join(head_taxonomies(path)) or "none"
        raise ValueError(f"adapter {path} has no head for taxonomy {taxonomy.name}; its heads: {heads}")
    if not is_onepass(path) and tuple(adapter_meta(path).get("labels", taxonomy.labels)) != taxonomy.labels:
        raise ValueError(f"adapter {path} was trained on other labels than taxonomy {taxonomy.name}; "
                         "pass its --taxonomy")
    return path


def gold_examples(spec: DataSpec, taxonomy: Taxonomy, split: str | None = "dev", seed: int = 0,
                  conversations: bool = True) -> list["GoldExample"]:
    """Gold examples of one dataset split in a taxonomy (a seeded sample of ``spec.limit`` when set).

    With ``conversations``, turns of conversations say so, and every other turn of their conversations
    comes along as a context-only example (read as context, never scored); the sample is drawn among
    the examples to score.
    """
    from models.training.data import example_from_dict

    records = load_records([DataSpec(spec.path, spec.fmt)], taxonomy, split, seed=seed, conversations=conversations)
    gold = [r for r in records if any(r.get(k) is not None for k in ("emotions", "intensity", "cause"))]
    if spec.limit is not None:
        gold = random.Random(seed).sample(gold, min(spec.limit, len(gold)))
    chosen = {id(r) for r in gold}
    context = [{**r, "emotions": None, "intensity": None, "intensity_emotion": None, "cause": None}
               for r in records if id(r) not in chosen and r.get("conversation") is not None]
    return [example_from_dict(record) for record in gold + context]


def rounded(metrics: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    """Metrics with floats rounded for display (counts as integers)."""
    return {k: (int(v) if k.startswith("n_") else round(v, digits)) if isinstance(v, float) else v
            for k, v in metrics.items()}
