"""The cause constraint: every decode path spells a substring of the text, mapped to exact offsets."""

from __future__ import annotations

import random

import pytest

from models.tasks.cause.constraint import SubstringConstraint

TEXTS = [
    "I was furious because the bus never came.",
    "naïve café — 😀 made my day!!",
    "none of this matters, said none",
    "a",
]


@pytest.mark.parametrize("text", TEXTS)
def test_random_walks_always_give_substrings(codec, text: str) -> None:
    constraint = SubstringConstraint(text, codec)
    rng = random.Random(0)
    for _ in range(40):
        emitted: list[int] = []
        for _ in range(20):
            allowed = constraint.allowed(emitted)
            assert allowed, "some token (or eos) is always allowed"
            token = rng.choice(allowed)
            if token in constraint.stop_ids:
                break
            emitted.append(token)
        span = constraint.span(emitted)
        if span is not None:
            start, end = span
            assert 0 <= start < end <= len(text)
            assert codec.decode(emitted).strip() in (text[start:end], "none") or text[start:end] in codec.decode(emitted)


def test_canonical_tokenization_of_a_span_is_allowed(codec) -> None:
    text = TEXTS[0]
    constraint = SubstringConstraint(text, codec)
    answer = list(codec.encode(" the bus never came"))
    for i, token in enumerate(answer):
        assert token in constraint.allowed(answer[:i])
    assert codec.eos_id in constraint.allowed(answer)
    start, end = constraint.span(answer)
    assert text[start:end] == "the bus never came"


def test_none_and_offsets_after_multibyte_chars(codec) -> None:
    text = TEXTS[1]
    constraint = SubstringConstraint(text, codec)
    assert constraint.span(list(codec.encode(" none"))) is None
    answer = list(codec.encode(" made my day"))
    start, end = constraint.span(answer)
    assert (start, end) == (text.index("made"), text.index("made") + len("made my day"))


def test_tokens_outside_the_text_are_not_allowed(codec) -> None:
    constraint = SubstringConstraint("the bus", codec)
    allowed = set(constraint.allowed([]))
    assert codec.encode(" the")[0] in allowed and codec.encode(" cat")[0] not in allowed
    assert codec.eos_id not in allowed  # an empty answer is not a span
