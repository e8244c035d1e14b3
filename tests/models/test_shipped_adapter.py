"""The default adapter shipped under adapters/default: complete, small, one-pass, found by default for each
built-in taxonomy it has a head for, and it has learned what the zero-shot base has not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.label.adapters import default_adapter_path
from annotator.label.thresholds import decided
from annotator.taxonomy import get_taxonomy
from models.adapters import ADAPTER_META
from models.labeler import open_labeler
from models.onepass.artifact import HEADS_FILE, READOUT

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (REPO / "adapters" / "default").glob("*/") if (p / ADAPTER_META).is_file())
HEADS = ("goemotions", "semeval_ec", "ekman")


@pytest.fixture(scope="module")
def shipped() -> Path:
    assert len(SHIPPED) == 1, f"exactly one adapter under adapters/default, found {[p.name for p in SHIPPED]}"
    return SHIPPED[0]


@pytest.fixture(scope="module")
def meta(shipped: Path) -> dict:
    return json.loads((shipped / ADAPTER_META).read_text())


def test_it_is_complete_small_and_documented(shipped: Path, meta: dict) -> None:
    assert sorted(p.name for p in shipped.iterdir()) == sorted(
        ["README.md", "adapter_config.json", "adapter_model.safetensors", ADAPTER_META, HEADS_FILE])
    assert (shipped / "adapter_model.safetensors").stat().st_size < 12_000_000  # LoRA r16, fp16
    assert (shipped / HEADS_FILE).stat().st_size < 4_000_000
    assert meta["version"] == shipped.name
    assert meta["readout"] == READOUT
    assert meta["base"]["model_id"] == "smollm2-135m-instruct"
    card = (shipped / "README.md").read_text()
    for needed in ("annotator train", "License", "non-commercial", "Dev-split metrics", "zero-shot",
                   "previous adapter", "TF-IDF"):
        assert needed in card, needed


def test_it_has_a_head_and_tuned_thresholds_per_built_in_taxonomy(meta: dict) -> None:
    readout = meta["onepass"]
    assert sorted(readout["spec"]["taxonomies"]) == sorted(HEADS)
    for name in HEADS:
        labels = get_taxonomy(name).labels
        assert tuple(readout["spec"]["taxonomies"][name]) == labels
        thresholds = readout["thresholds"][name]
        assert sorted(thresholds) == sorted(labels)
        assert all(0.0 < t < 1.0 for t in thresholds.values()), thresholds
        assert len(set(thresholds.values())) > 1, "thresholds were tuned per label"


def test_it_is_the_default_labeler_of_each_built_in_taxonomy(shipped: Path, monkeypatch) -> None:
    from annotator.settings import get_settings

    monkeypatch.chdir(REPO)
    get_settings.cache_clear()
    for name in HEADS:
        chosen = default_adapter_path(get_taxonomy(name).labels)
        assert chosen is not None and chosen.resolve() == shipped.resolve(), name
    assert default_adapter_path(get_taxonomy("plutchik").labels) is None  # no head: zero-shot instead


def test_it_recognises_plain_emotions_the_base_does_not(base, shipped: Path, meta: dict) -> None:
    labels = get_taxonomy("goemotions").labels
    texts = ["Thank you so much for your help, I really appreciate it!",
             "I love you so much, you mean the world to me.",
             "Haha that is hilarious, I can't stop laughing lol"]
    expected = ["gratitude", "love", "amusement"]
    tuned = open_labeler(base, shipped, labels).predict(texts, batch_size=4)
    zero_shot = open_labeler(base, None, labels).predict(texts, batch_size=4)
    thresholds = meta["onepass"]["thresholds"]["goemotions"]
    for label, p_tuned, p_base in zip(expected, tuned, zero_shot):
        assert max(p_tuned.emotions, key=p_tuned.emotions.get) == label
        assert label in decided(p_tuned.emotions, thresholds)
        assert p_tuned.emotions[label] > p_base.emotions[label]
        assert p_tuned.cause is None or texts[expected.index(label)][p_tuned.cause[0]:p_tuned.cause[1]] == p_tuned.cause[2]


def test_its_semeval_head_reads_anger_and_how_strong_it_is(base, shipped: Path) -> None:
    labels = get_taxonomy("semeval_ec").labels
    strong, mild = open_labeler(base, shipped, labels).predict(
        ["I am absolutely furious, this is outrageous and I will never forgive them!!",
         "I'm a bit annoyed that the bus was late again."], batch_size=4)
    assert max(strong.emotions, key=strong.emotions.get) == "anger"
    assert strong.intensities is not None and mild.intensities is not None
    assert strong.intensities["anger"] > mild.intensities["anger"]
