"""Pre-labeling and evaluating turns of conversations with an adapter trained on conversations: each turn is
read after the turns before it (one pass per conversation), lone items alone; `--no-context` reads turns alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, ingest
from annotator.label.adapters import register_adapter
from annotator.label.prelabel import label_batch, remaining_batches, start_prelabel
from annotator.projects.service import create_project
from annotator.tables import Item, Prediction
from annotator.taxonomy import get_taxonomy

EKMAN = get_taxonomy("ekman")
SCENES = {  # "Okay." after good news and after bad news
    "s1": [("Ross", "We won the lottery!"), ("Rachel", "Okay."), ("Ross", "Okay.")],
    "s2": [("Ross", "The dog died last night."), ("Rachel", "Okay."), ("Ross", "Okay.")],
}


@pytest.fixture(scope="module")
def context_adapter(tmp_path_factory) -> Path:
    """A one-pass adapter on the tiny base with an Ekman head, trained on a few conversations (the reply's cause
    is in the turn before it)."""
    import torch

    from annotator.settings import get_settings
    from models.base import resolve_base
    from models.onepass.train import fit_onepass, save_onepass
    from models.tasks.base import Example
    from models.training.config import ModelConfig, OnePassConfig, ReadoutConfig, TrainConfig
    from tests.support.tiny_base import make_tiny_base

    torch.set_num_threads(1)
    cache = get_settings().cache_dir
    tiny = resolve_base(str(make_tiny_base(cache / "test-bases" / "tiny-llama-v1", cache)), cache)
    examples = []
    for i in range(8):
        good = i % 2 == 0
        news = "We won the lottery!" if good else "The dog died last night."
        label = frozenset({"joy" if good else "sadness"})
        examples += [Example(f"{news} ({i})", label, taxonomy="ekman", conversation=f"c{i}", turn=0, speaker="Ross"),
                     Example("Okay.", label, taxonomy="ekman", conversation=f"c{i}", turn=1, speaker="Rachel",
                             cause=(0, len(news) - 1), cause_turn=0),
                     Example(f"lone text {i}", frozenset({"fear"}), taxonomy="ekman")]
    out = tmp_path_factory.mktemp("context-adapter")
    cfg = OnePassConfig(readout=ReadoutConfig(taxonomies={"ekman": EKMAN.labels}, frozen_layers=1, holdout_fraction=0.0),
                        train=TrainConfig(output_dir=out, batch_size=4, max_steps=24, learning_rate=3e-3, progress=False,
                                          run_name="ctx"),
                        model=ModelConfig(lora_r=4, lora_alpha=8))
    return save_onepass(fit_onepass(cfg, examples, base=tiny), out, "ctx")


def test_prelabel_reads_each_turn_after_the_turns_before_it(engine, tiny_env, context_adapter, tmp_path) -> None:
    from models.labeler import open_labeler
    from models.onepass.dialogue import Turn

    rows = [{"id": f"{name}-{t}", "text": text, "dialogue": name, "turn": t, "speaker": speaker}
            for name, turns in SCENES.items() for t, (speaker, text) in enumerate(turns)]
    rows.append({"id": "lone", "text": "Okay."})
    corpus = tmp_path / "dialogues.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with session_scope(engine) as db:
        create_project(db, "talk", EKMAN)
    summary = ingest(engine, "talk", str(corpus), IngestOptions(id_field="id", conversation_field="dialogue",
                                                                speaker_field="speaker"))
    assert summary.inserted == 7  # "Okay." said five times: five items
    with session_scope(engine) as db:
        version = register_adapter(db, context_adapter, "talk", activate=True).version
    job_id = start_prelabel(engine, "talk", batch_size=4)
    for batch in remaining_batches(engine, job_id):  # batches cut conversations: context comes from the database
        label_batch(engine, job_id, batch)
    with session_scope(engine) as db:
        stored = {item.external_id: (item, db.query(Prediction).filter_by(item_id=item.id).one())
                  for item in db.query(Item).all()}
    assert all(p.adapter_version == version for _, p in stored.values())
    assert stored["s1-1"][1].provenance["context"] and not stored["lone"][1].provenance["context"]

    labeler = open_labeler(tiny_env, context_adapter, EKMAN.labels)
    conversations = {name: [(t, Turn(text, speaker)) for t, (speaker, text) in enumerate(turns)]
                     for name, turns in SCENES.items()}
    keys = [("s1", 1), ("s1", 2), ("s2", 1), ("s2", 2), None]
    expected = labeler.predict_turns(["Okay."] * 5, keys, conversations)
    for (name, turn), want in zip(keys[:4], expected):
        got = stored[f"{name}-{turn}"][1]
        assert got.emotions == pytest.approx(want.emotions, abs=1e-5)
        assert (got.cause_turn, got.cause_start, got.cause_end, got.cause_text) == (
            want.cause_turn, *(want.cause or (None, None, None)))
    assert any(want.cause_turn is not None for want in expected)  # a cause in the turn before, stored as such
    for want, (name, _) in zip(expected, keys[:4]):
        if want.cause_turn is not None and want.cause is not None:
            said = SCENES[name][want.cause_turn][1]
            assert said[want.cause[0]:want.cause[1]] == want.cause[2]
    # the export names the turn the labeler's cause lies in (its own, or the earlier one)
    from annotator.export import iter_export_rows

    with session_scope(engine) as db:
        exported = {row["external_id"]: row for row in iter_export_rows(db, "talk", include_raw=True)}
    for (name, turn), want in zip(keys[:4], expected):
        row = exported[f"{name}-{turn}"]
        if want.cause is None:
            assert row["cause"] is None
        else:
            assert row["cause"]["turn"] == (want.cause_turn if want.cause_turn is not None else turn)
            assert row["predictions"][0]["cause"]["turn"] == want.cause_turn
    assert stored["lone"][1].emotions == pytest.approx(expected[4].emotions, abs=1e-5)
    assert stored["s1-1"][1].emotions != pytest.approx(stored["s2-1"][1].emotions, abs=1e-4)


def test_evaluate_reads_dialogue_turns_in_context_unless_told_not_to(tiny_env, context_adapter, runner,
                                                                      shared_data) -> None:
    results = {}
    for flag in ("--context", "--no-context"):
        result = runner.invoke(app, ["evaluate", "--adapter", str(context_adapter), "--data",
                                     str(shared_data / "emotionlines_friends"), "--format", "emotionlines",
                                     "--taxonomy", "ekman", "--limit", "40", "--json", flag])
        assert result.exit_code == 0, result.output
        results[flag] = json.loads(result.stdout)
    assert results["--context"]["n_examples"] == results["--no-context"]["n_examples"] == 40
    assert results["--context"]["emotion_ece"] != results["--no-context"]["emotion_ece"]
