"""Training keeps every informative answer and a weighted sample of the common ones (an emotion's "no")."""

from __future__ import annotations

import random

from models.tasks.prompt import TrainBranch, sample_background


def _branches() -> list[TrainBranch]:
    out = [TrainBranch((1, i), (7,), background=True) for i in range(27)]
    out.insert(5, TrainBranch((1, 99), (8,)))  # the one "yes"
    out.append(TrainBranch((2,), (3,)))  # another task's branch
    return out


def test_keeps_foreground_and_k_background_weighted_to_stand_for_all():
    rng = random.Random(0)
    kept = sample_background(_branches(), 6, rng)
    background = [b for b in kept if b.background]
    assert len(background) == 6
    assert sum(b.weight for b in background) == 27  # the expected loss over all 27 is unchanged
    assert [b for b in kept if not b.background] == [b for b in _branches() if not b.background]
    order = [b.ids for b in _branches()]
    assert [order.index(b.ids) for b in kept] == sorted(order.index(b.ids) for b in kept)  # input order


def test_no_limit_or_few_background_keeps_everything_unweighted():
    assert sample_background(_branches(), None, random.Random(0)) == _branches()
    assert sample_background(_branches(), 40, random.Random(0)) == _branches()


def test_samples_differ_between_calls():
    rng = random.Random(0)
    picks = {tuple(b.ids for b in sample_background(_branches(), 3, rng)) for _ in range(10)}
    assert len(picks) > 1
