"""compute_agreement on a simulated project: every field, labeler vs humans, per-annotator reliability,
stored reports, and the `annotator agreement` command."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotator.agree.service import HUMAN, LABELER, compute_agreement, latest_reports
from annotator.cli.main import app
from annotator.db import session_scope
from annotator.tables import AgreementReport, Project
from tests.agreement.conftest import EMOTIONS, simulate


def test_compute_agreement_every_field_and_store(engine, tmp_path):
    simulate(engine, tmp_path)
    result = compute_agreement(engine, "sim", bootstrap=50)
    figures = {(f.field, f.coders): f for f in result.figures}
    names = [f"emotion:{e}" for e in EMOTIONS] + ["emotions", "intensity", "cause"]
    assert {field for field, _ in figures} == set(names)
    for name in names:
        human, both = figures[(name, HUMAN)], figures[(name, LABELER)]
        assert human.n_items == 60 and human.n_coders == 3 and both.n_coders == 4
        assert human.value is not None and human.ci_low <= human.value <= human.ci_high
        assert both.details["alpha_without_labeler"] == human.value and both.details["labeler"] == "v1"
        per = human.details["per_annotator"]
        # carol answers at random: the least reliable against the others' consensus, on every field.
        assert min(per, key=lambda name: per[name]["alpha"]) == "carol", name
        assert per["alice"]["n_items"] == 60
    cause = figures[("cause", HUMAN)].details
    assert 0 < cause["span_f1"] < 1 and cause["span_pairs"] == 180
    with session_scope(engine) as db:
        project_id = db.scalar(select(Project.id).where(Project.name == "sim"))
        rows = latest_reports(db, project_id)
        assert len(rows) == 2 * len(names)
        stored = {(r.field, r.coders): r for r in rows}
        assert stored[("intensity", HUMAN)].value == pytest.approx(figures[("intensity", HUMAN)].value)
        assert set(stored[("emotions", HUMAN)].details["per_annotator"]) == {"alice", "bob", "carol"}
        assert stored[("cause", HUMAN)].n_items == 60 and stored[("cause", LABELER)].n_coders == 4


def test_without_labeler_and_field_filter_and_no_store(engine, tmp_path):
    simulate(engine, tmp_path)
    result = compute_agreement(engine, "sim", ["emotions", "cause"], bootstrap=0, with_labeler=False, store=False)
    assert [(f.field, f.coders) for f in result.figures] == [("emotions", HUMAN), ("cause", HUMAN)]
    assert result.figures[0].ci_low is None
    with session_scope(engine) as db:
        assert db.scalars(select(AgreementReport)).first() is None
    with pytest.raises(ValueError, match="unknown field"):
        compute_agreement(engine, "sim", ["emotion:love"])


def test_cli_agreement_json_and_table(engine, runner, tmp_path):
    simulate(engine, tmp_path)
    result = runner.invoke(app, ["agreement", "--project", "sim", "--json", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"] == "sim" and len(data["fields"]) == len(EMOTIONS) + 3
    intensity = data["fields"]["intensity"]
    for coders in (HUMAN, LABELER):
        assert set(intensity[coders]) >= {"alpha", "ci_low", "ci_high", "n_items", "n_coders"}
    assert intensity[HUMAN]["n_items"] == 60 and intensity[LABELER]["n_coders"] == 4
    table = runner.invoke(app, ["agreement", "-p", "sim", "-f", "emotions", "--no-labeler", "--bootstrap", "0"])
    assert table.exit_code == 0 and "emotions" in table.output and "carol" in table.output
    bad = runner.invoke(app, ["agreement", "-p", "sim", "-f", "nope"])
    assert bad.exit_code == 2 and "unknown field" in bad.output


def test_the_shipped_default_that_labeled_the_project_is_the_labeler(engine, tmp_path, runner):
    """No adapter promoted, the shipped default pre-labeled everything: agreement, status and the dashboard
    overview all name it; it is not reported as 'none'."""
    from annotator.correct.dashboard import overview
    from annotator.projects.status import project_status

    simulate(engine, tmp_path, shipped_default=True)
    result = compute_agreement(engine, "sim", bootstrap=0, fields=["emotions"])
    (both,) = [f for f in result.figures if f.coders == LABELER]
    assert both.details["labeler"] == "v1" and both.n_coders == 4
    assert project_status(engine, "sim")["active_adapter"] == "v1"
    with session_scope(engine) as db:
        assert overview(db, "sim")["labeler"] == "v1" and overview(db, "sim")["labeler_status"] == "default"
    out = runner.invoke(app, ["agreement", "--project", "sim", "--bootstrap", "0"]).output
    assert "labeler" in out.lower() and "v1" in out


def test_agreement_without_annotations_says_so_in_one_line(engine, runner):
    from annotator.projects.service import create_project
    from annotator.taxonomy import get_taxonomy

    with session_scope(engine) as db:
        create_project(db, "bare", get_taxonomy("goemotions"))
    result = runner.invoke(app, ["agreement", "--project", "bare"])
    assert result.exit_code == 0
    assert "no accepted human annotations yet" in result.output and " - " not in result.output
    assert len(result.output.strip().splitlines()) <= 3
