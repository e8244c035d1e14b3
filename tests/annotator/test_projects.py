"""Taxonomies as data, and `annotator project`."""

from __future__ import annotations

import pytest

from annotator import repo
from annotator.cli.main import app
from annotator.db import session_scope
from annotator.taxonomy import TaxonomyError, custom_taxonomy, get_taxonomy


@pytest.mark.parametrize("name,size,some", [
    ("goemotions", 28, "neutral"), ("semeval_ec", 11, "pessimism"), ("ekman", 6, "disgust"),
    ("plutchik", 8, "anticipation"), ("semeval", 11, "trust"),
])
def test_builtin_taxonomies(name, size, some):
    tax = get_taxonomy(name)
    assert len(tax.labels) == size == len(set(tax.labels)) and some in tax


@pytest.mark.parametrize("labels,message", [
    (["joy"], "at least two"), (["joy", "Joy"], "duplicate"), (["joy", "two words"], "lower-case words"),
])
def test_custom_taxonomy_is_validated(labels, message):
    with pytest.raises(TaxonomyError, match=message):
        custom_taxonomy(labels)


def test_unknown_taxonomy_lists_the_builtins():
    with pytest.raises(TaxonomyError, match="goemotions, semeval_ec, ekman, plutchik"):
        get_taxonomy("nope")


def test_project_create_builtin_custom_and_file(engine, runner, tmp_path):
    assert runner.invoke(app, ["project", "create", "a", "--taxonomy", "goemotions"]).exit_code == 0
    assert runner.invoke(app, ["project", "create", "b", "--labels", "calm,Tense, angry"]).exit_code == 0
    labels = tmp_path / "labels.txt"
    labels.write_text("# my labels\nhope\ndread  # comment\n\n")
    assert runner.invoke(app, ["project", "create", "c", "--taxonomy", "mine", "--labels-file", str(labels),
                               "--overlap", "3"]).exit_code == 0
    with session_scope(engine) as db:
        a, b, c = (repo.get_project_or_raise(db, n) for n in "abc")
        assert (a.taxonomy, len(a.labels)) == ("goemotions", 28)
        assert (b.taxonomy, b.labels) == ("custom", ["calm", "tense", "angry"])
        assert (c.taxonomy, c.labels, c.settings["overlap"]) == ("mine", ["hope", "dread"], 3)
    listing = runner.invoke(app, ["project", "list"])
    assert all(n in listing.output for n in "abc")


def test_project_create_twice(engine, runner):
    assert runner.invoke(app, ["project", "create", "a", "-t", "ekman"]).exit_code == 0
    again = runner.invoke(app, ["project", "create", "a", "-t", "ekman"])
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(app, ["project", "create", "a", "-t", "ekman", "--exist-ok"]).exit_code == 0
    assert runner.invoke(app, ["project", "create", "a", "-t", "plutchik", "--exist-ok"]).exit_code == 2


def test_taxonomies_command(runner):
    result = runner.invoke(app, ["project", "taxonomies"])
    assert result.exit_code == 0 and "plutchik" in result.output


def test_a_builtin_taxonomy_with_labels_is_refused_not_replaced(engine, runner, tmp_path):
    from annotator.cli.main import app

    result = runner.invoke(app, ["project", "create", "x", "--taxonomy", "ekman", "--labels", "a,b"])
    assert result.exit_code == 2 and "'ekman' is a built-in taxonomy" in result.output
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("a\nb\n")
    both = runner.invoke(app, ["project", "create", "x", "--labels", "a,b", "--labels-file", str(labels_file)])
    assert both.exit_code == 2 and "not both" in both.output
    ok = runner.invoke(app, ["project", "create", "x", "--taxonomy", "mine", "--labels", "a,b"])
    assert ok.exit_code == 0 and "taxonomy mine (2 labels)" in ok.output
