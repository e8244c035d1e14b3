"""Causes anywhere in the conversation: a turn's cause may be a span of an earlier turn, or outside the
conversation; it is stored as (turn, offsets), imported, compared over the conversation's text by
agreement and consensus, and exported with its turn."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator import repo
from annotator.agree.consensus_data import consensus_dataset
from annotator.agree.context import CauseText
from annotator.agree.service import compute_agreement
from annotator.correct.annotations_import import import_annotations
from annotator.db import session_scope
from annotator.export import export
from annotator.ingest.service import IngestOptions, ingest
from annotator.projects.service import create_project
from annotator.tables import Annotation, Item
from annotator.taxonomy import get_taxonomy
from tests.agreement.conftest import write_jsonl

PLAN = "Shall we see a movie tomorrow?"
REPLY = "Sounds like a good plan!"
DIALOGUE = [
    {"id": "d1#0", "dialog": "d1", "n": 0, "who": "A", "text": PLAN},
    {"id": "d1#1", "dialog": "d1", "n": 1, "who": "B", "text": REPLY},
    {"id": "d1#2", "dialog": "d1", "n": 2, "who": "A", "text": "Great, see you then."},
    {"id": "lone", "text": "I lost my keys again."},
]
MOVIE = PLAN.index("see a movie tomorrow")


@pytest.fixture
def dialogue(engine, tmp_path: Path) -> str:
    with session_scope(engine) as db:
        create_project(db, "chat", get_taxonomy("ekman"))
    summary = ingest(engine, "chat", str(write_jsonl(tmp_path / "chat.jsonl", DIALOGUE)),
                     IngestOptions(text_field="text", id_field="id", conversation_field="dialog", turn_field="n",
                                   speaker_field="who"))
    assert summary.inserted == 4 and summary.rejected == 0
    return "chat"


def _annotations(engine) -> dict[tuple[str, str], Annotation]:
    with session_scope(engine) as db:
        rows = db.execute(select(Item.external_id, Annotation).join(Item, Item.id == Annotation.item_id)).all()
        return {(ext, a.annotator): a for ext, a in rows}


def _import(engine, tmp_path: Path, lines: list[dict]):
    return import_annotations(engine, "chat", str(write_jsonl(tmp_path / "ann.jsonl", lines)))


def test_a_cause_in_an_earlier_turn_is_stored_with_its_turn(engine, dialogue, tmp_path: Path):
    reply = "d1#1"
    summary = _import(engine, tmp_path, [
        {"id": reply, "annotator": "ann1", "emotions": ["joy"], "cause": {"turn": 0, "text": "see a movie tomorrow"}},
        {"id": reply, "annotator": "ann2", "emotions": ["joy"], "cause": {"turn": 0, "span": [MOVIE, MOVIE + 11]}},
        {"id": reply, "annotator": "ann3", "emotions": ["joy"], "cause": {"outside": True}},
        # the item's own turn named explicitly is the item's own text
        {"id": reply, "annotator": "ann4", "emotions": ["joy"], "cause": {"turn": 1, "text": "good plan"}},
        # refused, each with its reason; the valid lines are kept
        {"id": reply, "annotator": "bad1", "emotions": ["joy"], "cause": {"turn": 2, "text": "see you"}},
        {"id": "lone", "annotator": "bad2", "emotions": [], "cause": {"turn": 0, "text": "keys"}},
        {"id": reply, "annotator": "bad3", "emotions": ["joy"], "cause": {"turn": 0, "text": "popcorn"}},
        {"id": reply, "annotator": "bad4", "emotions": ["joy"], "cause": {"turn": 0}},
        {"id": reply, "annotator": "bad5", "emotions": ["joy"], "cause": {"outside": True, "turn": 0}},
        {"id": reply, "annotator": "bad6", "emotions": ["joy"], "cause": {"turn": "0", "text": "movie"}},
        {"id": reply, "annotator": "bad7", "emotions": ["joy"], "cause": {"turn": 0, "span": [0, 999]}},
    ])
    assert summary.inserted == 4 and summary.rejected == 7
    assert summary.reasons == {"invalid_cause_turn": 3, "cause_not_found": 1, "invalid_cause": 3}
    stored = _annotations(engine)
    first = stored[(reply, "ann1")]
    assert (first.cause_turn, first.cause_start, first.cause_end, first.cause_text) == (
        0, MOVIE, MOVIE + len("see a movie tomorrow"), "see a movie tomorrow")
    assert stored[(reply, "ann2")].cause_text == "see a movie" and stored[(reply, "ann2")].cause_turn == 0
    outside = stored[(reply, "ann3")]
    assert outside.cause_outside is True and outside.cause_start is None
    own = stored[(reply, "ann4")]
    assert own.cause_turn is None and own.cause_text == "good plan" and REPLY[own.cause_start:own.cause_end] == "good plan"
    # A later answer that does not say where its cause lies (dashboard, Label Studio) is in the own text.
    with session_scope(engine) as db:
        repo.upsert_annotations(db, [{"item_id": first.item_id, "annotator": "ann1", "emotions": ["joy"],
                                      "cause_start": 0, "cause_end": 6, "cause_text": "Sounds"}], "dashboard")
    assert _annotations(engine)[(reply, "ann1")].cause_turn is None


def test_span_agreement_is_measured_over_the_conversation(engine, dialogue, tmp_path: Path):
    """Two annotators who mark the same words of turn 0 agree; one who marks the same offsets in the
    reply itself does not (a comparison of bare offsets would call all three identical)."""
    reply, span = "d1#1", [0, 6]  # "Shall " / "Sounds"
    _import(engine, tmp_path, [
        {"id": reply, "annotator": "ann1", "emotions": ["joy"], "cause": {"turn": 0, "span": span}},
        {"id": reply, "annotator": "ann2", "emotions": ["joy"], "cause": {"turn": 0, "span": span}},
        {"id": reply, "annotator": "ann3", "emotions": ["joy"], "cause": span},
    ])
    result = compute_agreement(engine, "chat", ["cause"], bootstrap=0, with_labeler=False, store=False)
    (figure,) = result.figures
    # pairs: ann1-ann2 agree (F1 1), each of them with ann3 shares no token (F1 0)
    assert figure.details["span_pairs"] == 3
    assert figure.details["span_f1"] == pytest.approx(1 / 3)
    assert figure.details["span_exact"] == pytest.approx(1 / 3)
    # the units are the tokens of turns 0 and 1 (the reply and what came before it), not of the reply alone
    assert figure.n_items == 1


def test_consensus_and_export_keep_the_turn(engine, dialogue, tmp_path: Path):
    reply = "d1#1"
    _import(engine, tmp_path, [
        {"id": reply, "annotator": a, "emotions": ["joy"], "cause": {"turn": 0, "text": "see a movie tomorrow"}}
        for a in ("ann1", "ann2")
    ] + [{"id": "d1#2", "annotator": a, "emotions": ["joy"], "cause": "see you then"} for a in ("ann1", "ann2")])
    data = consensus_dataset(engine, "chat")
    items = {i.text: i for i in data.train + data.gold}
    # a cause in an earlier turn keeps its turn (offsets into that turn's text); one in the item's own text none
    assert (items[REPLY].cause, items[REPLY].cause_turn) == ((MOVIE, MOVIE + 20), 0)
    assert items[REPLY].emotions == {"joy"}
    third = items["Great, see you then."]
    assert third.text[third.cause[0]:third.cause[1]] == "see you then" and third.cause_turn is None
    # as a training example it is read in its conversation; the prompt readout, reading it alone, learns "none"
    from annotator.retrain.job import consensus_example
    from models.tasks.cause.task import CauseTask

    example = consensus_example(items[REPLY])
    assert (example.cause, example.cause_turn) == ((MOVIE, MOVIE + 20), 0)
    (completion,) = CauseTask().completions(example)
    assert completion.answer.strip().endswith("none")

    out = tmp_path / "chat.jsonl"
    export(engine, "chat", "jsonl", out, include_raw=True)
    rows = {r["external_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows[reply]["cause"] == {"start": MOVIE, "end": MOVIE + 20, "text": "see a movie tomorrow",
                                    "turn": 0, "outside": False}
    assert rows["d1#2"]["cause"]["turn"] == 2 and rows["d1#2"]["cause"]["text"] == "see you then"
    assert {a["cause"]["turn"] for a in rows[reply]["annotations"]} == {0}
    csv_out = tmp_path / "chat.csv"
    export(engine, "chat", "csv", csv_out)
    by_id = {r["external_id"]: r for r in csv.DictReader(csv_out.open(newline=""))}
    assert (by_id[reply]["cause_turn"], by_id[reply]["cause_text"]) == ("0", "see a movie tomorrow")
    hf = tmp_path / "hf"
    export(engine, "chat", "hf", hf)
    import pyarrow.parquet as pq

    table = pq.read_table(next((hf / "data").glob("*.parquet")))
    causes = {r["external_id"]: r["cause"] for r in table.to_pylist()}
    assert causes[reply]["turn"] == 0 and causes[reply]["outside"] is False


def test_cause_text_maps_spans_both_ways():
    ctx = CauseText.conversation([(0, PLAN), (1, REPLY)])
    assert ctx.text == PLAN + "\n" + REPLY and ctx.own_text == REPLY and ctx.own_turn == 1
    span = ctx.span(MOVIE, MOVIE + 5, turn=0)
    assert span is not None and ctx.text[span[0]:span[1]] == "see a"
    assert ctx.locate(span) == (0, MOVIE, MOVIE + 5)
    own = ctx.span(0, 6)
    assert ctx.text[own[0]:own[1]] == "Sounds" and ctx.locate(own) == (None, 0, 6)
    assert ctx.span(0, 1, turn=7) is None
    lone = CauseText.lone("alone")
    assert lone.span(1, 3) == (1, 3) and lone.locate((1, 3)) == (None, 1, 3) and lone.own_turn is None
