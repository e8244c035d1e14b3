"""Real multi-rater data through our ingest, annotations import and tables, against alpha on the raw files.

Snow et al. 2008: 10 MTurk workers rated each of 100 headlines 0..100 per emotion: interval alpha per
emotion. EmotionLines (Friends, dev): 5 raters per utterance, given as vote counts: nominal alpha.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sqlalchemy import select

from annotator.agree.service import compute_agreement
from annotator.correct.annotations_import import import_annotations
from annotator.datasets import emotionlines
from annotator.datasets.labels import EKMAN_NEUTRAL
from annotator.db import session_scope
from annotator.ingest.service import IngestOptions, ingest
from annotator.projects.service import create_project
from annotator.tables import Item, Project
from annotator.taxonomy import custom_taxonomy, get_taxonomy
from tests.agreement.conftest import write_jsonl

SNOW_EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


def _raw_snow_alpha(folder: Path, emotion: str) -> float:
    """Interval alpha straight from the TSV: workers x headlines, NaN where a worker did not rate."""
    with open(folder / f"{emotion}.standardized.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    workers = sorted({r["!amt_worker_ids"] for r in rows})
    heads = sorted({r["orig_id"] for r in rows})
    matrix = np.full((len(workers), len(heads)), np.nan)
    for r in rows:
        matrix[workers.index(r["!amt_worker_ids"]), heads.index(r["orig_id"])] = float(r["response"])
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval"))


def _project_items(engine, project: str) -> list[Item]:
    with session_scope(engine) as db:
        return list(db.scalars(select(Item).join(Project, Project.id == Item.project_id)
                               .where(Project.name == project).order_by(Item.id)))


@pytest.mark.slow
def test_snow2008_interval_alpha_per_emotion_matches_raw_files(engine, shared_data, tmp_path):
    folder = shared_data / "snow2008_affect"
    for emotion in SNOW_EMOTIONS:
        project = f"snow-{emotion}"
        with session_scope(engine) as db:
            create_project(db, project, get_taxonomy("ekman"))
        # The headlines file stands for the folder (ingesting the folder path itself fails in sources.fingerprint).
        summary = ingest(engine, project, str(folder / "headlines.tsv"),
                         IngestOptions(text_field="text", id_field="id", fmt="snow2008"))
        assert summary.rejected == 0 and summary.inserted == 80
        # The ratings come back out of our items' metadata, become an annotations file, and go in through
        # the import: from there on only our tables are read.
        lines = [{"id": item.external_id, "annotator": worker, "emotions": [], "intensity": value / 100}
                 for item in _project_items(engine, project) for worker, value in item.meta["ratings"][emotion]]
        path = write_jsonl(tmp_path / f"{emotion}.jsonl", lines)
        imported = import_annotations(engine, project, str(path))
        assert imported.inserted == 800 and imported.rejected == 0
        (figure,) = compute_agreement(engine, project, ["intensity"], bootstrap=0, with_labeler=False).figures
        assert figure.value == pytest.approx(_raw_snow_alpha(folder, emotion), abs=1e-9), emotion
        assert figure.n_items == 80 and figure.n_coders == len({line["annotator"] for line in lines})


def _raw_emotionlines_counts(path: Path) -> np.ndarray:
    """Vote counts (utterances x labels) straight from the JSON, one row per utterance: the emotionlines
    format is ingested as conversations, so every turn is its own item even where its words repeat."""
    return np.array([[int(d) for d in utt["annotation"]]
                     for dialogue in json.loads(path.read_text()) for utt in dialogue])


@pytest.mark.slow
def test_emotionlines_nominal_alpha_matches_raw_vote_counts(engine, shared_data, tmp_path):
    path = shared_data / "emotionlines_friends" / "friends_dev.json"
    with session_scope(engine) as db:
        create_project(db, "friends", custom_taxonomy(list(EKMAN_NEUTRAL), name="ekman_neutral"))
    summary = ingest(engine, "friends", str(path), IngestOptions(text_field="text", id_field="id",
                                                                  fmt="emotionlines"))
    assert summary.rejected == 0
    # Votes are anonymous counts: rater k gets the k-th vote in label order (alpha does not depend on it).
    lines = []
    for item in _project_items(engine, "friends"):
        votes = [label for label in emotionlines.VOTE_ORDER for _ in range(item.meta["votes"][label])]
        lines += [{"id": item.external_id, "annotator": f"rater{k}", "emotions": [label]}
                  for k, label in enumerate(votes)]
    imported = import_annotations(engine, "friends", str(write_jsonl(tmp_path / "friends.jsonl", lines)))
    assert imported.rejected == 0 and imported.inserted == 5 * summary.inserted
    raw = _raw_emotionlines_counts(path)
    assert len(raw) == summary.inserted
    result = compute_agreement(engine, "friends", ["emotions", "emotion:joy", "emotion:neutral"], bootstrap=0,
                               with_labeler=False)
    got = {f.field: f for f in result.figures}
    # Singleton emotion sets: MASI distance is 0 or 1, i.e. nominal alpha over the 7 labels.
    assert got["emotions"].value == pytest.approx(
        krippendorff.alpha(value_counts=raw, level_of_measurement="nominal"), abs=1e-9)
    order = list(emotionlines.VOTE_ORDER)
    for label in ("joy", "neutral"):
        column = raw[:, order.index(label)]
        binary = np.stack([raw.sum(axis=1) - column, column], axis=1)
        assert got[f"emotion:{label}"].value == pytest.approx(
            krippendorff.alpha(value_counts=binary, level_of_measurement="nominal"), abs=1e-9)
    assert got["emotions"].n_items == len(raw) and got["emotions"].n_coders == 5
