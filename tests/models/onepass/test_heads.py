"""The heads without the language model: loaded from an adapter folder alone, they give the outputs of the
full network on the same hidden states, and a reader fed unpadded per-item states (what vLLM returns)
predicts what the transformers reader does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.onepass.artifact import load_heads, load_onepass
from models.onepass.heads import OnePassHeads
from models.onepass.inputs import Batch, make_batch
from models.onepass.network import OnePassNetwork
from models.onepass.reader import OnePassReader
from tests.models.onepass.conftest import TAXONOMIES

TEXTS = ["I am so happy today, number 3!", "This makes me furious, take 5.", "The bus 7 was late because of snow",
         "naïve café — 😀", "ok", ""]


def _expected_names() -> set[str]:
    """The names heads.safetensors has always used: existing adapters must keep loading."""
    per_head = ["queries", "emotion_attended", "intensity_attended", "emotion_summary.weight",
                "emotion_summary.bias", "intensity_summary.weight", "intensity_summary.bias", "generic.weight",
                "generic.bias"]
    cause = [f"cause.{m}.{p}" for m in ("query", "key", "token", "none") for p in ("weight", "bias")]
    return {f"heads.{name}.{k}" for name in TAXONOMIES for k in per_head} | set(cause)


def test_heads_alone_load_without_base_weights_and_keep_their_names(tiny, trained) -> None:
    _, path = trained
    network, encoder, state, meta = load_onepass(tiny.path, path)
    heads, encoder2, state2, meta2 = load_heads(tiny.path, path)
    assert type(heads) is OnePassHeads and not any(k.startswith("lm.") for k in heads.state_dict())
    assert set(network.head_state()) == set(heads.head_state()) == _expected_names()
    for key, value in network.head_state().items():
        assert torch.equal(value, heads.head_state()[key]), key
    assert heads.spec == network.spec and heads.hidden_size == network.stack.config.hidden_size
    assert encoder2.spec() == encoder.spec() and state2 == state and meta2 == meta
    assert not heads.training and not any(p.requires_grad for p in heads.parameters())


def test_heads_alone_give_the_networks_outputs_on_the_same_hidden_states(tiny, trained) -> None:
    _, path = trained
    network, encoder, _, _ = load_onepass(tiny.path, path)
    heads, _, _, _ = load_heads(tiny.path, path)
    batch = make_batch(encoder.encode(TEXTS), encoder.pad_id)
    with torch.inference_mode():
        final = network.upper(network.lower(batch), batch)
        whole, alone = network(batch), heads.read(final, batch)
    for name in TAXONOMIES:
        a, b = whole.taxonomies[name], alone.taxonomies[name]
        for field in ("emotion_logits", "intensity", "generic_intensity"):
            assert torch.equal(getattr(a, field), getattr(b, field)), (name, field)
    assert whole.cause is not None and alone.cause is not None
    for field in ("start", "end", "none_start", "none_end"):
        assert torch.equal(getattr(whole.cause, field), getattr(alone.cause, field)), field


class _PerItemReader(OnePassReader):
    """Heads alone, fed each item's states computed unpadded and zero-padded on the right: the layout the
    vLLM reader builds from what its engine returns."""

    def __init__(self, source: OnePassNetwork, heads: OnePassHeads, *args) -> None:
        super().__init__(heads, *args)
        self.source = source

    def final_states(self, batch: Batch) -> torch.Tensor:
        out = torch.zeros((batch.rows, batch.ids.shape[1], self.network.hidden_size))
        for r in range(batch.rows):
            n = int(batch.last[r]) + 1
            one = Batch(ids=batch.ids[r : r + 1, :n], positions=batch.positions[r : r + 1, :n],
                        mask=batch.mask[r : r + 1, :, :n, :n], valid=batch.valid[r : r + 1, :n],
                        text=batch.text[r : r + 1, :n], last=batch.last[r : r + 1], first=batch.first)
            out[r, :n] = self.source.upper(self.source.lower(one), one)[0]
        return out


def test_a_reader_on_unpadded_per_item_states_predicts_what_the_network_does(tiny, trained) -> None:
    _, path = trained
    network, encoder, state, _ = load_onepass(tiny.path, path)
    heads, _, _, _ = load_heads(tiny.path, path)
    reference = OnePassReader(network, encoder, state, "v").predict(TEXTS, "mood", batch_size=4)
    got = _PerItemReader(network, heads, encoder, state, "v").predict(TEXTS, "mood", batch_size=4)
    for a, b in zip(reference, got):
        assert b.emotions == pytest.approx(a.emotions, abs=1e-5)
        assert b.intensities == pytest.approx(a.intensities, abs=1e-5)
        assert b.cause == a.cause and b.intensity == pytest.approx(a.intensity, abs=1e-5)
        assert b.embedding == pytest.approx(a.embedding, abs=1e-4)  # what vLLM's hidden states give too


def test_heads_alone_refuse_another_base_and_cannot_compute_hidden_states(tiny, trained, tmp_path: Path) -> None:
    _, path = trained
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 7}))
    with pytest.raises(ValueError, match="heads for hidden size 32; the base .* has 7"):
        load_heads(tmp_path, path)
    heads, encoder, state, _ = load_heads(tiny.path, path)
    with pytest.raises(TypeError, match="needs a backend"):
        OnePassReader(heads, encoder, state, "v").predict(["hi"], "mood")
