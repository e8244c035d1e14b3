"""End to end on real data: GoEmotions comments ingested, pre-labeled by the zero-shot labeler, corrected by
three simulated annotators (the gold labels with per-annotator noise), agreement computed, then retrained
twice on a tiny CPU budget: once with a gate that promotes, once (through the CLI) with one that refuses.
Each run's decision must follow from the metrics it recorded for both adapters on the same gold.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.agree.service import compute_agreement
from annotator.cli.main import app
from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, ingest
from annotator.jobs.service import submit_job
from annotator.label.prelabel import start_prelabel
from annotator.projects.service import create_project
from annotator.retrain.gate import GatePolicy, decide
from annotator.retrain.job import start_retrain
from annotator.retrain.schedule import new_consensus_items, retrain_due
from annotator.settings import get_settings
from annotator.tables import Adapter, Annotation, Item, Job, Prediction, Project, TrainingRun
from annotator.taxonomy import get_taxonomy

pytestmark = pytest.mark.slow

N_ITEMS, N_ANNOTATED = 36, 30
TINY = {"sft_steps": 2, "dpo_steps": 2, "batch_size": 4, "preference_weight": 1.0}
# GoEmotions' own Ekman grouping (google-research/goemotions data/ekman_mapping.json); neutral maps to no emotion.
# Six labels instead of 28 keep the labeler's answer trees, and so this test, about 4x cheaper on CPU.
EKMAN = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
            "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
}
TO_EKMAN = {fine: coarse for coarse, fines in EKMAN.items() for fine in fines}


def _goemotions_slice(shared_data: Path, out: Path) -> dict[str, list[str]]:
    """The first N_ITEMS dev comments as JSONL (id + text); returns their gold labels (Ekman) by id."""
    labels = (shared_data / "goemotions" / "emotions.txt").read_text().split()
    gold: dict[str, list[str]] = {}
    with open(shared_data / "goemotions" / "dev.tsv", encoding="utf-8", newline="") as handle, \
            open(out, "w", encoding="utf-8") as sink:
        for text, ids, comment_id in csv.reader(handle, delimiter="\t"):
            if len(gold) == N_ITEMS:
                break
            gold[comment_id] = sorted({TO_EKMAN.get(labels[int(i)]) for i in ids.split(",")} - {None})
            sink.write(json.dumps({"id": comment_id, "text": text}) + "\n")
    return gold


def _annotate(engine, gold: dict[str, list[str]], labels: tuple[str, ...]) -> None:
    """a1 gives the gold labels; a2 sometimes adds a wrong label, a3 sometimes swaps one (seeded)."""
    rng = random.Random(7)
    with session_scope(engine) as db:
        items = {i.external_id: i.id for i in db.scalars(select(Item))}
        for external_id in list(gold)[:N_ANNOTATED]:
            truth = gold[external_id]
            noisy_add = truth + [rng.choice(labels)] if rng.random() < 0.3 else truth
            noisy_swap = [rng.choice(labels)] + truth[1:] if truth and rng.random() < 0.3 else truth
            for name, emotions in (("a1", truth), ("a2", noisy_add), ("a3", noisy_swap)):
                db.add(Annotation(item_id=items[external_id], annotator=name, emotions=sorted(set(emotions)),
                                  source="import", based_on_adapter="base"))


def _assert_decision_follows_metrics(run: TrainingRun) -> None:
    gate = run.metrics["gate"]
    policy = GatePolicy(primary=gate["primary"], margin=gate["margin"], tolerance=gate["tolerance"])
    again = decide(run.metrics["candidate"], run.metrics["active"], policy)
    assert run.decision == ("promoted" if again.promote else "refused")
    assert run.reason == again.reason
    assert set(run.metrics["candidate"]) >= {"emotion_macro_f1", "emotion_micro_f1", "alpha_emotions"}
    assert set(run.metrics["candidate"]) == set(run.metrics["active"])  # the same metrics, on the same gold


def test_retrain_promotes_then_refuses(shared_data, tmp_path, monkeypatch, runner) -> None:
    url = f"sqlite:///{tmp_path}/e2e.db"
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", url)
    monkeypatch.setenv("ANNOTATOR_ADAPTERS_DIR", str(tmp_path / "adapters"))
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", "")  # the zero-shot base labels first
    monkeypatch.setenv("ANNOTATOR_DEVICE", "cpu")
    monkeypatch.setenv("ANNOTATOR_AGREEMENT_BOOTSTRAP", "0")
    get_settings.cache_clear()
    from annotator.db import open_database

    engine = open_database(url)
    taxonomy = get_taxonomy("ekman")
    with session_scope(engine) as db:
        create_project(db, "go", taxonomy, settings={"gold_fraction": 0.3})
    corpus = tmp_path / "go.jsonl"
    gold = _goemotions_slice(shared_data, corpus)
    assert ingest(engine, "go", str(corpus), IngestOptions(id_field="id")).inserted == N_ITEMS

    submit_job(engine, start_prelabel(engine, "go"), wait=True)
    _annotate(engine, gold, taxonomy.labels)
    agreement = compute_agreement(engine, "go", ["emotions"], store=True).to_json()
    assert agreement["fields"]["emotions"]["human-human"]["alpha"] > 0.5

    n_consensus = new_consensus_items(engine, "go")
    assert n_consensus > 0 and retrain_due(engine, "go", n_consensus) and not retrain_due(engine, "go", n_consensus + 1)

    # 1) a gate that lets any candidate through: promoted, and the untouched items are re-pre-labeled
    job_id = start_retrain(engine, "go", relabel=True, overrides={**TINY, "margin": -1.0, "tolerance": 1.0})
    with session_scope(engine) as db:
        job = db.get(Job, job_id)
        assert (job.state, job.kind, job.queue, job.done, job.total) == ("done", "retrain", "train", 4, 4)
        first = db.scalar(select(TrainingRun))
        # from the bare base, retraining builds the one-pass readout, with the EmPO term on the corrections
        assert first.decision == "promoted" and first.kind == "onepass+pref" and first.from_adapter == "base"
        assert first.metrics["train"]["preference_items"] > 0
        assert first.metrics["active_version"] == "base" and first.metrics["n_pairs"] > 0
        assert first.n_gold > 0 and first.n_train > 0 and len(first.data_hash) == 32
        _assert_decision_follows_metrics(first)
        candidate = db.scalar(select(Adapter).where(Adapter.version == first.candidate_adapter))
        assert candidate.status == "active" and candidate.training_run_id == first.id
        assert db.scalar(select(Project)).active_adapter_id == candidate.id
        assert Path(candidate.path, "adapter_model.safetensors").is_file() and Path(candidate.path, "heads.safetensors").is_file()
        assert candidate.readout == "onepass.v1" and set(candidate.thresholds["project-go"]) == set(taxonomy.labels)
        relabeled = set(db.scalars(select(Prediction.item_id).where(Prediction.adapter_version == candidate.version)))
        touched = set(db.scalars(select(Annotation.item_id)))
        assert len(relabeled) == N_ITEMS - N_ANNOTATED and not relabeled & touched
        assert job.result["relabel_job_id"] is not None

    # 2) through the CLI, with a margin no candidate can reach: refused, kept as 'rejected', active unchanged
    for key, value in {"SFT_STEPS": 3, "DPO_STEPS": 2, "BATCH_SIZE": 4, "MARGIN": 1.0, "PREFERENCE_WEIGHT": 0}.items():
        monkeypatch.setenv(f"ANNOTATOR_RETRAIN_{key}", str(value))
    get_settings.cache_clear()
    result = runner.invoke(app, ["retrain", "--project", "go", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["decision"] == "refused" and "less than the margin" in out["reason"]
    with session_scope(engine) as db:
        second = db.scalar(select(TrainingRun).order_by(TrainingRun.id.desc()))
        assert second.id != first.id and second.decision == "refused" and second.kind == "onepass"
        assert second.from_adapter == first.candidate_adapter  # continued from the active adapter
        assert second.metrics["active_version"] == first.candidate_adapter
        assert second.data_hash == first.data_hash and second.n_gold == first.n_gold
        _assert_decision_follows_metrics(second)
        statuses = {v: st for v, st in db.execute(select(Adapter.version, Adapter.status))}
        assert statuses == {first.candidate_adapter: "active", second.candidate_adapter: "rejected"}
        assert db.scalar(select(Project)).active_adapter_id == candidate.id
    # the schedule sees nothing new since the last run
    assert new_consensus_items(engine, "go") == 0 and not retrain_due(engine, "go", 1)
