"""Pure readout functions: tables of cases, no model."""

from __future__ import annotations

import math

import pytest

from models.tasks.cause.parser import as_cause, trim_span
from models.tasks.emotion.parser import yes_probability
from models.tasks.intensity.parser import expected_level, level_of


@pytest.mark.parametrize(
    "scores,expected",
    [((0.0, 0.0), 0.5), ((2.0, 0.0), 1 / (1 + math.exp(-2))), ((-800.0, 800.0), 0.0), ((800.0, -800.0), 1.0),
     ((1.0,), None), ((float("nan"), 0.0), None)],
)
def test_yes_probability(scores, expected) -> None:
    got = yes_probability(scores)
    assert got == expected if expected is None else got == pytest.approx(expected)


@pytest.mark.parametrize(
    "scores,expected",
    [([0.0] * 10, 0.5), ([100.0] + [0.0] * 9, 0.0), ([0.0] * 9 + [100.0], 1.0), ([0.0], None), ([float("inf")] * 10, None)],
)
def test_expected_level(scores, expected) -> None:
    got = expected_level(scores)
    assert got == expected if expected is None else got == pytest.approx(expected, abs=1e-6)


def test_level_of() -> None:
    assert [level_of(x) for x in (0.0, 0.3, 1.0)] == [0, 3, 9]
    with pytest.raises(ValueError):
        level_of(1.5)


def test_spans() -> None:
    assert trim_span("  ab c ", 0, 7) == (2, 6)
    assert as_cause("hello", (1, 3)) == (1, 3, "el")
    assert as_cause("hello", (3, 3)) is None and as_cause("hello", (2, 9)) is None and as_cause("x", None) is None
