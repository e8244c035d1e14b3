"""One-pass training on the tiny base: save/reload gives the same outputs, a resumed run the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.adapters import ADAPTER_META, serves
from models.labeler import open_labeler
from models.onepass.artifact import HEADS_FILE, READOUT, load_onepass
from models.onepass.embedding import EMBEDDING_DIM
from models.onepass.labeler import OnePassLabeler
from models.onepass.train import fit_onepass
from models.training.loop import CHECKPOINT
from tests.models.onepass.conftest import TAXONOMIES, config, examples

TEXTS = ["I am so happy today, number 3!", "This makes me furious, take 5.", "The bus 7 was late because of snow",
         "naïve café — 😀", "ok", ""]


def test_the_adapter_folder_holds_lora_heads_and_readout_metadata(trained) -> None:
    fitted, path = trained
    meta = json.loads((path / ADAPTER_META).read_text())
    assert meta["readout"] == READOUT and (path / HEADS_FILE).is_file() and (path / "adapter_config.json").is_file()
    assert meta["onepass"]["spec"]["taxonomies"] == {k: list(v) for k, v in TAXONOMIES.items()}
    assert set(meta["onepass"]["thresholds"]) <= set(TAXONOMIES) and meta["onepass"]["thresholds"]
    assert meta["onepass"]["intensity_trained"]["mood"] == ["sadness"]  # only sadness had intensities
    assert meta["data"]["n_items"] < meta["data"]["n_examples"]  # the repeated text became one item
    adapter_config = json.loads((path / "adapter_config.json").read_text())
    assert adapter_config["layers_to_transform"] == [1]  # LoRA only above the one frozen layer


def test_outputs_are_identical_after_save_and_reload(tiny, trained) -> None:
    fitted, path = trained
    before = fitted.reader().predict(TEXTS, "mood", batch_size=4)
    labeler = open_labeler(tiny, path, TAXONOMIES["mood"][::-1])  # any label order: emotions follow it
    assert isinstance(labeler, OnePassLabeler) and labeler.taxonomy == "mood"
    after = labeler.predict(TEXTS, batch_size=2)
    for a, b, text in zip(before, after, TEXTS):
        assert list(b.emotions) == list(TAXONOMIES["mood"][::-1])
        assert b.emotions == pytest.approx(a.emotions, abs=1e-5)  # LoRA merged into the weights: rounding only
        assert b.intensities == pytest.approx(a.intensities, abs=1e-5)
        assert b.cause == a.cause
        # the item's embedding (what choosing what to label next compares) does not depend on its batch either
        assert len(b.embedding) == EMBEDDING_DIM and b.embedding == pytest.approx(a.embedding, abs=1e-4)
        if b.cause is not None:
            start, end, span = b.cause
            assert text[start:end] == span and span.strip() == span and span
        assert b.intensity == b.intensities[max(b.emotions, key=b.emotions.get)]
    unmerged, *_ = load_onepass(tiny.path, path, merge=False)
    assert unmerged is not None


def test_thresholds_are_applied_and_only_served_taxonomies_open(tiny, trained) -> None:
    _, path = trained
    labeler = open_labeler(tiny, path, TAXONOMIES["pair"])
    assert set(labeler.thresholds) == {"joy", "fear"} and all(0 < t < 1 for t in labeler.thresholds.values())
    assert serves(path, ("fear", "joy")) and not serves(path, ("joy", "anger"))
    with pytest.raises(ValueError, match="no head for these 2 labels; it serves: mood"):
        open_labeler(tiny, path, ("joy", "anger"))
    try:
        import vllm  # noqa: F401
    except ImportError:  # the vLLM one-pass reader is tried, and says how to get vLLM
        from models.backends.vllm import VllmBackendError

        with pytest.raises(VllmBackendError, match="vllm-cpu-venv.sh"):
            open_labeler(tiny, path, TAXONOMIES["pair"], backend="vllm")


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tiny, tmp_path: Path) -> None:
    whole = fit_onepass(config(tmp_path / "a"), examples(), base=tiny, work_dir=tmp_path / "run-a")
    stopped_dir = tmp_path / "run-b"
    # stop after the first checkpoint (step 3 of 8), the way a killed process leaves its folder
    fit_onepass(config(tmp_path / "b", max_seconds=1e-9), examples(), base=tiny, work_dir=stopped_dir)
    state = torch.load(stopped_dir / CHECKPOINT, weights_only=False)
    assert len(state["losses"]) < 8
    resumed = fit_onepass(config(tmp_path / "b"), examples(), base=tiny, work_dir=stopped_dir)
    assert resumed.meta["resumed_from_step"] == len(state["losses"])
    assert resumed.meta["losses"] == whole.meta["losses"]
    a, b = whole.network.state_dict(), resumed.network.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_continuing_an_adapter_goes_on_with_the_batches_after_its_last(tiny, trained, tmp_path: Path,
                                                                       monkeypatch) -> None:
    import models.onepass.train as train_module

    _, path = trained  # 8 steps on examples(), seed 0, batch size 4
    calls: list[tuple[tuple, dict]] = []
    real_plan = train_module.batch_plan

    def recording_plan(*args, **kwargs):
        calls.append((args, kwargs))
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(train_module, "batch_plan", recording_plan)
    same = fit_onepass(config(tmp_path / "c", max_steps=3), examples(), base=tiny, init_adapter=path)
    assert same.meta["plan_offset"] == 8 and same.meta["init_adapter"] == str(path)
    (n_items, batch_size, steps, seed), kwargs = calls[-1]
    assert steps == 11  # the run takes batches 8, 9 and 10 of the plan whose first 8 the adapter was trained on
    walked = real_plan(n_items, batch_size, 8, seed, **kwargs)
    assert real_plan(n_items, batch_size, 11, seed, **kwargs)[:8] == walked
    # another seed walks another plan: nothing to skip
    other = fit_onepass(config(tmp_path / "d", max_steps=2, seed=1), examples(), base=tiny, init_adapter=path)
    assert other.meta["plan_offset"] == 0
    # the continued run starts from the adapter's weights and heads, not fresh ones
    fresh = fit_onepass(config(tmp_path / "e", max_steps=1, learning_rate=1e-9), examples(), base=tiny)
    kept = fit_onepass(config(tmp_path / "f", max_steps=1, learning_rate=1e-9), examples(), base=tiny,
                       init_adapter=path)
    text = ["I am so happy today, number 3!"]
    assert kept.reader().predict(text, "mood")[0].emotions != fresh.reader().predict(text, "mood")[0].emotions
