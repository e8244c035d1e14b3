"""DPO on the labeler's packed trees: pair encoding keeps only differing branches; training prefers chosen."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.base import load_model, load_tokenizer
from models.tasks.base import Example
from models.tasks.prompt import Prompter
from models.tasks.registry import make_tasks
from models.tokens import Codec
from models.training.config import ModelConfig
from models.training.dpo import DPOConfig, PreferencePair, dpo_loss, encode_pair, fit_dpo, score_pairs
from models.training.sft import lora_model

LABELS = ("joy", "anger", "sadness", "fear")


@pytest.fixture(scope="module")
def prompter(base) -> Prompter:
    return Prompter(make_tasks(("emotion.v1", "intensity.v1", "cause.v1"), LABELS), Codec(load_tokenizer(base.path)))


def _pair(text, good, bad, good_i=None, bad_i=None, good_c=None, bad_c=None) -> PreferencePair:
    return PreferencePair(Example(text, frozenset(good), good_i, good_c), Example(text, frozenset(bad), bad_i, bad_c))


def test_encode_pair_keeps_only_differing_branches(prompter) -> None:
    text = "I'm furious they cancelled my flight."
    cause = (text.index("they"), text.index(" my"))
    pair = _pair(text, {"anger"}, {"joy"}, 0.8, 0.8, cause, (0, 0))
    enc = encode_pair(prompter, pair)
    assert enc is not None
    # joy and anger differ (2 choice branches read at one position each); intensity agrees; cause differs:
    # one branch per side, reading every answer token (+ eos)
    assert enc.fields == (" joy:", " anger:", " cause:")
    assert len(enc.branches) == 4
    yes, no = prompter.codec.choice_branch(" joy:", (" yes", " no"))[1]
    assert enc.chosen[0][2] == no and enc.rejected[0][2] == yes  # joy: human says no, labeler said yes
    assert enc.chosen[1][2] == yes and enc.rejected[1][2] == no
    cause_chosen = [t for t in enc.chosen if t[0] == 2]
    assert len(cause_chosen) >= 2 and cause_chosen[-1][2] == prompter.codec.eos_id
    assert all(t[0] == 3 for t in enc.rejected[2:])
    assert encode_pair(prompter, _pair(text, {"anger"}, {"anger"}, 0.5, 0.5)) is None
    # a field the labeler did not answer (intensity None) is no preference
    assert encode_pair(prompter, _pair(text, {"anger"}, {"anger"}, 0.9, None)) is None


def test_dpo_loss_matches_trl_formulas() -> None:
    pc, pr = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    rc, rr = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    delta = (pc - rc) - (pr - rr)
    assert torch.allclose(dpo_loss(pc, pr, rc, rr, beta=0.5), -F.logsigmoid(0.5 * delta))
    assert torch.allclose(dpo_loss(pc, pr, rc, rr, beta=0.5, loss_type="hinge"), torch.relu(1 - 0.5 * delta))
    robust = dpo_loss(pc, pr, rc, rr, beta=0.5, loss_type="robust", label_smoothing=0.1)
    expected = (-(0.9) * F.logsigmoid(0.5 * delta) + 0.1 * F.logsigmoid(-0.5 * delta)) / 0.8
    assert torch.allclose(robust, expected)
    ones = torch.ones(2)
    assert torch.allclose(dpo_loss(pc, pr, rc, rr, beta=0.5, loss_type="ipo", n_chosen=ones, n_rejected=ones),
                          (delta - 1.0) ** 2)
    # at the reference, the sigmoid loss is log 2 whatever the pair
    assert torch.allclose(dpo_loss(rc, rr, rc, rr), torch.full((2,), 0.6931), atol=1e-4)
    with pytest.raises(ValueError):
        DPOConfig(loss_type="kto")


def test_dpo_moves_the_adapter_towards_the_chosen_answers(base, prompter) -> None:
    rows = [
        ("I love my new puppy so much!", {"joy"}, {"sadness"}),
        ("They stole my bike again, I'm livid.", {"anger"}, {"joy"}),
        ("I miss my grandmother every day.", {"sadness"}, {"joy"}),
        ("There's a noise downstairs and I'm home alone.", {"fear"}, {"joy"}),
    ]
    pairs = [_pair(t, good, bad) for t, good, bad in rows]
    torch.manual_seed(0)
    model = lora_model(load_model(base.path), ModelConfig(lora_r=8, lora_alpha=16, lora_dropout=0.0))
    encoded = [encode_pair(prompter, p) for p in pairs]
    before_c, before_r = score_pairs(model, prompter, encoded, "cpu")
    metrics = fit_dpo(model, prompter, pairs, DPOConfig(max_steps=6, batch_size=4, learning_rate=2e-3, beta=0.5,
                                                        progress=False))
    after_c, after_r = score_pairs(model, prompter, encoded, "cpu")
    assert metrics["dpo_steps"] == 6 and metrics["dpo_pairs_differing"] == 4
    assert metrics["dpo_loss_last"] < metrics["dpo_loss_first"]
    assert ((after_c - after_r) > (before_c - before_r)).all()
    assert metrics["preference_accuracy_after"] == 1.0
    # only LoRA weights moved: the frozen backbone is the same as the base's
    with model.disable_adapter():
        base_c, _ = score_pairs(model, prompter, encoded, "cpu")
    assert torch.allclose(base_c, before_c, atol=1e-5)
