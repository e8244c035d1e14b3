"""`annotator annotations import`: valid lines upserted on (item, annotator), every bad-line class kept aside."""

from __future__ import annotations

import json

from sqlalchemy import select

from annotator.cli.main import app
from annotator.correct.annotations_import import import_annotations
from annotator.db import session_scope
from annotator.tables import Annotation, IngestError
from tests.agreement.conftest import make_project, write_jsonl

TEXTS = {"t1": "I lost my keys again today", "t2": "We won the final!", "t3": "The exam is tomorrow"}

GOOD = [
    {"id": "t1", "annotator": "ann", "emotions": ["anger", "Sadness"], "intensity": 0.8, "cause": "lost my keys"},
    {"id": "t2", "annotator": "ann", "emotions": ["joy"], "cause": [3, 6], "based_on_adapter": "v1"},
    {"id": "t3", "annotator": "bob", "emotions": []},
]
BAD = [
    ("invalid_json", b'{"id": "t1", "annotator": \n'),
    ("not_an_object", b'[1, 2]\n'),
    ("undecodable_bytes", b'{"id": "t1", "annotator": "caf\xe9"}\n'),
    ("missing_id", {"annotator": "ann", "emotions": []}),
    ("unknown_item", {"id": "nope", "annotator": "ann", "emotions": []}),
    ("missing_annotator", {"id": "t1", "emotions": ["joy"]}),
    ("invalid_emotions", {"id": "t1", "annotator": "x", "emotions": "joy"}),
    ("unknown_label", {"id": "t1", "annotator": "x", "emotions": ["love"]}),
    ("invalid_intensity", {"id": "t1", "annotator": "x", "emotions": [], "intensity": 1.5}),
    ("invalid_cause", {"id": "t1", "annotator": "x", "emotions": [], "cause": [5, 500]}),
    ("cause_not_found", {"id": "t1", "annotator": "x", "emotions": [], "cause": "not in the text"}),
    ("invalid_adapter", {"id": "t1", "annotator": "x", "emotions": [], "based_on_adapter": 3}),
]


def annotations(engine) -> dict[tuple[str, str], Annotation]:
    with session_scope(engine) as db:
        rows = db.scalars(select(Annotation)).all()
        return {(a.item_id, a.annotator): a for a in rows}


def test_import_upserts_and_records_every_bad_line(engine, tmp_path):
    ids = make_project(engine, "p", TEXTS)
    lines = [GOOD[0], *(raw for _, raw in BAD[:6]), GOOD[1], *(raw for _, raw in BAD[6:]), GOOD[2]]
    path = write_jsonl(tmp_path / "a.jsonl", lines)
    summary = import_annotations(engine, "p", str(path))
    assert (summary.inserted, summary.updated, summary.rejected) == (3, 0, len(BAD))
    assert dict(summary.reasons) == {reason: 1 for reason, _ in BAD}
    got = annotations(engine)
    first = got[(ids["t1"], "ann")]
    assert first.emotions == ["anger", "sadness"] and first.intensity == 0.8 and first.source == "import"
    assert (first.cause_start, first.cause_end, first.cause_text) == (2, 14, "lost my keys")
    second = got[(ids["t2"], "ann")]
    assert (second.cause_text, second.based_on_adapter, second.intensity) == ("won", "v1", None)
    with session_scope(engine) as db:
        errors = db.scalars(select(IngestError).order_by(IngestError.line_number)).all()
        assert [(e.line_number, e.reason) for e in errors] == [
            (n, reason) for n, reason in zip([2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14], [r for r, _ in BAD])]
        assert errors[2].raw == BAD[2][1]

    # Again with changed labels: an update, not a second annotation; the bad lines are not recorded twice.
    lines[0] = {**GOOD[0], "emotions": ["fear"], "cause": None}
    again = import_annotations(engine, "p", str(write_jsonl(tmp_path / "a.jsonl", lines)))
    assert (again.inserted, again.updated) == (0, 3)
    got = annotations(engine)
    changed = got[(ids["t1"], "ann")]
    assert len(got) == 3 and changed.emotions == ["fear"] and changed.cause_start is None
    with session_scope(engine) as db:
        assert len(db.scalars(select(IngestError)).all()) == len(BAD)


def test_cli_import_exit_codes_and_errors_out(engine, runner, tmp_path):
    make_project(engine, "p", TEXTS)
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    result = runner.invoke(app, ["annotations", "import", str(good), "--project", "p"])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [GOOD[0], BAD[4][1], BAD[7][1]])
    out = tmp_path / "bad.jsonl"
    result = runner.invoke(app, ["annotations", "import", str(mixed), "-p", "p", "--errors-out", str(out)])
    assert result.exit_code == 1 and "unknown_item" in result.output and "unknown_label" in result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["nope", "t1"]
    missing = runner.invoke(app, ["annotations", "import", str(good), "--project", "nope"])
    assert missing.exit_code == 2 and "no project named" in missing.output
    nofile = runner.invoke(app, ["annotations", "import", str(tmp_path / "x.jsonl"), "--project", "p"])
    assert nofile.exit_code == 2
