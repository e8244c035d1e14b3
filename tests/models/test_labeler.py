"""The labeler on the real 135M base: value ranges, spans, order, batch invariance."""

from __future__ import annotations

import math

import pytest

from models.labeler import Labeler

TEXTS = [
    "I am so happy today because my sister came home!",
    "This is awful, I hate waiting and I'm furious at the delay.",
    "The train was late again.",
    "naïve café — 😀 I'm scared of the dark.",
    "ok",
]


@pytest.fixture(scope="module")
def labeler(base) -> Labeler:
    return Labeler(base, None, ["joy", "anger", "sadness", "fear"], device="cpu")


@pytest.fixture(scope="module")
def predictions(labeler):
    return labeler.predict(TEXTS, batch_size=8)


def test_one_prediction_per_text_with_every_field(labeler, predictions) -> None:
    assert len(predictions) == len(TEXTS)
    for prediction in predictions:
        assert list(prediction.emotions) == list(labeler.labels)
        assert prediction.adapter_version == "base"


def test_probabilities_and_intensity_are_in_range(predictions) -> None:
    for prediction in predictions:
        assert all(0.0 <= p <= 1.0 and math.isfinite(p) for p in prediction.emotions.values())
        assert prediction.intensity is not None and 0.0 <= prediction.intensity <= 1.0


def test_cause_is_always_a_substring(predictions) -> None:
    for text, prediction in zip(TEXTS, predictions):
        if prediction.cause is not None:
            start, end, span = prediction.cause
            assert 0 <= start < end <= len(text) and text[start:end] == span and span == span.strip()


def test_batching_and_order_do_not_change_results(labeler, predictions) -> None:
    reordered = labeler.predict(TEXTS[::-1], batch_size=2)[::-1]
    for a, b in zip(predictions, reordered):
        assert a.cause == b.cause
        assert a.intensity == pytest.approx(b.intensity, abs=1e-4)
        for label in a.emotions:
            assert a.emotions[label] == pytest.approx(b.emotions[label], abs=1e-4)


def test_zero_shot_sanity(predictions) -> None:
    happy, furious = predictions[0], predictions[1]
    assert happy.emotions["joy"] > furious.emotions["joy"]
    assert furious.emotions["anger"] > happy.emotions["anger"] or furious.emotions["joy"] < 0.5


def test_with_adapter_on_the_transformers_backend_loads_a_labeler_of_its_own(labeler, predictions) -> None:
    """The transformers backend cannot share its weights between adapters: with_adapter loads anew, with
    the new taxonomy, and the original labeler is untouched (vLLM shares its engine: test_vllm_backend)."""
    other = labeler.with_adapter(None, labels=("joy", "anger"))
    assert other.backend is not labeler.backend and other.labels == ("joy", "anger")
    assert set(other.predict(["I am so happy today"], batch_size=1)[0].emotions) == {"joy", "anger"}
    again = labeler.predict(TEXTS[:1], batch_size=1)[0]
    assert again.emotions == pytest.approx(predictions[0].emotions, abs=1e-5)
