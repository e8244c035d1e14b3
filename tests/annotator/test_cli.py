"""Every command has help with an explanation, and the demo (the README's main job) works twice."""

from __future__ import annotations

import json
import os

import pytest
import typer
from sqlalchemy import create_engine, text
from typer.main import get_command

from annotator.cli.main import app


def _all_commands():
    root = get_command(app)
    stack = [((), root)]
    while stack:
        path, cmd = stack.pop()
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append(((*path, name), sub))


@pytest.mark.parametrize("path", [p for p, _ in _all_commands()], ids=lambda p: " ".join(p) or "annotator")
def test_every_command_has_help(runner, path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


def test_readme_mentions_every_top_level_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for path, _ in _all_commands():
        if len(path) == 1:
            assert f"annotator {path[0]}" in readme, f"README has no reference for `annotator {path[0]}`"


def test_demo_runs_twice(runner, tmp_path, monkeypatch):
    """The README's main job: ingest, pre-label a few items with the default labeler, export; twice."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANNOTATOR_TORCH_THREADS", "1")
    first = runner.invoke(app, ["demo", "--label", "6"])
    assert first.exit_code == 0, first.output
    assert "500 added" in first.output and "6 items" in first.output
    second = runner.invoke(app, ["demo", "--label", "6"])
    assert second.exit_code == 0 and "0 added, 500 already there" in second.output and "0 items" in second.output
    rows = [json.loads(line) for line in (tmp_path / "demo-export.jsonl").read_text().splitlines()]
    assert len(rows) == 500 and rows[0]["meta"]["gold_emotions"]
    labeled = [r for r in rows if r["label_source"] == "model"]
    assert len(labeled) == 6, {r["label_source"] for r in rows}
    # the shipped one-pass adapter stores each item's embedding, which choosing what to label next compares
    engine = create_engine(os.environ["ANNOTATOR_DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT embedding FROM predictions")).scalars().all()
    engine.dispose()
    assert len(stored) == 6 and all(len(blob) == 128 for blob in stored)


def test_error_messages_print_brackets_literally(capsys):
    """Rich must not eat "[labelstudio]" in an install hint as a markup tag."""
    from annotator.cli.common import fail

    fail("pip install 'emo-annotator[labelstudio]'")
    assert "emo-annotator[labelstudio]" in capsys.readouterr().err


def test_errors_out_naming_the_input_is_refused_and_the_input_kept(engine, runner, tmp_path):
    from annotator.cli.main import app

    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a"}\n{"oops": 1}\n')
    assert runner.invoke(app, ["project", "create", "p", "--taxonomy", "ekman"]).exit_code == 0
    for command in (["ingest", str(source), "--project", "p"], ["annotations", "import", str(source), "--project", "p"]):
        result = runner.invoke(app, [*command, "--errors-out", str(tmp_path / "." / "in.jsonl")])
        assert result.exit_code == 2 and "is the input file" in result.output
        assert source.read_text() == '{"text": "a"}\n{"oops": 1}\n'


def test_a_bad_setting_is_one_line_naming_the_variable(runner, monkeypatch):
    from annotator.cli.main import app
    from annotator.settings import get_settings

    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_TIMEOUT", "abc")
    get_settings.cache_clear()
    result = runner.invoke(app, ["project", "list"])
    get_settings.cache_clear()
    assert result.exit_code == 2 and "ANNOTATOR_LABELSTUDIO_TIMEOUT" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
