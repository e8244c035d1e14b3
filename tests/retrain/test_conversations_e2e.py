"""End to end on real dialogues: EmotionLines and RECCON conversations ingested turn by turn, pre-labeled,
annotated by two simulated annotators (the datasets' gold, one of them noisy), agreement computed, retrained
on a tiny CPU budget (the candidate learns each turn after the turns before it), its re-pre-labels read in
context, and exported with the conversation structure intact. Runs on the tiny base (fast, random weights):
what is checked is the flow of conversations through every link, not the labels' quality.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.agree.service import compute_agreement
from annotator.cli.main import app
from annotator.datasets import read_dataset
from annotator.db import session_scope
from annotator.jobs.service import submit_job
from annotator.label.prelabel import start_prelabel
from annotator.projects.service import create_project
from annotator.retrain.job import start_retrain
from annotator.settings import get_settings
from annotator.tables import Adapter, Annotation, Item, Prediction, TrainingRun
from annotator.taxonomy import get_taxonomy

pytestmark = pytest.mark.slow

TINY = {"sft_steps": 3, "batch_size": 4, "preference_weight": 0.0, "margin": -1.0, "tolerance": 1.0}
SLICES = (("emotionlines_friends", "friends_dev.json", "emotionlines", 3),
          ("reccon", "dailydialog_valid.json", "reccon", 3))


def _slice(shared_data: Path, out: Path) -> list[tuple[Path, str]]:
    """The first few dialogues of each dev file, as files of the same format and name."""
    made = []
    for folder, name, fmt, n in SLICES:
        source = shared_data / folder / name
        if not source.is_file():
            pytest.skip(f"{source} is not in ../shared/data")
        data = json.loads(source.read_text(encoding="utf-8"))
        kept = data[:n] if isinstance(data, list) else dict(list(data.items())[:n])
        (out / folder).mkdir()
        (out / folder / name).write_text(json.dumps(kept), encoding="utf-8")
        made.append((out / folder / name, fmt))
    return made


def test_a_conversation_corpus_goes_round_the_loop_with_its_structure(shared_data, tmp_path, monkeypatch,
                                                                      runner, tiny_base) -> None:
    url = f"sqlite:///{tmp_path}/talk.db"
    for key, value in {"DATABASE_URL": url, "ADAPTERS_DIR": str(tmp_path / "adapters"), "DEFAULT_ADAPTER": "",
                       "BASE_MODEL": str(tiny_base), "DEVICE": "cpu", "AGREEMENT_BOOTSTRAP": "0",
                       "TORCH_THREADS": "1"}.items():
        monkeypatch.setenv(f"ANNOTATOR_{key}", value)
    monkeypatch.delenv("ANNOTATOR_BROKER_URL", raising=False)
    get_settings.cache_clear()
    from annotator.db import open_database

    engine = open_database(url)
    ekman = get_taxonomy("ekman")
    with session_scope(engine) as db:
        create_project(db, "talk", ekman, settings={"gold_fraction": 0.3})
    gold: dict[str, list[str]] = {}
    n_rows = 0
    for path, fmt in _slice(shared_data, tmp_path):
        result = runner.invoke(app, ["ingest", str(path), "--project", "talk", "--format", fmt, "-q"])
        assert result.exit_code == 0, result.output
        for row in read_dataset(path, fmt):
            n_rows += 1
            if row.emotions is not None:
                gold[row.id] = sorted(set(row.emotions) - {"neutral"})
    with session_scope(engine) as db:
        items = list(db.scalars(select(Item)))
        assert len(items) == n_rows and all(i.conversation_id and i.turn is not None for i in items)

    submit_job(engine, start_prelabel(engine, "talk"), wait=True)  # the zero-shot base: every turn alone
    rng = random.Random(3)
    with session_scope(engine) as db:
        by_id = {i.external_id: i.id for i in db.scalars(select(Item))}
        for external_id, truth in gold.items():
            noisy = sorted(set(truth + [rng.choice(ekman.labels)])) if rng.random() < 0.2 else truth
            for name, emotions in (("a1", truth), ("a2", noisy)):
                db.add(Annotation(item_id=by_id[external_id], annotator=name, emotions=emotions, source="import",
                                  based_on_adapter="base"))
    agreement = compute_agreement(engine, "talk", ["emotions"], store=True).to_json()
    assert agreement["fields"]["emotions"]["human-human"]["alpha"] > 0.5

    start_retrain(engine, "talk", relabel=True, overrides=TINY)
    with session_scope(engine) as db:
        run = db.scalar(select(TrainingRun))
        assert run.decision == "promoted", run.reason
        candidate = db.scalar(select(Adapter).where(Adapter.version == run.candidate_adapter))
    meta = json.loads(Path(candidate.path, "emo_adapter.json").read_text())
    assert meta["onepass"]["dialogue"]["trained"] and meta["data"]["n_conversations"] >= 4
    assert meta["data"]["n_sequences"] < meta["data"]["n_train"]  # a conversation's turns share a pass
    with session_scope(engine) as db:  # the untouched turns were re-pre-labeled by it, in context
        relabeled = list(db.scalars(select(Prediction).where(Prediction.adapter_version == candidate.version)))
        assert relabeled and all(p.provenance["context"] for p in relabeled)

    out = tmp_path / "talk.jsonl"
    assert runner.invoke(app, ["export", "--project", "talk", "--out", str(out)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == n_rows
    assert all(r["conversation_id"] and isinstance(r["turn"], int) for r in rows)
    assert len({(r["conversation_id"], r["turn"]) for r in rows}) == n_rows
