"""Dataset examples -> training records: label mapping, null fields, and the real datasets."""

from __future__ import annotations

import pytest

from annotator.datasets import CauseSpan, DatasetRow, read_dataset
from annotator.datasets.convert import Skipped, assign_split, map_emotions, to_training_record, training_records
from annotator.taxonomy import get_taxonomy
from models.training.data import example_from_dict

GO = get_taxonomy("goemotions")
EC = get_taxonomy("semeval_ec")
EK = get_taxonomy("ekman")


@pytest.mark.parametrize(
    ("emotions", "source", "target", "expected"),
    [
        (("joy", "love"), "semeval_ec", "goemotions", None),  # E-c cannot say "gratitude": no GoEmotions set
        (("joy", "disgust"), "semeval_ec", "ekman", ["disgust", "joy"]),
        (("joy", "trust"), "semeval_ec", "ekman", None),  # trust has no Ekman label: not carried over
        ((), "semeval_ec", "ekman", []),  # E-c's "no emotion" row: no Ekman emotion either
        (("admiration",), "goemotions", "goemotions", ["admiration"]),
        (("admiration", "annoyance", "grief"), "goemotions", "ekman", ["anger", "joy", "sadness"]),
        (("neutral",), "goemotions", "ekman", []),  # the GoEmotions authors' Ekman grouping
        (("admiration",), "goemotions", "semeval_ec", None),
        (("joy",), "ekman_neutral", "goemotions", None),  # no table: RECCON's labels are left out
        (("neutral",), "ekman_neutral", "ekman", []),
        (None, "goemotions", "goemotions", None),
    ],
)
def test_map_emotions(emotions, source, target, expected):
    labels = {"goemotions": GO.labels, "semeval_ec": EC.labels, "ekman": EK.labels}[target]
    assert map_emotions(emotions, source, target, labels) == expected


def _example(**kw) -> DatasetRow:
    base = dict(id="x", text="I lost my keys today", emotions=None, intensity=None, cause=None,
                taxonomy="ekman_neutral", split="train")
    return DatasetRow(**{**base, **kw})


def test_reccon_without_span_means_no_cause_but_gne_stays_unannotated():
    assert to_training_record(_example(), "reccon", "goemotions", GO.labels)["cause"] == [0, 0]
    assert to_training_record(_example(taxonomy="gne"), "gne", "goemotions", GO.labels) is None
    spanned = _example(cause=CauseSpan(2, 13, "lost my key"))
    assert to_training_record(spanned, "gne", "goemotions", GO.labels)["cause"] == [2, 13]


def test_unsplit_datasets_get_a_stable_dev_share():
    splits = [assign_split(_example(id=str(i), split="all")) for i in range(2000)]
    assert 0.07 < splits.count("dev") / len(splits) < 0.13
    assert splits == [assign_split(_example(id=str(i), split="all")) for i in range(2000)]
    assert assign_split(_example(split="dev")) == "dev"


@pytest.mark.parametrize(
    ("folder", "fmt", "field", "taxonomy"),
    [
        ("goemotions", "goemotions", "emotions", GO),
        ("semeval2018_task1_en", "semeval-ec", "emotions", EC),
        ("semeval2018_task1_en", "semeval-ei-reg", "intensity", GO),
        ("gne", "gne", "cause", GO),
        ("emotion_stimulus", "emotion-stimulus", "cause", GO),
        ("reccon", "reccon", "cause", GO),
    ],
)
def test_real_datasets_convert_to_valid_training_examples(shared_data, folder, fmt, field, taxonomy):
    records = list(training_records(read_dataset(shared_data / folder, fmt), fmt, taxonomy.name, taxonomy.labels, "dev"))
    assert len(records) > 30
    examples = [example_from_dict(r) for r in records]  # the trainer's own reader accepts every record
    assert all(getattr(e, field) is not None for e in examples)
    assert all(r["taxonomy"] == taxonomy.name for r in records)
    if field == "intensity":
        assert {r["intensity_emotion"] for r in records} == {"anger", "fear", "joy", "sadness"}
        assert all(e.intensities == {r["intensity_emotion"]: e.intensity} for r, e in zip(records, examples))
    others = {"emotions", "intensity", "cause"} - {field}
    assert all(getattr(e, other) is None for e in examples for other in others)
    if field == "emotions":
        assert all(e.emotions is not None and e.emotions <= set(taxonomy.labels) for e in examples)
    if field == "cause":
        spans = [e.text[e.cause[0]:e.cause[1]] for e in examples if e.cause[0] < e.cause[1]]
        assert len(spans) > 10 and all(s.strip() for s in spans)


def test_semeval_rows_with_unmappable_labels_are_dropped(shared_data):
    source = list(read_dataset(shared_data / "semeval2018_task1_en", "semeval-ec", splits="dev"))
    records = list(training_records(source, "semeval-ec", EK.name, EK.labels))
    unmappable = sum(1 for e in source if set(e.emotions) - set(EK.labels))
    assert 0 < len(records) == len(source) - unmappable
    assert not list(training_records(source, "semeval-ec", GO.name, GO.labels))  # E-c does not map to GoEmotions


def test_rows_with_an_unusable_gold_label_are_skipped_and_counted():
    bad = _example(emotions=None, meta={"label_error": "unknown emotion 'happines'"})
    skipped = Skipped()
    records = list(training_records([bad, _example(emotions=("joy",))], "reccon", EK.name, EK.labels, skipped=skipped))
    assert [r["emotions"] for r in records] == [["joy"]]
    assert skipped.count == 1 and skipped.examples == ["unknown emotion 'happines'"]


def test_conversation_turns_keep_their_place_and_unlabeled_turns_come_as_context(shared_data):
    rows = list(read_dataset(shared_data / "emotionlines_friends", "emotionlines", splits="dev"))
    alone = list(training_records(rows, "emotionlines", EK.name, EK.labels))
    skipped = Skipped()
    records = list(training_records(rows, "emotionlines", EK.name, EK.labels, skipped=skipped, conversations=True))
    assert len(records) == len(rows) > len(alone)  # every utterance: "non-neutral" ones as context
    assert all(r["conversation"] and isinstance(r["turn"], int) and r["speaker"] for r in records)
    assert len({(r["conversation"], r["turn"]) for r in records}) == len(records)
    examples = [example_from_dict(r) for r in records]
    context = [e for e in examples if not e.labeled]
    assert len(context) == len(rows) - len(alone) and all(e.conversation for e in context)
    assert [e.emotions for e in examples if e.labeled] == [frozenset(r["emotions"]) for r in alone]
    # a turn whose label is unusable is counted, and still read as context
    bad = _example(emotions=None, meta={"label_error": "unknown emotion 'happines'", "conversation": "d1", "turn": 4})
    (record,) = training_records([bad], "reccon", EK.name, EK.labels, skipped=skipped, conversations=True)
    assert record["emotions"] is None and record["turn"] == 4 and skipped.count == 1


def test_reccon_causes_in_earlier_turns_come_with_their_turn_when_read_as_conversations(shared_data):
    rows = list(read_dataset(shared_data / "reccon", "reccon", splits="dev"))
    by_key = {(r.meta["conversation"], r.meta["turn"]): r.text for r in rows}
    alone = list(training_records(rows, "reccon", EK.name, EK.labels))
    records = list(training_records(rows, "reccon", EK.name, EK.labels, conversations=True))
    across = [r for r in records if "cause_turn" in r]
    assert len(across) > 50  # RECCON's inter-personal causes (the other speaker's words)
    for record in across:
        assert record["cause_turn"] < record["turn"]
        start, end = record["cause"]
        said = by_key[(record["conversation"], record["cause_turn"])]
        assert 0 <= start < end <= len(said)
        example = example_from_dict(record)
        assert example.cause_turn == record["cause_turn"] and example.cause == (start, end)
    # read alone, the same utterances have no cause in their own text
    lone = {(r["text"], tuple(r["emotions"] or ())): r["cause"] for r in alone}
    assert all(lone.get((r["text"], tuple(r["emotions"] or ()))) in ([0, 0], None) for r in across)
    own = [r for r in records if "cause_turn" not in r and r["cause"] not in (None, [0, 0])]
    assert own and all(0 <= r["cause"][0] < r["cause"][1] <= len(r["text"]) for r in own)
