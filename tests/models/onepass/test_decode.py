"""Pure pieces of the one-pass readout: spans from token pointers, thresholds, example merging."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.onepass.decode import best_spans, span_chars, token_span
from models.onepass.heads import CauseOutput, TaxonomyOutput
from models.onepass.inputs import ItemTokens, make_batch
from models.onepass.network import HeadSpec, Outputs
from models.onepass.targets import GENERIC, LossWeights, TrainItem, batch_loss, merge_examples, preference_pairs
from models.onepass.thresholds import best_threshold, tune_thresholds
from models.tasks.base import Example

TEXT = "I love  this, café!! ok"
# offsets as a byte-level BPE tokenizer gives them: leading spaces belong to the token
ITEM = ItemTokens(ids=(1, 10, 11, 12, 13, 14, 15, 16, 2),
                  offsets=((0, 1), (1, 6), (6, 7), (7, 12), (12, 13), (13, 18), (18, 20), (20, 23)), first=1)


@pytest.mark.parametrize(("first", "last", "expected"), [  # batch columns: column 0 is the prefix token
    (2, 2, (2, 6, "love")),  # " love": the leading space is trimmed
    (3, 3, None),  # a whitespace-only token is no cause
    (2, 4, (2, 12, "love  this")),
    (8, 8, (21, 23, "ok")),
    (0, 0, None),  # the prefix is not text
    (9, 9, None),  # nor the suffix
])
def test_span_chars_is_a_trimmed_substring_or_none(first, last, expected):
    span = span_chars(TEXT, ITEM, (first, last))
    assert span == expected
    if span is not None:
        assert TEXT[span[0]:span[1]] == span[2] and span[2] == span[2].strip()


def test_token_span_covers_a_character_span():
    assert token_span(ITEM, 2, 12) == (1, 3)
    assert token_span(ITEM, 8, 9) == (3, 3)
    assert token_span(ITEM, 30, 40) is None


def test_best_spans_choose_the_best_pair_with_end_after_start_or_none():
    batch = make_batch([ITEM, ITEM], pad_id=2)
    low = torch.finfo(torch.float32).min
    start = torch.full((2, 9), -5.0).masked_fill(~batch.text, low)
    end = start.clone()
    start[:, 3], end[:, 2] = 4.0, 5.0  # the best end lies before the best start: not allowed
    end[:, 5] = 3.0
    cause = CauseOutput(start, end, none_start=torch.tensor([0.0, 5.0]), none_end=torch.tensor([0.0, 5.0]))
    assert best_spans(cause, batch) == [(3, 5), None]  # row 1: "no cause" scores 10 > 7


def test_a_span_over_several_turns_stays_within_one_turn_and_targets_an_earlier_turn():
    from models.onepass.dialogue import TurnTokens, view_batch

    # one sequence: prefix, turn 0 at columns 1..4, its suffix at 5, turn 1 at columns 6..8, its suffix at 9
    earlier = TurnTokens(position=0, number=7, first=1, offsets=((0, 3), (3, 8), (8, 12), (12, 15)))
    own = TurnTokens(position=1, number=8, first=6, offsets=((0, 4), (4, 9), (9, 12)))
    whole = ItemTokens(ids=(1, 10, 11, 12, 13, 2, 14, 15, 16, 2), offsets=(), first=1)
    view = ItemTokens(ids=whole.ids, offsets=own.offsets, first=6)
    batch = make_batch([whole], pad_id=2)
    read = view_batch(batch, [0], [view], [(earlier, own)])
    assert read.turn_of.tolist() == [[-1, 0, 0, 0, 0, -1, 1, 1, 1, -1]]
    assert read.text.tolist() == [[False] * 6 + [True] * 3 + [False]]  # the heads still read its own text
    low = torch.finfo(torch.float32).min
    start = torch.full((1, 10), -5.0).masked_fill(~read.area, low)
    end = start.clone()
    start[0, 3], end[0, 7] = 6.0, 6.0  # the best pair would cross from turn 0 into turn 1
    end[0, 4] = 3.0
    cause = CauseOutput(start, end, none_start=torch.zeros(1), none_end=torch.zeros(1))
    assert best_spans(cause, read) == [(3, 4)]  # within turn 0
    # the same span as a training target: a cause in turn 7 at characters [8, 15) is columns 3..4
    item = TrainItem("own text", cause=(8, 15), conversation="c", turn=8, cause_turn=7)
    right = CauseOutput(start.clone(), end.clone(), torch.zeros(1), torch.zeros(1))
    right.start[0, 3], right.end[0, 4] = 30.0, 30.0
    spec = HeadSpec(taxonomies={})
    near, _ = batch_loss(Outputs(cause=right), read, [item], [view], spec, LossWeights(), [(earlier, own)])
    far, _ = batch_loss(Outputs(cause=cause), read, [item], [view], spec, LossWeights(), [(earlier, own)])
    assert float(near) < 1e-3 < float(far)
    # without the turns it may point into, an earlier turn's cause is no target at all
    none, parts = batch_loss(Outputs(cause=right), read, [item], [view], spec, LossWeights())
    assert parts["cause"] == 0.0


def test_thresholds_are_tuned_per_label_and_fall_back_when_rare():
    rng = np.random.default_rng(0)
    gold = np.zeros((400, 2), dtype=bool)
    gold[:100, 0] = True
    gold[:3, 1] = True  # too rare to tune on
    probs = np.where(gold, 0.3, 0.1) + rng.uniform(0, 0.05, gold.shape)
    tuned = tune_thresholds(probs, gold)
    assert 0.15 < tuned[0] <= 0.3  # a positive at 0.3 is decided as such: 0.5 would miss them all
    assert tuned[1] == best_threshold(probs.ravel(), gold.ravel())
    assert tune_thresholds(np.zeros((0, 2)), np.zeros((0, 2), dtype=bool)) == [0.5, 0.5]


def test_examples_of_one_text_merge_into_one_item():
    spec = HeadSpec(taxonomies={"a": ("joy", "anger"), "b": ("joy",)})
    items = merge_examples([
        Example("x", frozenset({"joy"}), taxonomy="a"),
        Example("x", frozenset({"anger"}), taxonomy="a", intensities={"anger": 0.4}),
        Example("x", frozenset({"joy"}), taxonomy="b", intensities={"anger": 0.6}, cause=(0, 1)),
        Example("y", intensity=0.3),
        Example("z", frozenset({"fear"}), taxonomy="a"),  # a label the head lacks: dropped
        Example("w", frozenset({"joy"}), taxonomy="unknown"),
    ], spec)
    assert [i.text for i in items] == ["x", "y"]
    x, y = items
    assert x.emotions == {"a": frozenset({"joy", "anger"}), "b": frozenset({"joy"})}
    assert x.intensities == {"anger": pytest.approx(0.5)} and x.cause == (0, 1)
    assert y.intensities == {GENERIC: 0.3}


def test_a_correction_ranks_the_chosen_labels_above_the_rejected_ones_and_their_opposites():
    labels = ("joy", "sadness", "anger", "fear", "trust")
    pairs = preference_pairs(frozenset({"joy"}), frozenset({"anger", "joy"}), labels)
    assert pairs == [("joy", "anger"), ("joy", "sadness")]  # joy was right: only anger was wrong
    assert preference_pairs(frozenset({"fear"}), frozenset({"fear"}), labels) == [("fear", "anger")]
    assert preference_pairs(frozenset({"joy", "sadness"}), frozenset(), labels) == []  # opposites both chosen


def test_the_preference_term_falls_as_the_chosen_logit_rises():
    spec = HeadSpec(taxonomies={"t": ("joy", "sadness", "anger")}, cause=False)
    item = TrainItem("x", emotions={"t": frozenset({"joy"})}, rejected={"t": frozenset({"anger"})})
    batch = make_batch([ITEM], pad_id=2)

    def loss(joy: float) -> float:
        logits = torch.tensor([[joy, 0.0, 0.0]])
        out = Outputs({"t": TaxonomyOutput(logits, torch.zeros(1, 3), torch.zeros(1))})
        weights = LossWeights(emotions=0.0, preference=1.0)
        return float(batch_loss(out, batch, [item], [ITEM], spec, weights)[0])

    assert loss(2.0) < loss(0.0) < loss(-2.0)
    assert loss(0.0) == pytest.approx(2 * math.log(2))  # two pairs (joy > anger, joy > sadness) at a zero gap
