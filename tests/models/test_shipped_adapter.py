"""The default adapter shipped under adapters/default: complete, small, found by default, and it has learned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.label.adapters import default_adapter_path
from annotator.taxonomy import get_taxonomy
from models.adapters import ADAPTER_META
from models.labeler import Labeler

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (REPO / "adapters" / "default").glob("*/") if (p / ADAPTER_META).is_file())


@pytest.fixture(scope="module")
def shipped() -> Path:
    assert SHIPPED, "no adapter under adapters/default"
    return SHIPPED[-1]


def test_it_is_complete_small_and_documented(shipped: Path) -> None:
    assert sorted(p.name for p in shipped.iterdir()) == ["README.md", "adapter_config.json",
                                                          "adapter_model.safetensors", ADAPTER_META]
    assert (shipped / "adapter_model.safetensors").stat().st_size < 8_000_000
    meta = json.loads((shipped / ADAPTER_META).read_text())
    assert meta["version"] == shipped.name
    assert meta["base"]["model_id"] == "smollm2-135m-instruct"
    assert tuple(meta["labels"]) == get_taxonomy("goemotions").labels
    card = (shipped / "README.md").read_text()
    for needed in ("annotator train", "License", "Dev-split metrics", "zero-shot"):
        assert needed in card


def test_it_is_the_default_labeler_from_the_repository_root(shipped: Path, monkeypatch) -> None:
    from annotator.settings import get_settings

    monkeypatch.chdir(REPO)
    get_settings.cache_clear()
    assert default_adapter_path().resolve() == shipped.resolve()


def test_it_recognises_plain_emotions_the_base_does_not(base, shipped: Path) -> None:
    labels = get_taxonomy("goemotions").labels
    texts = ["Thank you so much for your help, I really appreciate it!",
             "I love you so much, you mean the world to me.",
             "Haha that is hilarious, I can't stop laughing lol"]
    expected = ["gratitude", "love", "amusement"]
    tuned = Labeler(base, shipped, labels).predict(texts, batch_size=4)
    zero_shot = Labeler(base, None, labels).predict(texts, batch_size=4)
    for label, p_tuned, p_base in zip(expected, tuned, zero_shot):
        assert p_tuned.emotions[label] > 0.5, (label, p_tuned.emotions[label])
        assert max(p_tuned.emotions, key=p_tuned.emotions.get) == label
        assert p_tuned.emotions[label] > p_base.emotions[label]
