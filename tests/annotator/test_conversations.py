"""Conversation items: a turn is one item, unique by (conversation, turn), whatever its words; the structure
is stored, exported, and read from the dialogue datasets (RECCON, EmotionLines)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.tables import IngestError, Item


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SCENES = [
    {"scene": "s1", "n": 0, "who": "Ross", "text": "We were on a break!"},
    {"scene": "s1", "n": 1, "who": "Rachel", "text": "Okay."},
    {"scene": "s2", "n": 0, "who": "Monica", "text": "Dinner is ready."},
    {"scene": "s2", "n": 1, "who": "Chandler", "text": "Okay."},
    {"scene": "s2", "n": 2, "who": "Joey", "text": "Okay.", "mood": "hungry"},
    {"text": "Okay."},  # a lone item: deduplicated by its text as always
    {"text": "Okay."},
]


def _items(engine) -> list[Item]:
    with session_scope(engine) as db:
        return list(db.scalars(select(Item).order_by(Item.id)))


def test_every_turn_is_its_own_item_and_lone_items_stay_deduplicated(runner, engine, tmp_path: Path):
    corpus = _jsonl(tmp_path / "scenes.jsonl", SCENES)
    assert runner.invoke(app, ["project", "create", "tv"]).exit_code == 0
    args = ["ingest", str(corpus), "--project", "tv", "--conversation-field", "scene", "--turn-field", "n",
            "--speaker-field", "who", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    items = _items(engine)
    assert len(items) == 6  # five turns (three of them "Okay.") and one lone "Okay."
    turns = [(i.conversation_id, i.turn, i.speaker, i.text) for i in items if i.conversation_id]
    assert turns == [(r["scene"], r["n"], r["who"], r["text"]) for r in SCENES[:5]]
    joey = next(i for i in items if i.speaker == "Joey")
    assert joey.meta == {"mood": "hungry"} and joey.external_id == "s2#2"
    # Running it again adds nothing; a turn sent again with other words is a conflict, kept aside.
    assert runner.invoke(app, args).exit_code == 0 and len(_items(engine)) == 6
    changed = _jsonl(tmp_path / "changed.jsonl", [{"scene": "s1", "n": 1, "who": "Rachel", "text": "Fine."}])
    result = runner.invoke(app, [*args[:1], str(changed), *args[2:]])
    assert result.exit_code == 1 and len(_items(engine)) == 6
    with session_scope(engine) as db:
        assert [e.reason for e in db.scalars(select(IngestError))] == ["duplicate_id_conflict"]


def test_bad_turns_are_rejected_row_by_row(runner, engine, tmp_path: Path):
    rows = [
        {"scene": "s1", "n": 0, "text": "Hi."},
        {"scene": "s1", "text": "No turn."},
        {"scene": "s1", "n": -1, "text": "Negative."},
        {"scene": "s1", "n": 1.5, "text": "Fractional."},
        {"scene": "s1", "n": True, "text": "A bool."},
        {"scene": ["s1"], "n": 2, "text": "A list as conversation."},
        {"scene": "s1", "n": 3, "who": 7, "text": "A number as speaker is no name."},
        {"scene": "s1", "n": 4, "text": "Fine again."},
    ]
    corpus = _jsonl(tmp_path / "bad.jsonl", rows)
    assert runner.invoke(app, ["project", "create", "tv"]).exit_code == 0
    result = runner.invoke(app, ["ingest", str(corpus), "--project", "tv", "--conversation-field", "scene",
                                 "--turn-field", "n", "--speaker-field", "who", "-q"])
    assert result.exit_code == 1
    assert [i.text for i in _items(engine)] == ["Hi.", "A number as speaker is no name.", "Fine again."]
    with session_scope(engine) as db:
        reasons = [e.reason for e in db.scalars(select(IngestError).order_by(IngestError.line_number))]
    assert reasons == ["missing_turn", "invalid_turn", "invalid_turn", "invalid_turn", "invalid_conversation"]


def test_csv_turns_and_the_export_keeps_the_structure(runner, engine, tmp_path: Path):
    corpus = tmp_path / "chat.csv"
    with open(corpus, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["chat", "turn", "speaker", "text"])
        writer.writerows([["c1", "0", "agent", "How can I help?"], ["c1", "1", "user", "My order is late."],
                          ["c2", "0", "agent", "How can I help?"]])
    assert runner.invoke(app, ["project", "create", "support"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(corpus), "--project", "support", "--conversation-field", "chat",
                               "--speaker-field", "speaker", "-q"]).exit_code == 0
    out = tmp_path / "support.jsonl"
    assert runner.invoke(app, ["export", "--project", "support", "--out", str(out)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["conversation_id"], r["turn"], r["speaker"], r["text"]) for r in rows] == [
        ("c1", 0, "agent", "How can I help?"), ("c1", 1, "user", "My order is late."),
        ("c2", 0, "agent", "How can I help?")]
    csv_out = tmp_path / "support.csv"
    assert runner.invoke(app, ["export", "--project", "support", "--format", "csv", "--out", str(csv_out)]).exit_code == 0
    with open(csv_out, newline="") as f:
        first = next(csv.DictReader(f))
    assert (first["conversation_id"], first["turn"], first["speaker"]) == ("c1", "0", "agent")


@pytest.mark.parametrize("fmt, folder, name", [("emotionlines", "emotionlines_friends", "friends_dev.json"),
                                               ("reccon", "reccon", "dailydialog_valid.json")])
def test_dialogue_datasets_keep_every_utterance(runner, engine, shared_data: Path, fmt, folder, name):
    from annotator.datasets import read_dataset

    path = shared_data / folder / name
    if not path.is_file():
        pytest.skip(f"{path} is not in ../shared/data")
    rows = list(read_dataset(path, fmt))
    assert len({r.text for r in rows}) < len(rows)  # the data repeats utterances: the case this is about
    assert runner.invoke(app, ["project", "create", "d", "--taxonomy", "ekman"]).exit_code == 0
    result = runner.invoke(app, ["ingest", str(path), "--project", "d", "--format", fmt, "-q"])
    assert result.exit_code in (0, 1), result.output
    items = _items(engine)
    assert len(items) == len(rows)  # every utterance kept (100%)
    assert all(i.conversation_id and i.turn is not None for i in items)
    first = next(i for i in items if i.external_id == rows[0].id)
    assert (first.conversation_id, first.turn, first.speaker) == (
        rows[0].meta["conversation"], rows[0].meta["turn"], rows[0].meta["speaker"] or None)
