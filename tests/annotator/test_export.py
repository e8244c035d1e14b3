"""`annotator export` (jsonl, csv, hf) with provenance, and `annotator status`."""

from __future__ import annotations

import csv
import json

from sqlalchemy import select

from annotator.cli.main import app
from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, ingest
from annotator.projects.service import create_project
from annotator.tables import Adapter, Annotation, Item, Prediction, Project
from annotator.taxonomy import get_taxonomy

TEXTS = {"a": "I lost my keys again, so annoying", "b": "What a lovely surprise party!", "c": "ok"}


def seed(engine, tmp_path):
    """Three items: one corrected by two humans, one predicted by two adapters, one untouched."""
    with session_scope(engine) as db:
        create_project(db, "p", get_taxonomy("ekman"))
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": v, "src": "test"}) + "\n" for k, v in TEXTS.items()))
    ingest(engine, "p", str(path), IngestOptions(id_field="id"))
    scores = {label: 0.1 for label in get_taxonomy("ekman").labels}
    with session_scope(engine) as db:
        ids = {i.external_id: i.id for i in db.scalars(select(Item))}
        db.add_all([
            Prediction(item_id=ids["a"], adapter_version="v1", emotions={**scores, "sadness": 0.7}, intensity=0.4,
                       cause_start=0, cause_end=16, cause_text="I lost my keys a"[:16], confidence=0.7),
            Prediction(item_id=ids["b"], adapter_version="v1", emotions={**scores, "joy": 0.55}, intensity=0.5),
            Prediction(item_id=ids["b"], adapter_version="v2", emotions={**scores, "joy": 0.9, "surprise": 0.6},
                       intensity=0.8, cause_start=7, cause_end=28, cause_text=TEXTS["b"][7:28], confidence=0.9),
            Annotation(item_id=ids["a"], annotator="ann1", emotions=["anger"], intensity=0.5, source="import",
                       cause_start=0, cause_end=15, cause_text=TEXTS["a"][0:15]),
            Annotation(item_id=ids["a"], annotator="ann2", emotions=["anger", "sadness"], intensity=0.7,
                       source="labelstudio", cause_start=0, cause_end=15, cause_text=TEXTS["a"][0:15]),
            Annotation(item_id=ids["a"], annotator="bad", emotions=["nonsense"], source="labelstudio",
                       status="rejected", rejection_reason="unknown label"),
        ])
        adapter = Adapter(version="v1", base_model="smollm2", path="adapters/v1")
        db.add(adapter)
        db.flush()
        db.scalars(select(Project)).one().active_adapter_id = adapter.id
    return ids


def test_jsonl_export_has_best_labels_and_provenance(engine, runner, tmp_path):
    seed(engine, tmp_path)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", "-p", "p", "--format", "jsonl", "--out", str(out), "--raw"])
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    a, b, c = rows["a"], rows["b"], rows["c"]
    # humans win; majority of the two accepted annotators (the rejected one does not count)
    assert (a["label_source"], a["emotions"], a["annotators"]) == ("human", ["anger", "sadness"], ["ann1", "ann2"])
    assert abs(a["intensity"] - 0.6) < 1e-9 and a["cause"] == {"start": 0, "end": 15, "text": TEXTS["a"][:15], "turn": None, "outside": False}
    assert a["adapter_version"] == "v1" and len(a["annotations"]) == 3 and len(a["predictions"]) == 1
    # the active adapter (v1) is preferred over the newer v2; threshold 0.5
    assert (b["label_source"], b["adapter_version"], b["emotions"]) == ("model", "v1", ["joy"])
    assert b["scores"]["joy"] == 0.55 and len(b["predictions"]) == 2
    assert (c["label_source"], c["emotions"], c["cause"]) == (None, [], None)
    assert c["meta"] == {"src": "test"} and "predictions" in c


def test_csv_export(engine, runner, tmp_path):
    seed(engine, tmp_path)
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["export", "-p", "p", "-f", "csv", "-o", str(out)]).exit_code == 0
    rows = {r["external_id"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert rows["a"]["emotions"] == "anger;sadness" and rows["a"]["annotators"] == "ann1;ann2"
    assert rows["a"]["cause_text"] == TEXTS["a"][:15] and rows["b"]["label_source"] == "model"
    assert json.loads(rows["b"]["scores"])["joy"] == 0.55 and "predictions" not in rows["a"]


def test_hf_export_loads_with_datasets(engine, runner, tmp_path):
    import datasets

    seed(engine, tmp_path)
    out = tmp_path / "hf"
    assert runner.invoke(app, ["export", "-p", "p", "-f", "hf", "-o", str(out), "--raw"]).exit_code == 0
    ds = datasets.load_dataset(str(out), split="train")
    assert ds.num_rows == 3
    by_id = {r["external_id"]: r for r in ds}
    assert by_id["a"]["emotions"] == ["anger", "sadness"] and by_id["b"]["scores"]["joy"] == 0.55
    assert by_id["a"]["cause"]["text"] == TEXTS["a"][:15] and by_id["b"]["cause"] is None
    assert set(ds.features["scores"].keys()) == set(get_taxonomy("ekman").labels)
    assert json.loads(by_id["a"]["annotations"])[0]["annotator"] == "ann1"
    # exporting again replaces the shards instead of adding to them
    assert runner.invoke(app, ["export", "-p", "p", "-f", "hf", "-o", str(out)]).exit_code == 0
    assert datasets.load_dataset(str(out), split="train").num_rows == 3


def test_status(engine, runner, tmp_path):
    seed(engine, tmp_path)
    result = runner.invoke(app, ["status", "-p", "p", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["items"], status["predicted"], status["annotated"], status["annotations"]) == (3, 2, 1, 3)
    assert status["predictions_by_adapter"] == {"v1": 2, "v2": 1} and status["active_adapter"] == "v1"
    assert status["ingest_errors"] == 0 and status["ingest_runs"][0]["inserted"] == 3
    table = runner.invoke(app, ["status", "-p", "p"])
    assert table.exit_code == 0 and "predicted by v2" in table.output
    assert runner.invoke(app, ["status", "-p", "missing"]).exit_code == 2


def test_unknown_export_format(engine, runner, tmp_path):
    seed(engine, tmp_path)
    result = runner.invoke(app, ["export", "-p", "p", "-f", "xml"])
    assert result.exit_code == 2 and "jsonl, csv, hf" in result.output
