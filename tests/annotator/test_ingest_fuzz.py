"""Hostile and broken inputs: each case ends with every valid row stored, each bad row rejected with its
reason, a documented exit code and no traceback. The inputs are generated here (nothing committed as data);
the last test mutates good files at random, seeded, the way the fuzzing that found these cases did.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.states import RunState
from annotator.tables import IngestError, IngestRun, Item
from tests.annotator.test_ingest import errors, items, make_project


def _ingest(runner, path: Path, *extra: str):
    result = runner.invoke(app, ["ingest", str(path), "--project", "p", "--id-field", "id", "-q", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def _runs(engine) -> list[IngestRun]:
    with session_scope(engine) as db:
        return list(db.scalars(select(IngestRun)))


def test_a_field_past_csvs_own_limit_is_rejected_as_too_long_and_the_rest_is_kept(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "long.csv"
    path.write_bytes(_csv([["id", "text"], ["a", "fine"], ["b", "x" * 200_000], ["c", "also fine"]]))
    result = _ingest(runner, path)
    assert result.exit_code == 1
    assert sorted(items(engine)) == ["a", "c"]
    assert [(e.line_number, e.reason) for e in errors(engine)] == [(3, "text_too_long")]
    assert _runs(engine)[0].state == RunState.DONE
    again = _ingest(runner, path)  # a re-run does not crash either: it adds nothing
    assert again.exit_code == 1 and len(items(engine)) == 2


@pytest.mark.parametrize("after", [50, 2000])
def test_an_unclosed_quote_loses_its_own_row_only(engine, runner, tmp_path, after):
    make_project(engine)
    path = tmp_path / "quote.csv"
    rows = b"".join(b'r%d,row number %d\n' % (i, i) for i in range(after))
    path.write_bytes(b'id,text\nfirst,ok\nbroken,"never closed\n' + rows)
    result = _ingest(runner, path)
    assert result.exit_code == 1
    stored = items(engine)
    assert len(stored) == 1 + after and stored["r0"].text == "row number 0"
    assert all(len(item.text) < 40 for item in stored.values())  # no item swallowed the rows after it
    assert [(e.line_number, e.reason) for e in errors(engine)] == [(3, "unclosed_quote")]


def test_a_quoted_field_over_several_lines_is_still_one_row(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "multi.csv"
    path.write_bytes(_csv([["id", "text"], ["a", "line one\nline two, with a comma and \"quotes\""], ["b", "next"]]))
    assert _ingest(runner, path).exit_code == 0
    assert items(engine)["a"].text == 'line one\nline two, with a comma and "quotes"' and "b" in items(engine)


def test_a_parquet_file_with_a_corrupt_page_keeps_every_readable_row(engine, runner, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    make_project(engine)
    path = tmp_path / "data.parquet"
    table = pa.table({"id": [f"i{n}" for n in range(300)], "text": [f"row {n} " * 10 for n in range(300)]})
    pq.write_table(table, path, row_group_size=100)
    page = pq.ParquetFile(path).metadata.row_group(1).column(1).data_page_offset
    data = bytearray(path.read_bytes())
    for k in range(page, page + 40):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    result = _ingest(runner, path)
    assert result.exit_code == 1
    assert len(items(engine)) == 200 and "i0" in items(engine) and "i250" in items(engine)
    bad = errors(engine)
    assert len(bad) == 100 and {e.reason for e in bad} == {"unreadable_rows"}
    assert [e.line_number for e in bad] == list(range(101, 201))


def test_a_byte_order_mark_does_not_cost_the_first_row(engine, runner, tmp_path):
    make_project(engine)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": "first"}).encode() + b"\n"
                     + json.dumps({"id": "b", "text": "second"}).encode() + b"\n")
    assert _ingest(runner, path).exit_code == 0
    assert sorted(items(engine)) == ["a", "b"] and errors(engine) == []


def test_folders_where_files_are_expected_are_usage_errors(engine, runner, tmp_path):
    make_project(engine)
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    for args in (["ingest", str(folder), "-p", "p"], ["ingest", str(tmp_path), "-p", "p", "--format", "jsonl"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "is a folder; pass a" in " ".join(result.output.split()), result.output
    result = runner.invoke(app, ["export", "-p", "p", "--out", str(folder)])
    assert result.exit_code == 2 and "is a folder" in " ".join(result.output.split()) and "Traceback" not in result.output


def test_a_format_error_says_it_was_recorded_only_when_it_was(engine, runner, tmp_path):
    make_project(engine)
    unknown = tmp_path / "in.txt"
    unknown.write_text("hello")
    result = runner.invoke(app, ["ingest", str(unknown), "-p", "p"])
    assert result.exit_code == 2 and "recorded" not in result.output
    missing_column = tmp_path / "in.csv"
    missing_column.write_bytes(_csv([["id", "body"], ["a", "x"]]))
    result = runner.invoke(app, ["ingest", str(missing_column), "-p", "p"])
    assert result.exit_code == 2 and "(recorded in the ingest errors)" in " ".join(result.output.split())
    assert [e.reason for e in errors(engine)] == ["missing_column"]


def test_brackets_in_a_reason_are_printed_not_eaten(engine, runner, tmp_path):
    from annotator.cli.common import console, report_rejections
    from annotator.correct.annotations_import import REASONS

    with console.capture() as captured:
        report_rejections(__import__("collections").Counter({"invalid_cause": 1}), REASONS, None, "line")
    assert "[start, end]" in captured.get()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.3:
            out[at] = rng.choice(b'"\\,{}[]\n\r\x00\xff\xfe')
        elif kind < 0.6:
            del out[at: at + rng.randint(1, 20)]
        else:
            out[at:at] = rng.choice([b'"', b"\n", b'\xef\xbb\xbf', b'","', b"\x80", b"{", b'"\n"'])
    return bytes(out)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_fuzzed_files_never_end_in_a_traceback_and_account_for_every_row(engine, runner, tmp_path, fmt):
    make_project(engine)
    rng = random.Random(20261201)
    good = [{"id": f"g{n}", "text": f"text number {n}, with \"quotes\" and, commas"} for n in range(60)]
    if fmt == "jsonl":
        clean = b"".join(json.dumps(row).encode() + b"\n" for row in good)
    else:
        clean = _csv([["id", "text"]] + [[row["id"], row["text"]] for row in good])
    for trial in range(12):
        path = tmp_path / f"fuzz{trial}.{fmt}"
        path.write_bytes(_mutate(clean, rng))
        result = _ingest(runner, path)
        assert result.exit_code in (0, 1), result.output
        with session_scope(engine) as db:
            run = db.scalars(select(IngestRun).where(IngestRun.source == str(path))).one()
            assert run.state == RunState.DONE
            stored = db.scalars(select(Item)).all()
            kept = db.scalars(select(IngestError).where(IngestError.run_id == run.id)).all()
        assert run.rows_inserted + run.rows_duplicate + run.rows_rejected >= 1
        assert run.rows_rejected == len(kept)
        assert all(item.text for item in stored)
