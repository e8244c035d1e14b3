"""`annotator ingest`: every bad-input class, idempotence, resume, stdin, CSV and Parquet, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, IngestSummary, ingest
from annotator.projects.service import create_project
from annotator.tables import IngestError, IngestRun, Item
from annotator.taxonomy import get_taxonomy


def make_project(engine: Engine, name: str = "p") -> None:
    with session_scope(engine) as db:
        create_project(db, name, get_taxonomy("ekman"))


def items(engine: Engine, project_name: str = "p") -> dict[str | None, Item]:
    with session_scope(engine) as db:
        rows = db.scalars(select(Item).order_by(Item.id)).all()
        return {row.external_id if row.external_id is not None else row.text: row for row in rows}


def errors(engine: Engine) -> list[IngestError]:
    with session_scope(engine) as db:
        return list(db.scalars(select(IngestError).order_by(IngestError.line_number)).all())


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


GOOD = [{"id": f"g{i}", "text": f"good row {i}", "lang": "en"} for i in range(6)]
BAD_LINES: list[tuple[str, bytes]] = [
    ("invalid_json", b'{"id": "x1", "text": "no closing brace"\n'),
    ("not_an_object", b'["a", "list"]\n'),
    ("undecodable_bytes", b'{"id": "x2", "text": "caf\xe9"}\n'),
    ("missing_text", line({"id": "x3", "body": "wrong field"})),
    ("missing_text", line({"id": "x4", "text": None})),
    ("empty_text", line({"id": "x5", "text": "  \t "})),
    ("non_string_text", line({"id": "x6", "text": 42})),
    ("text_too_long", line({"id": "x7", "text": "y" * 101})),
    ("invalid_text", line({"id": "x8", "text": "nul\u0000inside"})),
    ("missing_id", line({"text": "a text without an id"})),
    ("invalid_id", line({"id": [1, 2], "text": "a list as id"})),
    ("duplicate_id_conflict", line({"id": "g0", "text": "same id, other text"})),
]


def corpus_with_every_bad_class(path: Path) -> list[tuple[int, str]]:
    """Good rows interleaved with one bad row of each class; returns (line, reason) of the bad ones."""
    expected = []
    with open(path, "wb") as f:
        n = 0
        for i, (reason, raw) in enumerate(BAD_LINES):
            f.write(line(GOOD[i % len(GOOD)]) if i < len(GOOD) else b"")
            n += 1 if i < len(GOOD) else 0
            f.write(raw)
            n += 1
            expected.append((n, reason))
    return expected


def test_each_bad_row_is_rejected_with_its_reason_and_good_rows_are_kept(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    expected = corpus_with_every_bad_class(path)
    rejected = tmp_path / "rejected.jsonl"
    result = runner.invoke(app, ["ingest", str(path), "--project", "p", "--id-field", "id",
                                 "--max-text-chars", "100", "--errors-out", str(rejected), "-q"])
    assert result.exit_code == 1, result.output
    stored = items(engine)
    assert sorted(stored) == sorted(g["id"] for g in GOOD)
    assert stored["g0"].text == "good row 0" and stored["g0"].meta == {"lang": "en"}
    assert [(e.line_number, e.reason) for e in errors(engine)] == expected
    # every rejected row comes back byte for byte, ready to fix and re-ingest
    assert rejected.read_bytes() == b"".join(raw for _, raw in BAD_LINES)
    for err in errors(engine):
        assert err.source == str(path) and err.message and err.raw_excerpt
    assert "duplicate_id_conflict" in result.output and "rejected" in result.output


def test_ingest_twice_adds_nothing_and_records_no_new_errors(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    corpus_with_every_bad_class(path)
    args = ["ingest", str(path), "--project", "p", "--id-field", "id", "--max-text-chars", "100", "-q"]
    first = runner.invoke(app, args)
    n_items, n_errors = len(items(engine)), len(errors(engine))
    second = runner.invoke(app, args)
    assert first.exit_code == second.exit_code == 1
    assert len(items(engine)) == n_items == len(GOOD)
    assert len(errors(engine)) == n_errors == len(BAD_LINES)
    assert "0 added" in second.output and f"{len(GOOD)} duplicates" in second.output


def test_same_text_under_another_id_is_a_duplicate_not_a_new_item(engine, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    path.write_bytes(line({"id": "a", "text": "hello"}) + line({"id": "b", "text": "hello"})
                     + line({"id": "a", "text": "hello"}))
    summary = ingest(engine, "p", str(path), IngestOptions(id_field="id"))
    assert (summary.inserted, summary.duplicates, summary.rejected) == (1, 2, 0)


@pytest.mark.parametrize("batch_size", [1, 100])
def test_conflicts_and_duplicates_are_judged_by_what_came_before_the_row(engine, tmp_path, batch_size):
    make_project(engine)
    first = tmp_path / "first.jsonl"
    first.write_bytes(line({"id": "b", "text": "x"}))
    ingest(engine, "p", str(first), IngestOptions(id_field="id"))
    path = tmp_path / "in.jsonl"
    path.write_bytes(line({"id": "a", "text": "x"})      # text stored under b: duplicate (id a unseen so far)
                     + line({"id": "a", "text": "y"})    # new id, new text: inserted
                     + line({"id": "a", "text": "z"})    # id a now stored with y: conflict
                     + line({"id": "c", "text": "z"})    # z was not stored (the conflict was not): inserted
                     + line({"id": "b", "text": "x"}))   # same id, same text: duplicate
    summary = ingest(engine, "p", str(path), IngestOptions(id_field="id", batch_size=batch_size))
    assert (summary.inserted, summary.duplicates, summary.rejected) == (2, 2, 1)
    assert {k: v.text for k, v in items(engine).items()} == {"b": "x", "a": "y", "c": "z"}
    assert [(e.line_number, e.reason) for e in errors(engine)] == [(3, "duplicate_id_conflict")]


def test_ids_and_metadata_with_quotes_backslashes_and_separators_round_trip(engine, tmp_path):
    make_project(engine)
    ids = ['q"uote', "back\\slash", "com,ma", "{brace}", "NULL", "tab\tnew\nline", " space "]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line({"id": i, "text": f"text of {i}", "m": {"raw": i + "\\"}}) for i in ids))
    first = ingest(engine, "p", str(path), IngestOptions(id_field="id"))
    second = ingest(engine, "p", str(path), IngestOptions(id_field="id"))
    assert (first.inserted, second.inserted, second.duplicates, second.rejected) == (len(ids), 0, len(ids), 0)
    stored = items(engine)
    assert sorted(stored) == sorted(ids)
    assert all(stored[i].text == f"text of {i}" and stored[i].meta == {"m": {"raw": i + "\\"}} for i in ids)


def test_an_interrupted_run_leaves_no_reader_process_behind(engine, tmp_path):
    import multiprocessing

    make_project(engine)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line({"text": f"row {i}"}) for i in range(50)))

    def stop(s: IngestSummary) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "p", str(path), IngestOptions(batch_size=5), progress=stop)
    assert multiprocessing.active_children() == []
    assert len(items(engine)) == 5


def test_without_id_field_items_are_deduplicated_by_text(engine, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line({"text": t}) for t in ["a", "b", "a", "c", "b"]))
    summary = ingest(engine, "p", str(path), IngestOptions(batch_size=2))
    assert (summary.inserted, summary.duplicates) == (3, 2)
    assert sorted(items(engine)) == ["a", "b", "c"]


def test_interrupted_run_resumes_where_it_stopped(engine, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    rows = [line({"id": str(i), "text": f"row {i}"}) for i in range(100)]
    rows[37] = b"not json\n"
    path.write_bytes(b"".join(rows))
    options = IngestOptions(id_field="id", batch_size=10)

    def stop_after_three_batches(s: IngestSummary) -> None:
        if s.rows_read >= 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "p", str(path), options, progress=stop_after_three_batches)
    assert len(items(engine)) == 30
    with session_scope(engine) as db:
        run = db.scalars(select(IngestRun)).one()
        assert run.state == "running" and run.rows_done == 30

    out = tmp_path / "rejected.jsonl"
    with open(out, "wb") as f:
        summary = ingest(engine, "p", str(path), options, errors_out=f)
    assert summary.resumed_from == 30 and summary.rows_read == 70
    assert (summary.inserted, summary.duplicates, summary.rejected) == (69, 0, 1)
    assert len(items(engine)) == 99
    assert out.read_bytes() == b"not json\n"
    with session_scope(engine) as db:
        assert db.scalar(select(func.count()).select_from(IngestRun).where(IngestRun.state == "done")) == 1


def test_resumed_run_replays_earlier_rejections_into_errors_out(engine, tmp_path):
    make_project(engine)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"bad 1\n" + b"".join(line({"text": f"t{i}"}) for i in range(20)) + b"bad 2\n")
    options = IngestOptions(batch_size=5)

    def stop(s: IngestSummary) -> None:
        if s.rows_read >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "p", str(path), options, progress=stop)
    out = tmp_path / "rejected.jsonl"
    with open(out, "wb") as f:
        ingest(engine, "p", str(path), options, errors_out=f)
    assert out.read_bytes() == b"bad 1\nbad 2\n"


def test_stdin(engine, runner):
    make_project(engine)
    data = line({"text": "from a pipe"}) + b"{oops\n"
    result = runner.invoke(app, ["ingest", "-", "--project", "p", "--format", "jsonl", "-q"], input=data)
    assert result.exit_code == 1, result.output
    assert list(items(engine)) == ["from a pipe"]
    assert [(e.source, e.reason) for e in errors(engine)] == [("<stdin>", "invalid_json")]


def test_stdin_needs_a_format(engine, runner):
    make_project(engine)
    result = runner.invoke(app, ["ingest", "-", "--project", "p"], input=b"")
    assert result.exit_code == 2 and "--format" in result.output


def test_csv_rows_and_bad_rows(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"id,body,source\n"
        b"1,\"a, quoted text\",reddit\n"
        b"2,,reddit\n"                      # empty text
        b"3,caf\xe9 latin-1,web\n"          # undecodable
        b"4,only two fields\n"              # malformed
        b"5,\"multi\nline\",web\n"
    )
    out = tmp_path / "rejected.csv"
    result = runner.invoke(app, ["ingest", str(path), "-p", "p", "--text-field", "body", "--id-field", "id",
                                 "--errors-out", str(out), "-q"])
    assert result.exit_code == 1, result.output
    stored = items(engine)
    assert {k: v.text for k, v in stored.items()} == {"1": "a, quoted text", "5": "multi\nline"}
    assert stored["1"].meta == {"source": "reddit"}
    assert sorted((e.line_number, e.reason) for e in errors(engine)) == [
        (3, "empty_text"), (4, "undecodable_bytes"), (5, "malformed_row")]
    rejected = out.read_bytes().splitlines()
    assert rejected[0] == b"id,body,source" and len(rejected) == 4


def test_csv_without_the_named_column_fails_clearly(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "in.csv"
    path.write_text("id,text\n1,hello\n")
    result = runner.invoke(app, ["ingest", str(path), "-p", "p", "--text-field", "body"])
    assert result.exit_code == 2
    assert "no column 'body'" in result.output and "id, text" in result.output
    assert [(e.line_number, e.reason) for e in errors(engine)] == [(1, "missing_column")]
    assert items(engine) == {}


def test_parquet(engine, runner, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    make_project(engine)
    path = tmp_path / "in.parquet"
    table = pa.table({"uid": [1, 2, 3, 4], "content": ["first", None, "third", "   "], "score": [0.5, 1.0, 2.0, 3.0]})
    pq.write_table(table, path, row_group_size=2)
    result = runner.invoke(app, ["ingest", str(path), "-p", "p", "--text-field", "content", "--id-field", "uid", "-q"])
    assert result.exit_code == 1, result.output
    stored = items(engine)
    assert {k: v.text for k, v in stored.items()} == {"1": "first", "3": "third"}
    assert stored["3"].meta == {"score": 2.0}
    assert [(e.line_number, e.reason) for e in errors(engine)] == [(2, "missing_text"), (4, "empty_text")]
    missing = runner.invoke(app, ["ingest", str(path), "-p", "p", "--text-field", "text"])
    assert missing.exit_code == 2 and "no column 'text'" in missing.output


def test_unknown_project_and_missing_file_are_clear(engine, runner, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(line({"text": "x"}))
    result = runner.invoke(app, ["ingest", str(path), "-p", "nope"])
    assert result.exit_code == 2 and "annotator project create nope" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing.jsonl"), "-p", "nope"])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "in.txt"), "-p", "nope"])
    assert result.exit_code == 2


def test_unicode_and_large_batches_round_trip(engine, tmp_path):
    make_project(engine)
    texts = [f"émotion {i} 😀 — «{i}»" for i in range(2500)]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line({"text": t, "n": i}) for i, t in enumerate(texts)))
    summary = ingest(engine, "p", str(path), IngestOptions(batch_size=1000))
    assert summary.inserted == 2500
    stored = items(engine)
    assert stored[texts[1234]].meta == {"n": 1234}


def test_annotated_dataset_format_keeps_gold_labels(engine, runner, shared_data):
    make_project(engine)
    path = shared_data / "goemotions" / "dev.tsv"
    result = runner.invoke(app, ["ingest", str(path), "-p", "p", "--format", "goemotions", "-q"])
    assert result.exit_code == 0, result.output
    with session_scope(engine) as db:
        n = db.scalar(select(func.count()).select_from(Item))
        sample = db.scalars(select(Item).order_by(Item.id).limit(1)).one()
    # 5,426 rows; identical comment texts collapse into one item
    assert 5300 < n <= 5426
    assert sample.meta["gold"]["emotions"] and sample.meta["split"] == "dev"


def test_annotated_dataset_with_cause_spans(engine, shared_data):
    make_project(engine)
    summary = ingest(engine, "p", str(shared_data / "emotion_stimulus" / "emotion_cause.shared.txt"),
                     IngestOptions(fmt="emotion-stimulus", id_field="id"))
    assert summary.rejected == 0 and summary.inserted + summary.duplicates == 656
    for item in items(engine).values():
        cause = item.meta["gold"]["cause"]
        assert item.text[cause["start"]:cause["end"]] == cause["text"]


def test_resumed_csv_run_writes_the_header_before_replayed_rejections(engine, tmp_path):
    make_project(engine)
    path = tmp_path / "in.csv"
    path.write_bytes(b"text,n\n,0\n" + b"".join(b"t%d,%d\n" % (i, i) for i in range(1, 20)) + b",20\n")
    options = IngestOptions(batch_size=5)

    def stop(s: IngestSummary) -> None:
        if s.rows_read >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "p", str(path), options, progress=stop)
    out = tmp_path / "rejected.csv"
    with open(out, "wb") as f:
        summary = ingest(engine, "p", str(path), options, errors_out=f)
    assert summary.resumed_from > 0
    assert out.read_bytes() == b"text,n\n,0\n,20\n"


def test_rows_stored_by_another_writer_during_a_fresh_run_are_still_judged_right(engine, tmp_path):
    """A fresh project's run skips lookups for rows its filter has not seen; if another ingest stored such a
    row meanwhile, the unique index refuses the batch and it is redone with lookups (PostgreSQL; SQLite
    always looks rows up). Simulated by a filter that was never told about a stored row."""
    from annotator import repo
    from annotator.bloom import BloomFilter
    from annotator.hashing import content_hash

    make_project(engine)
    first = tmp_path / "other-writer.jsonl"
    first.write_bytes(line({"id": "a", "text": "stored by someone else"}) + line({"id": "b", "text": "same text"}))
    ingest(engine, "p", str(first), IngestOptions(id_field="id"))
    with session_scope(engine) as db:
        project_id = repo.get_project_or_raise(db, "p").id
    texts = ["another text", "same text", "new", "new"]
    batch = repo.ItemColumns(ext_ids=["a", "c", "d", "e"], texts=texts, hashes=[content_hash(t) for t in texts],
                             metas=[None] * 4)
    seen = BloomFilter(bits=1 << 10)
    with engine.begin() as conn:
        repo.lock_project_for_ingest(conn, project_id)
        added = repo.add_items(conn, project_id, batch, seen)
    # a: id stored with another text (conflict); c: text stored (duplicate); d: new; e: same text as d
    assert (added.inserted, added.duplicates, added.conflicts) == (1, 2, [0])
    assert {k: v.text for k, v in items(engine).items()} == {"a": "stored by someone else", "b": "same text",
                                                             "d": "new"}
    if engine.dialect.name == "postgresql":  # SQLite ignores the filter (INSERT OR IGNORE needs no lookups)
        assert seen.maybe_contains(["d", content_hash("new")]).all()


def test_a_dataset_row_with_an_unknown_gold_label_is_kept_without_it_and_reported(engine, runner, tmp_path):
    make_project(engine)
    utterance = {"turn": 1, "speaker": "A", "utterance": "We won the cup!", "emotion": "happines"}  # RECCON's typo
    other = {"turn": 2, "speaker": "B", "utterance": "Great news.", "emotion": "happiness"}
    path = tmp_path / "dailydialog_test.json"
    path.write_text(json.dumps({"tr_1": [[utterance, other]]}), encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "-p", "p", "--format", "reccon", "--id-field", "id"])
    assert result.exit_code == 0, result.output
    assert "1 row(s) stored without their gold label" in " ".join(result.output.split())
    stored = items(engine)
    assert set(stored) == {"tr_1_1", "tr_1_2"}
    assert stored["tr_1_1"].meta["gold"]["emotions"] is None
    assert "unknown emotion 'happines'" in stored["tr_1_1"].meta["label_error"]
    assert stored["tr_1_2"].meta["gold"]["emotions"] == ["joy"] and "label_error" not in stored["tr_1_2"].meta
