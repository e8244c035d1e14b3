"""Export a project's items with their current best labels and provenance, streaming page by page.

Formats: ``jsonl`` (one object a line), ``csv`` (flat columns, lists joined with ``;``, nested values
as JSON) and ``hf`` (a folder of Parquet shards under ``data/`` that ``datasets.load_dataset(folder)``
reads as a ``train`` split, with a fixed schema: one score column per taxonomy label).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.consensus import best_labels, cause_dict
from annotator.db import session_scope
from annotator.label.thresholds import Thresholds, decision_thresholds
from annotator.outputs import STDOUT, open_output
from annotator.tables import Adjudication, Annotation, Item, Prediction

EXPORT_FORMATS = ("jsonl", "csv", "hf")
HF_SHARD_ROWS = 100_000


@dataclass
class ExportSummary:
    """What an export wrote."""

    path: Path
    rows: int
    files: list[Path]


def _prediction_dict(p: Prediction) -> dict[str, Any]:
    return {
        "adapter_version": p.adapter_version, "emotions": p.emotions, "intensity": p.intensity,
        "intensities": p.intensities,
        "cause": cause_dict(p.cause_start, p.cause_end, p.cause_text, p.cause_turn),
        "confidence": p.confidence, "provenance": p.provenance, "created_at": p.created_at.isoformat(),
    }


def _annotation_dict(a: Annotation) -> dict[str, Any]:
    return {
        "annotator": a.annotator, "emotions": a.emotions, "intensity": a.intensity, "intensities": a.intensities,
        "cause": cause_dict(a.cause_start, a.cause_end, a.cause_text, a.cause_turn, a.cause_outside),
        "source": a.source, "status": a.status, "rejection_reason": a.rejection_reason,
        "lead_time": a.lead_time, "created_at": a.created_at.isoformat(),
    }


def iter_export_rows(db: Session, project_name: str, include_raw: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per item, in id order: text, best labels, their provenance, and optionally all raw labels."""
    project = repo.get_project_or_raise(db, project_name)
    thresholds = decision_thresholds(db, project)
    adapter = repo.labeling_adapter(db, project)
    active = adapter.version if adapter is not None else None
    for page in repo.iter_item_pages(db, project.id):
        ids = [item.id for item in page]
        preds = repo.predictions_for_items(db, ids)
        anns = repo.annotations_for_items(db, ids)
        settled = repo.adjudications_for_items(db, ids)
        for item in page:
            yield _row(item, preds[item.id], anns[item.id], thresholds, active, include_raw, settled.get(item.id))


def _row(item: Item, preds: list[Prediction], anns: list[Annotation], thresholds: Callable[[str], Thresholds],
         active: str | None, include_raw: bool, adjudication: Adjudication | None = None) -> dict[str, Any]:
    best = best_labels(anns, preds, thresholds=thresholds, preferred_adapter=active)
    if adjudication is not None:  # a reviewer's final label wins over the majority
        best.emotions, best.intensity, best.source = list(adjudication.emotions), adjudication.intensity, "adjudicated"
        best.intensities = None
        best.cause = cause_dict(adjudication.cause_start, adjudication.cause_end, adjudication.cause_text,
                                adjudication.cause_turn, adjudication.cause_outside)
        best.annotators = list(adjudication.annotators)
    if best.cause is not None and best.cause["turn"] is None and not best.cause["outside"]:
        best.cause["turn"] = item.turn  # the turn the span lies in: the item's own (None for a lone item)
    row: dict[str, Any] = {
        "id": item.id, "external_id": item.external_id, "text": item.text, "meta": item.meta,
        "conversation_id": item.conversation_id, "turn": item.turn, "speaker": item.speaker,
        "emotions": best.emotions, "scores": best.scores, "intensity": best.intensity,
        "intensities": best.intensities, "cause": best.cause,
        "label_source": best.source, "adapter_version": best.adapter_version, "annotators": best.annotators,
        "adjudicated_by": adjudication.reviewer if adjudication is not None else None,
    }
    if include_raw:
        row["predictions"] = [_prediction_dict(p) for p in preds]
        row["annotations"] = [_annotation_dict(a) for a in anns]
    return row


def export(engine: Engine, project_name: str, fmt: str, out: Path, include_raw: bool = False) -> ExportSummary:
    """Write the project's export to ``out`` (a file for jsonl/csv, a folder for hf)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    if fmt == "hf" and str(out) == STDOUT:
        raise ValueError("the hf format writes a folder; --out - (standard output) is for jsonl and csv")
    if fmt != "hf" and out.is_dir():
        raise ValueError(f"{out} is a folder; --out for {fmt} names a file (only the hf format writes a folder)")
    if fmt == "hf" and out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; --out for hf names a folder")
    with session_scope(engine) as db:
        labels = list(repo.get_project_or_raise(db, project_name).labels)
        rows = iter_export_rows(db, project_name, include_raw=include_raw)
        if fmt == "jsonl":
            return _write_jsonl(rows, out)
        if fmt == "csv":
            return _write_csv(rows, out, include_raw)
        return _write_hf(rows, out, labels, include_raw)


def _write_jsonl(rows: Iterator[dict[str, Any]], out: Path) -> ExportSummary:
    n = 0
    with open_output(out) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return ExportSummary(out, n, [out])


CSV_COLUMNS = ["id", "external_id", "conversation_id", "turn", "speaker", "text", "emotions", "intensity",
               "cause_start", "cause_end", "cause_text", "cause_turn", "cause_outside",
               "label_source", "adapter_version", "annotators", "adjudicated_by", "scores", "intensities", "meta"]


def _write_csv(rows: Iterator[dict[str, Any]], out: Path, include_raw: bool) -> ExportSummary:
    columns = CSV_COLUMNS + (["predictions", "annotations"] if include_raw else [])
    n = 0
    with open_output(out, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            cause = row["cause"] or {}
            flat = {
                **{k: row[k] for k in ("id", "external_id", "conversation_id", "turn", "speaker", "text", "intensity",
                                       "label_source", "adapter_version", "adjudicated_by")},
                "emotions": ";".join(row["emotions"]), "annotators": ";".join(row["annotators"]),
                "cause_start": cause.get("start"), "cause_end": cause.get("end"), "cause_text": cause.get("text"),
                "cause_turn": cause.get("turn"), "cause_outside": cause.get("outside"),
                "scores": json.dumps(row["scores"]) if row["scores"] is not None else "",
                "intensities": json.dumps(row["intensities"]) if row["intensities"] is not None else "",
                "meta": json.dumps(row["meta"], ensure_ascii=False) if row["meta"] is not None else "",
            }
            if include_raw:
                flat["predictions"] = json.dumps(row["predictions"], ensure_ascii=False)
                flat["annotations"] = json.dumps(row["annotations"], ensure_ascii=False)
            writer.writerow(flat)
            n += 1
    return ExportSummary(out, n, [out])


def _hf_schema(labels: list[str], include_raw: bool) -> Any:
    import pyarrow as pa

    span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()), ("turn", pa.int64()),
                      ("outside", pa.bool_())])
    fields = [
        ("id", pa.int64()), ("external_id", pa.string()), ("conversation_id", pa.string()), ("turn", pa.int64()),
        ("speaker", pa.string()), ("text", pa.string()),
        ("emotions", pa.list_(pa.string())),
        ("scores", pa.struct([(label, pa.float64()) for label in labels])),
        ("intensity", pa.float64()),
        ("intensities", pa.struct([(label, pa.float64()) for label in labels])),
        ("cause", span), ("label_source", pa.string()),
        ("adapter_version", pa.string()), ("annotators", pa.list_(pa.string())), ("adjudicated_by", pa.string()),
        ("meta", pa.string()),
    ]
    if include_raw:
        fields += [("predictions", pa.string()), ("annotations", pa.string())]
    return pa.schema(fields)


def _write_hf(rows: Iterator[dict[str, Any]], out: Path, labels: list[str], include_raw: bool) -> ExportSummary:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for old in data.glob("train-*.parquet"):
        old.unlink()
    schema = _hf_schema(labels, include_raw)
    shards: list[Path] = []
    buffer: list[dict[str, Any]] = []
    n = 0

    def flush() -> None:
        path = data / f"train-{len(shards):05d}.parquet.tmp"
        pq.write_table(pa.Table.from_pylist(buffer, schema=schema), path)
        shards.append(path)
        buffer.clear()

    for row in rows:
        row = dict(row)
        row["meta"] = json.dumps(row["meta"], ensure_ascii=False) if row["meta"] is not None else None
        if include_raw:
            row["predictions"] = json.dumps(row["predictions"], ensure_ascii=False)
            row["annotations"] = json.dumps(row["annotations"], ensure_ascii=False)
        buffer.append(row)
        n += 1
        if len(buffer) >= HF_SHARD_ROWS:
            flush()
    if buffer or not shards:
        flush()
    final = []
    for i, tmp in enumerate(shards):
        target = data / f"train-{i:05d}-of-{len(shards):05d}.parquet"
        tmp.rename(target)
        final.append(target)
    return ExportSummary(out, n, final)
