"""End to end on real dialogues: EmotionLines and RECCON conversations ingested turn by turn, pre-labeled,
corrected by two simulated annotators playing the datasets' gold (emotions, and RECCON's causes, in the turn
itself or in an earlier one): one in Label Studio (a real server: the turns before the item shown as a
dialogue, a cause marked in an earlier turn as a paragraph span), one through the dashboard's review
(noisy); agreement computed over the conversations' text, retrained on a tiny CPU budget (the candidate
learns each turn after the turns before it, and causes in earlier turns), its re-pre-labels read in context,
and exported with the conversation structure intact. Runs on the tiny base (fast, random weights): what is
checked is the flow of conversations through every link, not the labels' quality.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.agree.service import compute_agreement
from annotator.cli.main import app
from annotator.correct.dashboard import save_correction
from annotator.correct.labelstudio.client import connect
from annotator.correct.labelstudio.service import pull_project, push_project
from annotator.datasets import read_dataset
from annotator.datasets.convert import earlier_cause
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


@pytest.fixture(scope="module")
def tiny_base():
    """A tiny random Llama with SmolLM2's tokenizer, kept in the cache between runs (fast end-to-end runs)."""
    from tests.support.tiny_base import make_tiny_base

    cache = get_settings().cache_dir
    return make_tiny_base(cache / "test-bases" / "tiny-llama-v1", cache)


def _gold_cause(row) -> tuple[int | None, int, int] | None:
    """A RECCON row's cause as (turn, start, end): in its own text (turn None), else the nearest earlier turn."""
    if row.cause is not None and row.cause.end > row.cause.start:
        return None, row.cause.start, row.cause.end
    return earlier_cause(row)


def _ls_result(task, emotions: list[str], cause: tuple[int | None, int, int] | None) -> list[dict]:
    """What an annotator submits in Label Studio: the emotions and the cause, in the turn or in a shown one."""
    result = [{"from_name": "emotions", "to_name": "text", "type": "choices",
               "value": {"choices": emotions or ["no emotion"]}}]
    if cause is None:
        return result
    turn, start, end = cause
    if turn is None:
        text = task.data["text"]
        return result + [{"from_name": "cause", "to_name": "text", "type": "labels",
                          "value": {"start": start, "end": end, "text": text[start:end], "labels": ["cause"]}}]
    index = next(i for i, shown in enumerate(task.data["dialogue"]) if shown["turn"] == turn)
    said = task.data["dialogue"][index]["text"]
    return result + [{"from_name": "context_cause", "to_name": "dialogue", "type": "paragraphlabels",
                      "value": {"start": str(index), "end": str(index), "startOffset": start, "endOffset": end,
                                "text": said[start:end], "paragraphlabels": ["cause"]}}]


def test_a_conversation_corpus_goes_round_the_loop_with_its_structure(shared_data, tmp_path, monkeypatch,
                                                                      runner, tiny_base, ls_settings) -> None:
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
    causes: dict[str, tuple[int | None, int, int] | None] = {}
    n_rows = 0
    for path, fmt in _slice(shared_data, tmp_path):
        result = runner.invoke(app, ["ingest", str(path), "--project", "talk", "--format", fmt, "-q"])
        assert result.exit_code == 0, result.output
        for row in read_dataset(path, fmt):
            n_rows += 1
            if row.emotions is not None:  # neutral: no emotion of Ekman's ("no emotion" in Label Studio)
                gold[row.id] = sorted(set(row.emotions) - {"neutral"})
                causes[row.id] = _gold_cause(row) if fmt == "reccon" else None
    assert any(c is not None and c[0] is not None for c in causes.values())  # RECCON: causes in earlier turns
    with session_scope(engine) as db:
        items = list(db.scalars(select(Item)))
        assert len(items) == n_rows and all(i.conversation_id and i.turn is not None for i in items)

    submit_job(engine, start_prelabel(engine, "talk"), wait=True)  # the zero-shot base: every turn alone
    # annotator 1 in Label Studio: each turn shown below the turns before it, causes marked where they are
    report = push_project(engine, "talk")
    assert report.created == n_rows
    conn = connect()
    tasks = {t.data["external_id"]: t for t in conn.client.tasks.list(project=report.ls_project_id,
                                                                        fields="task_only", page_size=1000)}
    for external_id, truth in gold.items():
        task = tasks[external_id]
        cause = causes[external_id]
        if cause is not None and cause[0] is not None:
            assert any(shown["turn"] == cause[0] for shown in task.data["dialogue"])
        conn.client.annotations.create(id=task.id, lead_time=2.0, result=_ls_result(task, truth, cause))
    pulled = pull_project(engine, "talk")
    assert (pulled.inserted, pulled.rejected) == (len(gold), 0)  # neutral turns too, as "no emotion"
    # annotator 2 through the dashboard's review (what its Save button calls), with some noise
    rng = random.Random(3)
    with session_scope(engine) as db:
        by_id = {i.external_id: i.id for i in db.scalars(select(Item))}
    for external_id, truth in gold.items():
        noisy = sorted(set(truth + [rng.choice(ekman.labels)])) if rng.random() < 0.2 else truth
        cause = causes[external_id]
        with session_scope(engine) as db:
            save_correction(db, "talk", by_id[external_id], "a2", noisy, None,
                            None if cause is None else cause[1:], cause_turn=None if cause is None else cause[0],
                            based_on_adapter="base")
    with session_scope(engine) as db:
        stored = list(db.scalars(select(Annotation)))
        assert len(stored) == 2 * len(gold) and all(a.status == "accepted" for a in stored)
        earlier = [a for a in stored if a.cause_turn is not None]
        assert earlier and len({a.annotator for a in earlier}) == 2  # both paths stored causes in earlier turns
    agreement = compute_agreement(engine, "talk", ["emotions", "cause"], store=True).to_json()
    assert agreement["fields"]["emotions"]["human-human"]["alpha"] > 0.5
    assert agreement["fields"]["cause"]["human-human"]["alpha"] > 0.99  # the same spans, wherever they are

    start_retrain(engine, "talk", relabel=True, overrides=TINY)
    with session_scope(engine) as db:
        run = db.scalar(select(TrainingRun))
        assert run.decision == "promoted", run.reason
        candidate = db.scalar(select(Adapter).where(Adapter.version == run.candidate_adapter))
    meta = json.loads(Path(candidate.path, "emo_adapter.json").read_text())
    assert meta["onepass"]["dialogue"]["trained"] and meta["data"]["n_conversations"] >= 4
    assert meta["onepass"]["dialogue"]["cause_across_turns"]  # consensus causes in earlier turns trained as such
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
