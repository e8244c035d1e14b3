"""Codec: prompt splitting, choice branches, byte form of tokens."""

from __future__ import annotations

import pytest


def test_chat_prompt_splits_around_the_text(codec) -> None:
    chat = codec.chat_prompt("SYSTEM")
    assert chat.prefix.startswith("<|im_start|>system\nSYSTEM") and chat.prefix.endswith("user\n")
    assert chat.suffix == "<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize("stem,choices", [(" anger:", (" yes", " no")), (" intensity:", tuple(f" {d}" for d in range(10)))])
def test_choice_branch_matches_tokenizing_the_full_answer(codec, stem: str, choices: tuple[str, ...]) -> None:
    branch, tokens = codec.choice_branch(stem, choices)
    assert len(set(tokens)) == len(choices)
    for choice, token in zip(choices, tokens):
        assert branch + (token,) == codec.encode(stem + choice)


def test_multi_token_choices_are_refused(codec) -> None:
    with pytest.raises(ValueError):
        codec.choice_branch(" x:", (" absolutely", " not at all"))


@pytest.mark.parametrize("text", ["Hello, world!", "naïve café — 😀 ok", "  spaces\tand\nlines "])
def test_token_bytes_spell_the_text(codec, text: str) -> None:
    assert b"".join(codec.id_bytes[t] for t in codec.encode(text)) == text.encode("utf-8")
