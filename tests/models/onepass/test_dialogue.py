"""Conversations in the one-pass readout: each turn read after its context, one pass per conversation piece."""

from __future__ import annotations

import pytest

from models.base import load_tokenizer
from models.onepass.dialogue import Dialogue, DialogueLayout, Turn, encode_pieces
from models.onepass.inputs import ItemEncoder

SCENE = (Turn("Shall we see a movie tomorrow?", "Ross"), Turn("Sounds like a good plan", "Rachel"),
         Turn("Okay.", "Ross"), Turn("I lost my keys again, because of the snow", "Rachel"),
         Turn("Okay.", "Ross"))


@pytest.fixture(scope="module")
def encoder(tiny) -> ItemEncoder:
    return ItemEncoder.for_tokenizer(load_tokenizer(tiny.path))


def test_a_conversation_is_one_sequence_and_each_turn_is_viewed_at_its_own_tokens(encoder) -> None:
    pieces = encode_pieces(encoder, [Dialogue(SCENE, (0, 1, 2, 3, 4))])
    assert len(pieces) == 1 and pieces[0].turns == (0, 1, 2, 3, 4)
    ids = pieces[0].tokens.ids
    assert ids[0] == encoder.prefix[0] and ids.count(encoder.suffix[0]) == 5  # one suffix token a turn
    before = len(encoder.prefix)
    for turn, view in zip(SCENE, pieces[0].views):
        alone = encoder.encode([turn.text])[0]
        assert view.ids == ids[: len(view.ids)] and view.ids[-1] == encoder.suffix[0]
        assert ids[view.first : view.first + view.n_text] == alone.ids[alone.first : -1]
        assert view.offsets == alone.offsets
        assert encoder.tokenizer.decode(ids[before : view.first]) == f"{turn.speaker}: "
        before = len(view.ids)
    # each turn's cause may lie in it or any turn before it in the piece
    for t, (view, area) in enumerate(zip(pieces[0].views, pieces[0].areas)):
        assert [turn.position for turn in area] == list(range(t + 1)) and area[-1].first == view.first
        for turn in area:
            alone = encoder.encode([SCENE[turn.position].text])[0]
            assert ids[turn.first : turn.first + turn.n_text] == alone.ids[alone.first : -1]
    # a lone text is token for token what the encoder makes of it
    (lone,) = encode_pieces(encoder, [Dialogue.lone("Okay.")])
    assert lone.tokens.ids == lone.views[0].ids == encoder.encode(["Okay."])[0].ids


def test_a_long_conversation_is_cut_into_pieces_that_repeat_the_turns_before_them(encoder) -> None:
    turns = tuple(Turn(f"turn number {i} says something", "A" if i % 2 else "B") for i in range(30))
    layout = DialogueLayout(context_turns=3, max_tokens=80)
    pieces = encode_pieces(encoder, [Dialogue(turns, tuple(range(30)))], layout)
    assert len(pieces) > 3
    read = [t for piece in pieces for t in piece.turns]
    assert read == list(range(30))  # every turn read once, in order
    for piece in pieces[1:]:
        first = piece.turns[0]
        context = turns[first - 3 : first]
        text = encoder.tokenizer.decode(piece.tokens.ids)
        assert all(turn.text in text for turn in context)  # the three turns before it come along
        assert turns[first - 4].text not in text
        assert len(piece.tokens.ids) <= 80
    # only some turns asked for: pieces hold just what they need
    (piece,) = encode_pieces(encoder, [Dialogue(turns, (20,))], layout)
    assert piece.turns == (20,) and turns[17].text in encoder.tokenizer.decode(piece.tokens.ids)
    with pytest.raises(ValueError, match="turn 30 to read is not one of its 30 turns"):
        encode_pieces(encoder, [Dialogue(turns, (30,))], layout)


def test_turns_are_read_after_their_context_and_never_after_what_follows(tiny, trained) -> None:
    fitted, _ = trained
    reader = fitted.reader()
    one = Dialogue(SCENE, (1, 2, 4))
    later_changed = Dialogue(SCENE[:4] + (Turn("Okay?!", "Ross"),), (1, 2))
    earlier_changed = Dialogue((Turn("Shall we skip the movie tomorrow?", "Ross"),) + SCENE[1:], (1, 2))
    a, b, c = reader.predict_dialogues([one, later_changed, earlier_changed], "mood", batch_size=2)
    assert len(a) == 3 and len(b) == 2
    for x, y in zip(a[:2], b):  # what comes after a turn does not change how it is read
        assert y.emotions == pytest.approx(x.emotions, abs=1e-5) and y.cause == x.cause
    assert c[0].emotions != pytest.approx(a[0].emotions, abs=1e-5)  # what came before does
    alone = reader.predict(["Okay."], "mood")[0]
    assert a[1].emotions != pytest.approx(alone.emotions, abs=1e-5)  # "Okay." in context is not "Okay." alone
    assert a[1].emotions != pytest.approx(a[2].emotions, abs=1e-5)  # nor "Okay." in another place
    for prediction, turn in zip(a, (1, 2, 4)):
        if prediction.cause is not None:
            start, end, span = prediction.cause
            assert SCENE[turn].text[start:end] == span
    # a conversation costs about its own tokens: one row per piece, not one per turn with its context
    before = dict(reader.stats)
    reader.predict_dialogues([Dialogue(SCENE, tuple(range(5)))], "mood")
    rows = reader.stats["real_tokens"] - before["real_tokens"]
    separate = sum(len(p.tokens.ids) for t in range(5)
                   for p in encode_pieces(reader.encoder, [Dialogue(SCENE[: t + 1], (t,))]))
    assert reader.stats["items"] - before["items"] == 5 and rows < separate / 2


def conversation_examples() -> list:
    """Six short scenes where "Okay." is joy after good news and sadness after bad news (a lone "Okay." is
    neither), and one context-only turn per scene."""
    from models.tasks.base import Example

    out = []
    for i in range(6):
        good = i % 2 == 0
        scene = f"scene{i}"
        news = f"We won the lottery, number {i}!" if good else f"The dog died last night, number {i}."
        out.append(Example(f"Hi there {i}", conversation=scene, turn=0, speaker="Ross"))  # context only
        out.append(Example(news, frozenset({"joy" if good else "sadness"}), taxonomy="mood",
                           conversation=scene, turn=1, speaker="Rachel", cause=(0, 3)))
        out.append(Example("Okay.", frozenset({"joy" if good else "sadness"}), taxonomy="mood",
                           conversation=scene, turn=2, speaker="Ross"))
        out.append(Example("Okay.", frozenset({"joy" if good else "sadness"}), taxonomy="mood",
                           conversation=scene, turn=3, speaker="Rachel"))
    return out


def test_training_reads_conversation_turns_in_context_and_keeps_repeated_words_apart(tiny, tmp_path) -> None:
    from models.adapters import read_meta
    from models.labeler import open_labeler
    from models.onepass.dialogue import conversations_of
    from models.onepass.targets import merge_examples
    from models.onepass.train import fit_onepass, save_onepass, split_items
    from tests.models.onepass.conftest import TAXONOMIES, config, examples

    data = examples() + conversation_examples()
    network_spec = config(tmp_path).readout
    from models.onepass.heads import HeadSpec

    items = merge_examples(data, HeadSpec(dict(network_spec.taxonomies)))
    okays = [item for item in items if item.text == "Okay."]
    assert len(okays) == 12  # said twice in six scenes: twelve items, not one
    assert not any(item.text.startswith("Hi there") for item in items)  # context only: not trained on
    train, held = split_items(items, 0.5, seed=0)
    for name in {item.conversation for item in held if item.conversation}:  # held out whole or not at all
        assert not any(item.conversation == name for item in train)

    fitted = fit_onepass(config(tmp_path, max_steps=6), data, base=tiny)
    assert fitted.state.context_trained and fitted.meta["data"]["n_conversations"] == 6
    assert fitted.meta["data"]["n_sequences"] < fitted.meta["data"]["n_train"]  # a scene's turns share a pass
    path = save_onepass(fitted, tmp_path, "tiny")
    assert read_meta(path)["onepass"]["dialogue"] == {"context_turns": 8, "max_tokens": 256, "separator": ": ",
                                                       "trained": True, "cause_across_turns": False}
    labeler = open_labeler(tiny, path, TAXONOMIES["mood"])
    assert labeler.reads_context
    conversations = conversations_of(conversation_examples())
    texts, keys = ["Okay.", "Okay.", "Okay."], [("scene0", 2), ("scene1", 3), None]
    reloaded = labeler.predict_turns(texts, keys, conversations)
    in_memory = fitted.reader().predict_turns(texts, keys, conversations, "mood")
    for a, b in zip(in_memory, reloaded):
        assert b.emotions == pytest.approx(a.emotions, abs=1e-5)
    assert reloaded[0].emotions != pytest.approx(reloaded[1].emotions, abs=1e-5)
    assert reloaded[2].emotions == pytest.approx(labeler.predict(["Okay."])[0].emotions, abs=1e-5)
    with pytest.raises(ValueError, match="turn 9 is not a turn of conversation 'scene0'"):
        labeler.predict_turns(["Okay."], [("scene0", 9)], conversations)


def test_a_cause_in_an_earlier_turn_is_learned_and_pointed_at_in_that_turn(tiny, tmp_path) -> None:
    """Scenes where the reply's cause is what the other speaker said: the pointer learns to point there,
    and a predicted cause is always a substring of the turn it names, never of a later one."""
    from models.adapters import read_meta
    from models.labeler import open_labeler
    from models.onepass.dialogue import conversations_of
    from models.onepass.train import fit_onepass, save_onepass
    from models.tasks.base import Example
    from tests.models.onepass.conftest import TAXONOMIES, config

    data = []
    for i in range(16):
        scene, news = f"scene{i}", f"We won the lottery, number {i}!"
        data.append(Example(news, conversation=scene, turn=1, speaker="Ross"))  # context only
        data.append(Example("Sounds great", frozenset({"joy"}), taxonomy="mood", conversation=scene, turn=2,
                            speaker="Rachel", cause=(7, 18), cause_turn=1))  # "the lottery", said by Ross
    fitted = fit_onepass(config(tmp_path, max_steps=40, learning_rate=3e-3), data, base=tiny)
    assert fitted.state.cause_across_turns
    path = save_onepass(fitted, tmp_path, "across")
    assert read_meta(path)["onepass"]["dialogue"]["cause_across_turns"] is True
    labeler = open_labeler(tiny, path, TAXONOMIES["mood"])
    conversations = conversations_of(data)
    keys = [(f"scene{i}", 2) for i in range(16)]
    predictions = labeler.predict_turns(["Sounds great"] * 16, keys, conversations)
    texts = {turn: dict(conversations["scene0"])[turn].text for turn in (1, 2)}
    pointed = 0
    for (scene, _), p in zip(keys, predictions):
        if p.cause is None:
            continue
        turn = p.cause_turn if p.cause_turn is not None else 2
        assert turn in (1, 2)  # its own turn or an earlier one
        said = dict(conversations[scene])[turn].text
        assert said[p.cause[0]:p.cause[1]] == p.cause[2]
        pointed += p.cause_turn == 1 and "lottery" in p.cause[2]
    assert pointed >= 12, [(p.cause_turn, p.cause) for p in predictions]
    assert "lottery" not in texts[2]
    # an adapter that never learned causes across turns points into the item's own text only
    alone = open_labeler(tiny, save_onepass(fit_onepass(config(tmp_path, max_steps=2), data[:1] + [
        Example("Sounds great", frozenset({"joy"}), taxonomy="mood", conversation="scene0", turn=2,
                cause=(0, 6))], base=tiny), tmp_path, "own"), TAXONOMIES["mood"])
    assert all(p.cause_turn is None for p in alone.predict_turns(["Sounds great"] * 16, keys, conversations))
