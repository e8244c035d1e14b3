"""What a user can get wrong (settings, names, files, outputs) ends in one line and exit 2, never a traceback,
and nothing the user did not ask for is created or overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli.main import app
from annotator.settings import get_settings


def _one_error_line(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("variable, value, needle", [
    ("DATABASE_URL", "notaurl", "not a database URL"),
    ("DATABASE_URL", "", "not a database URL"),
    ("DATABASE_URL", "mysql://u@h/db", "mysql is not supported"),
    ("LABELSTUDIO_URL", "http://[::1", "not a URL"),
    ("LABELSTUDIO_URL", "ftp://example.org", "http(s)"),
    ("LABELSTUDIO_URL", "http://h:99999999", "not a URL"),
    ("LABELSTUDIO_TIMEOUT", "inf", "finite"),
    ("LABELSTUDIO_BACKOFF", "nan", "finite"),
])
def test_a_bad_setting_names_the_variable(runner, monkeypatch, variable, value, needle):
    monkeypatch.setenv(f"ANNOTATOR_{variable}", value)
    get_settings.cache_clear()
    _one_error_line(runner.invoke(app, ["jobs"]), f"ANNOTATOR_{variable}", needle)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(runner, monkeypatch, tmp_path: Path):
    garbage = tmp_path / "notes.db"
    garbage.write_text("my notes, not a database\n")
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", f"sqlite:///{garbage}")
    get_settings.cache_clear()
    _one_error_line(runner.invoke(app, ["jobs"]), "file is not a database", "ANNOTATOR_DATABASE_URL")
    assert garbage.read_text() == "my notes, not a database\n"


def test_a_sqlite_file_in_a_missing_folder_creates_no_folder(runner, monkeypatch, tmp_path: Path):
    missing = tmp_path / "no" / "such"
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", f"sqlite:///{missing}/x.db")
    get_settings.cache_clear()
    _one_error_line(runner.invoke(app, ["jobs"]), f"{missing} of the SQLite database does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("name, needle", [
    ("two\nlines", "one line of printable characters"),
    ("x" * 5000, "at most 100 characters"),
    ("   ", "non-empty name"),
])
def test_project_names_are_one_short_line(runner, db_url, name, needle):
    _one_error_line(runner.invoke(app, ["project", "create", name]), needle)
    assert "x" * 200 not in runner.invoke(app, ["project", "list"]).output


def test_project_labels_must_be_given_for_real(runner, db_url, tmp_path: Path):
    _one_error_line(runner.invoke(app, ["project", "create", "p", "--labels", ""]), "at least two labels")
    _one_error_line(runner.invoke(app, ["project", "create", "p", "--labels-file", "/dev/zero"]), "at most 64 KiB")
    many = tmp_path / "many.txt"
    many.write_text("\n".join(f"label{i}" for i in range(501)))
    _one_error_line(runner.invoke(app, ["project", "create", "p", "--labels-file", str(many)]), "at most 500 labels")
    assert "p" not in runner.invoke(app, ["project", "list"]).output.split()


def test_exist_ok_says_why_it_did_not_reuse_the_project(runner, db_url):
    assert runner.invoke(app, ["project", "create", "p", "--taxonomy", "ekman"]).exit_code == 0
    plain = _one_error_line(runner.invoke(app, ["project", "create", "p"]), "already exists")
    assert "--exist-ok" in plain
    reuse = _one_error_line(runner.invoke(app, ["project", "create", "p", "--exist-ok"]), "with other labels")
    assert "--exist-ok" not in reuse
    assert runner.invoke(app, ["project", "create", "p", "--taxonomy", "ekman", "--exist-ok"]).exit_code == 0


def test_an_unknown_project_suggests_near_names_not_every_name(runner, db_url):
    for name in ("reddit", "tweets", "news", "dialogs", "reviews", "forum", "chat"):
        assert runner.invoke(app, ["project", "create", name]).exit_code == 0
    line = _one_error_line(runner.invoke(app, ["status", "--project", "redit"]), "Did you mean: reddit?")
    assert "tweets" not in line and "project list" in line
    few = _one_error_line(runner.invoke(app, ["status", "--project", "zzz"]))
    assert "Did you mean" not in few


@pytest.fixture
def exported_project(runner, db_url, tmp_path: Path) -> str:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(i), "text": f"text number {i}"}) + "\n" for i in range(5)))
    assert runner.invoke(app, ["project", "create", "p"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "--project", "p", str(corpus), "-q"]).exit_code == 0
    return "p"


def test_export_to_standard_output(runner, exported_project):
    result = runner.invoke(app, ["export", "--project", exported_project, "--out", "-"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["text"] for r in rows] == [f"text number {i}" for i in range(5)]
    assert not Path("-").exists()
    _one_error_line(runner.invoke(app, ["export", "--project", exported_project, "--format", "hf", "--out", "-"]),
                    "writes a folder")


def test_outputs_create_their_folder_and_a_failed_write_keeps_the_old_file(runner, exported_project,
                                                                           tmp_path: Path):
    nested = tmp_path / "exports" / "today" / "p.jsonl"
    assert runner.invoke(app, ["export", "--project", exported_project, "--out", str(nested)]).exit_code == 0
    assert len(nested.read_text().splitlines()) == 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "fine"}\nnot json\n')
    errors = tmp_path / "rejected" / "today" / "bad.errors.jsonl"  # the same rule for --errors-out
    result = runner.invoke(app, ["ingest", "--project", exported_project, str(bad), "--errors-out", str(errors), "-q"])
    assert result.exit_code == 1 and errors.read_text().count("\n") == 1, result.output

    before = nested.read_bytes()
    # The disk fills while the export is written: one line naming the file, and the earlier export intact.
    import annotator.export as export_module

    real = export_module.json.dumps
    calls = iter(range(10_000))

    def disk_fills(row, **kw):
        if next(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(row, **kw)

    export_module.json.dumps = disk_fills
    try:
        result = runner.invoke(app, ["export", "--project", exported_project, "--out", str(nested)])
    finally:
        export_module.json.dumps = real
    _one_error_line(result, str(nested), "no space left on device")
    assert nested.read_bytes() == before
    assert [p.name for p in nested.parent.iterdir()] == ["p.jsonl"]  # no partial file left behind


def test_a_device_is_written_in_place_not_replaced(runner, exported_project):
    _one_error_line(runner.invoke(app, ["export", "--project", exported_project, "--out", "/dev/full"]),
                    "/dev/full", "no space left on device")
    assert Path("/dev/full").is_char_device()
    assert runner.invoke(app, ["export", "--project", exported_project, "--out", "/dev/null"]).exit_code == 0
    assert Path("/dev/null").is_char_device()
