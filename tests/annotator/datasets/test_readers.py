"""Dataset readers: synthetic edge cases (always run) and the real files in ../shared/data (skipped if absent)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from annotator.datasets import (
    FORMATS,
    CauseSpan,
    DatasetFormatError,
    DatasetRow,
    available_formats,
    dataset_taxonomy,
    detect_format,
    emotion_stimulus,
    emotionlines,
    gne,
    read_dataset,
    reccon,
    semeval,
    snow2008,
)
from annotator.taxonomy import get_taxonomy

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
GOEMOTIONS_LABELS = get_taxonomy("goemotions").labels


def shared(folder: str) -> Path:
    """The real dataset folder, or skip the test when the shared data is not mounted."""
    path = SHARED / folder
    if not path.is_dir():
        pytest.skip(f"../shared/data/{folder} not present: real-data test needs the shared datasets")
    return path


def check_examples(examples: Iterable[DatasetRow]) -> list[DatasetRow]:
    """The invariants every reader must keep; returns the examples as a list."""
    examples = list(examples)
    ids = [example.id for example in examples]
    assert len(ids) == len(set(ids)), "example ids must be unique"
    for example in examples:
        labels = dataset_taxonomy(example.taxonomy).labels
        assert example.emotions is None or set(example.emotions) <= set(labels), example
        assert example.intensity is None or 0.0 <= example.intensity <= 1.0, example
        if example.cause is not None:
            assert example.text[example.cause.start : example.cause.end] == example.cause.text, example
        for span in example.meta.get("cause_spans", []):
            if span.get("start") is not None and span.get("turn") is None:
                assert example.text[span["start"] : span["end"]] == span["text"], example
    return examples


def write_tsv(path: Path, rows: list[list[str]]) -> Path:
    """Write CSV-quoted TSV the way pandas/csv write it (GoEmotions, GNE)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(rows)
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------- types


def test_example_validates_cause_intensity_and_labels() -> None:
    ok = DatasetRow("1", "I love rain", ("joy",), 0.5, CauseSpan(7, 11, "rain"), "ekman", "train")
    assert hash(ok) == hash(DatasetRow("1", "I love rain", ("joy",), 0.5, CauseSpan(7, 11, "rain"), "ekman", "train"))
    with pytest.raises(ValueError, match="not the text at those offsets"):
        DatasetRow("1", "I love rain", ("joy",), None, CauseSpan(0, 4, "rain"), "ekman", "train")
    with pytest.raises(ValueError, match="within"):
        DatasetRow("1", "x", None, 1.5, None, "ekman", "train")
    with pytest.raises(ValueError, match="lower-case"):
        DatasetRow("1", "x", ("Joy",), None, None, "ekman", "train")
    with pytest.raises(ValueError):
        CauseSpan(3, 1, "")
    with pytest.raises(ValueError):
        CauseSpan(0, 2, "abc")
    assert DatasetRow("1", "x", ["joy"], None, None, "ekman", "train").emotions == ("joy",)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- goemotions


def test_goemotions_folder_splits_quoting_and_labels(tmp_path: Path) -> None:
    write_lines(tmp_path / "emotions.txt", list(GOEMOTIONS_LABELS))
    write_tsv(tmp_path / "train.tsv", [['He said "stop" twice', "2,3", "c1"], ["fine", "27", "c2"]])
    write_tsv(tmp_path / "dev.tsv", [["wow", "26", "c3"]])
    (tmp_path / "README.md").write_text("not data")

    examples = check_examples(read_dataset(tmp_path, "goemotions"))
    assert [(e.id, e.split) for e in examples] == [("c1", "train"), ("c2", "train"), ("c3", "dev")]
    assert examples[0].text == 'He said "stop" twice'
    assert examples[0].emotions == ("anger", "annoyance")
    assert examples[1].emotions == ("neutral",) and examples[1].taxonomy == "goemotions"
    assert [e.id for e in read_dataset(tmp_path, "goemotions", splits="dev")] == ["c3"]
    assert [e.id for e in read_dataset(tmp_path, "goemotions", splits=["valid"])] == ["c3"]
    with pytest.raises(FileNotFoundError, match="test"):
        read_dataset(tmp_path, "goemotions", splits="test")
    assert detect_format(tmp_path) == "goemotions"
    assert detect_format(tmp_path / "train.tsv") == "goemotions"


def test_goemotions_builtin_labels_custom_labels_and_errors(tmp_path: Path) -> None:
    data = write_tsv(tmp_path / "train.tsv", [["a", "0", "x1"], ["b", "", "x2"]])
    first, second = read_dataset(data, "goemotions")
    assert first.emotions == ("admiration",) and second.emotions is None  # built-in list, no emotions.txt
    write_lines(tmp_path / "emotions.txt", ["positive", "negative"])
    assert next(read_dataset(data, "goemotions")).taxonomy == "custom"

    bad = write_tsv(tmp_path / "dev.tsv", [["a", "0", "x1"], ["b", "28", "x2"]])
    fine, unknown = read_dataset(bad, "goemotions", labels=GOEMOTIONS_LABELS)
    assert fine.emotions == ("admiration",) and fine.label_error is None
    assert unknown.emotions is None and unknown.label_error == "line 2: label id(s) [28] outside 0..27"
    short = write_lines(tmp_path / "test.tsv", ["only text\t1"])
    with pytest.raises(DatasetFormatError, match=r"test\.tsv:1: expected 3"):
        list(read_dataset(short, "goemotions"))
    with pytest.raises(ValueError, match="is the 'test' split"):
        read_dataset(short, "goemotions", splits="train")
    write_lines(short, ["fine\t1\tx1", '"bad "quoting\t1\tx2'])
    with pytest.raises(DatasetFormatError, match=r"test\.tsv:2: bad quoting"):
        list(read_dataset(short, "goemotions"))
    short.write_bytes(b"fine\t1\tx1\n\xff\xfe\t1\tx2\n")
    with pytest.raises(DatasetFormatError, match="not valid UTF-8"):
        list(read_dataset(short, "goemotions"))


# ------------------------------------------------------------------------------------------- semeval

EC_HEADER = "ID\tTweet\t" + "\t".join(get_taxonomy("semeval_ec").labels)


def test_semeval_ec_rows(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "E-c-En-train.txt",
        [
            EC_HEADER,
            '2017-En-1\t"quoted" start\\nnext line\t1\t0\t0\t0\t1\t0\t0\t0\t0\t0\t0',
            "2017-En-2\tnothing here\t" + "\t".join(["0"] * 11),
            "2017-En-3\tunlabelled\t" + "\t".join(["NONE"] * 11),
        ],
    )
    first, neutral, unlabelled = check_examples(read_dataset(path))
    assert detect_format(path) == "semeval-ec"
    assert first.emotions == ("anger", "joy") and first.text == '"quoted" start\\nnext line'
    assert first.split == "train" and first.taxonomy == "semeval_ec"
    assert neutral.emotions == () and unlabelled.emotions is None
    assert next(read_dataset(path, "semeval_ec", unescape_newlines=True)).text == '"quoted" start\nnext line'

    write_lines(path, [EC_HEADER, "2017-En-1\tx\t" + "\t".join(["0"] * 10 + ["2"])])
    with pytest.raises(DatasetFormatError, match=r"E-c-En-train\.txt:2: emotion cells must be 0 or 1"):
        list(read_dataset(path, "semeval-ec"))
    write_lines(path, [EC_HEADER, "2017-En-1\tx\t1"])
    with pytest.raises(DatasetFormatError, match=r":2: expected 13 tab-separated columns, found 3"):
        list(read_dataset(path, "semeval-ec"))


def test_semeval_ei_reg_folder(tmp_path: Path) -> None:
    header = "ID\tTweet\tAffect Dimension\tIntensity Score"
    write_lines(
        tmp_path / "EI-reg-En-joy-train.txt", [header, "2017-En-1\tso happy\tjoy\t0.900", "2017-En-2\tmeh\tjoy\t0"]
    )
    write_lines(tmp_path / "EI-reg-En-joy-dev.txt", [header, "2018-En-9\tyay\tjoy\t1.000"])
    write_lines(tmp_path / "EI-reg-En-anger-train.txt", [header, "2017-En-1\tso happy\tanger\t0.050"])
    write_lines(tmp_path / "E-c-En-train.txt", [EC_HEADER])

    examples = check_examples(read_dataset(tmp_path, "semeval-ei-reg"))
    assert [e.id for e in examples] == ["2017-En-1:anger", "2017-En-1:joy", "2017-En-2:joy", "2018-En-9:joy"]
    joy = examples[1]
    assert joy.emotions is None and joy.intensity == pytest.approx(0.9)
    assert joy.meta["intensity_emotion"] == "joy" and joy.meta["tweet_id"] == "2017-En-1"
    assert [e.id for e in read_dataset(tmp_path, "semeval-ei-reg", dimensions="joy", splits="dev")] == ["2018-En-9:joy"]
    assert detect_format(tmp_path) is None  # E-c and EI-reg side by side: ambiguous
    with pytest.raises(ValueError, match="unknown EI-reg dimension"):
        read_dataset(tmp_path, "semeval-ei-reg", dimensions="love")

    bad = write_lines(tmp_path / "EI-reg-En-fear-train.txt", [header, "2017-En-3\tx\tfear\t1.5"])
    with pytest.raises(DatasetFormatError, match=r"EI-reg-En-fear-train\.txt:2: intensity score 1.5 is outside"):
        list(read_dataset(bad, "semeval-ei-reg"))


# -------------------------------------------------------------------------------------------- reccon


def test_reccon_causes_labels_and_ids(tmp_path: Path) -> None:
    dialogue = [
        {"turn": 1, "speaker": "A", "utterance": "We won the cup !", "emotion": "happy",
         "expanded emotion cause evidence": [1], "expanded emotion cause span": ["We won the cup"], "type": ["no-context"]},
        {"turn": 2, "speaker": "B", "utterance": "Really ? I am so glad , so glad .", "emotion": "excited",
         "expanded emotion cause evidence": [1, 2, 2, "b"],
         "expanded emotion cause span": ["won the cup", "so glad", "so glad .", "b"],
         "type": ["inter-personal", "hybrid"], "explanation": "test", "flag": "F"},
        {"turn": 3, "speaker": "A", "utterance": "Ok .", "emotion": "neutral"},
        {"turn": 4, "speaker": "B", "utterance": "Oh no", "emotion": "Surprised",
         "expanded emotion cause evidence": ["b"], "expanded emotion cause span": ["b"], "type": ["latent"]},
    ]  # fmt: skip
    path = tmp_path / "dailydialog_valid.json"
    path.write_text(json.dumps({"va_1": [dialogue]}), encoding="utf-8")

    won, glad, ok, oh = check_examples(read_dataset(path))
    assert detect_format(path) == "reccon"
    assert [e.id for e in (won, glad, ok, oh)] == ["va_1_1", "va_1_2", "va_1_3", "va_1_4"]
    assert {e.split for e in (won, glad)} == {"dev"} and won.taxonomy == "ekman_neutral"
    assert [e.emotions for e in (won, glad, ok, oh)] == [("joy",), ("joy",), ("neutral",), ("surprise",)]
    assert won.cause == CauseSpan(0, 14, "We won the cup")
    assert glad.cause == CauseSpan(14, 21, "so glad")  # first span in its own turn, first occurrence
    spans = glad.meta["cause_spans"]
    assert spans[0] == {"turn": 1, "text": "won the cup", "start": 3, "end": 14, "latent": False}
    assert spans[3]["latent"] and len(spans) == 4
    assert glad.meta["cause_type"] == ["inter-personal", "hybrid"] and glad.meta["flag"] == "F"
    assert glad.meta["raw_emotion"] == "excited"
    assert ok.cause is None and ok.meta["cause_spans"] == []
    assert oh.cause is None and oh.meta["cause_spans"][0]["latent"]

    dialogue[2]["emotion"] = "happines"  # the real RECCON test file has this typo
    path.write_text(json.dumps({"va_1": [dialogue]}), encoding="utf-8")
    kept = list(read_dataset(path, "reccon"))
    assert [e.id for e in kept] == ["va_1_1", "va_1_2", "va_1_3", "va_1_4"]  # the row is kept, the read goes on
    assert kept[2].emotions is None and kept[2].label_error == "dialogue 'va_1', utterance 3: unknown emotion 'happines'"
    assert kept[3].emotions == ("surprise",) and kept[3].label_error is None


# ----------------------------------------------------------------------------------------------- gne


def gne_row(gne_id: str, headline: str, emotion: str, cause: str, other: str = gne.NO_OTHER_EMOTION) -> list[str]:
    return [gne_id, headline, "http://x", "", "", "US", "src", emotion, "medium", cause, "[[]]", "[[]]",
            '[["cue"]]', other, gne.NO_READER_EMOTION]  # fmt: skip


def test_gne_spans_quirks_and_duplicate_ids(tmp_path: Path) -> None:
    rows = [
        list(gne.COLUMNS),
        gne_row("a1", "Cops In One Village Convicted", "anger", '[["cops in one village"],["convicted"]]', "annoyance"),
        # doubled JSON escape and spans copied from the CSV-quoted headline
        gne_row("a2", 'Death was a result of "criminal act"', "fear", '[["\\\\"\\\\"criminal act\\\\"\\\\"\\\\""]]'),
        gne_row("a2", "Rep. says it was 'the year'", "pride", '[["it was \\"the year\\""]]'),
        gne_row("a3", "No cause here", "joy", "[[]]"),
        gne_row("a4", "Clinic report", "trust", '[["clinic report0"]]'),
    ]
    path = write_tsv(tmp_path / "gne-release-v1.0.tsv", rows)
    cops, criminal, year, none, unmatched = check_examples(read_dataset(path))
    assert detect_format(path) == "gne"
    assert cops.cause == CauseSpan(0, 19, "Cops In One Village") and cops.taxonomy == "gne"
    assert [s["text"] for s in cops.meta["cause_spans"]] == ["Cops In One Village", "Convicted"]
    assert cops.meta["other_emotions"] == ("annoyance",) and cops.meta["reader_emotions"] == ()
    assert cops.meta["intensity_label"] == "medium" and cops.intensity is None and cops.split == "all"
    assert criminal.cause is not None and criminal.cause.text == "criminal act"
    assert criminal.meta["other_emotions"] == ()
    assert year.id == "a2#2" and year.meta["gne_id"] == "a2" and year.cause.text == "it was 'the year'"
    assert none.cause is None and none.meta["cause_spans"] == []
    assert unmatched.cause is None and unmatched.meta["unmatched_cause_spans"] == ["clinic report0"]

    rows.append(gne_row("a5", "x", "happiness", "[[]]"))
    write_tsv(path, rows)
    unknown = list(read_dataset(path, "gne"))[-1]
    assert unknown.emotions is None and "line 7: dominant_emotion 'happiness'" in unknown.label_error
    rows[-1] = gne_row("a5", "x", "joy", "[[oops")
    write_tsv(path, rows)
    with pytest.raises(DatasetFormatError, match=r":7: cause: not a JSON list"):
        list(read_dataset(path, "gne"))


# ---------------------------------------------------------------------------------- emotion-stimulus


def test_emotion_stimulus_tags(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "emotion_cause.txt",
        [
            "<happy>These days he is quite happy <cause>travelling by trolley<\\cause> . <\\happy>",
            "<sad>` <cause>I am sad <cause>we lost<\\cause> , he said . <\\sad>",
            "<happy> They were pleased a<cause>t how well <\\cause> <\\happy>",
            "",
            "<shame>He felt ashamed . <\\shame>",
            "<fear>Forward <cause>slashes</cause> work</fear>",
        ],
    )
    trolley, lost, split_word, ashamed, slashes = check_examples(read_dataset(path))
    assert detect_format(path) == "emotion-stimulus"
    assert trolley.text == "These days he is quite happy travelling by trolley ."
    assert trolley.cause == CauseSpan(29, 50, "travelling by trolley") and trolley.emotions == ("joy",)
    assert lost.text == "` I am sad we lost , he said ." and lost.cause.text == "we lost"
    assert lost.emotions == ("sadness",) and lost.meta["warnings"]
    assert split_word.text == "They were pleased at how well" and split_word.cause.text == "t how well"
    assert ashamed.cause is None and ashamed.emotions == ("shame",) and ashamed.taxonomy == "emotion_stimulus"
    assert slashes.cause.text == "slashes" and [e.id for e in (trolley, ashamed)] == [
        "emotion_cause-1",
        "emotion_cause-5",
    ]

    for line, message in [
        ("<happy>unclosed <\\sad>", "matching tags"),
        ("<happy>x <\\cause> y<\\happy>", "without an opening"),
        ("<happy>x <b>y</b><\\happy>", "unexpected tag"),
    ]:
        write_lines(path, ["<happy>fine<\\happy>", line])
        with pytest.raises(DatasetFormatError, match=rf"emotion_cause\.txt:2: .*{message}"):
            list(read_dataset(path, "emotion-stimulus"))
    write_lines(path, ["<glad>I won <cause>the prize<\\cause><\\glad>", "<happy>fine<\\happy>"])
    glad, fine = read_dataset(path, "emotion-stimulus")
    assert glad.emotions is None and "unknown emotion tag <glad>" in glad.label_error
    assert glad.cause.text == "the prize" and fine.emotions == ("joy",)


# ------------------------------------------------------------------------------------- emotionlines


def test_emotionlines_votes_majority_and_cp1252(tmp_path: Path) -> None:
    dialogues = [
        [
            {"speaker": "Chandler", "utterance": "my company\u0092s \u0085 \u0093hi\u0094", "emotion": "neutral", "annotation": "4100000"},
            {"speaker": "Phoebe", "utterance": "He\u0092s lost it.", "emotion": "non-neutral", "annotation": "0002120"},
        ],
        [{"speaker": "Monica", "utterance": "What?", "emotion": "surprise", "annotation": "1000130"}],
    ]  # fmt: skip
    path = tmp_path / "friends_dev.json"
    path.write_text(json.dumps(dialogues), encoding="utf-8")
    company, lost, what = check_examples(read_dataset(path))
    assert detect_format(path) == "emotionlines"
    assert company.text == "my company’s … “hi”" and company.emotions == ("neutral",)
    assert company.meta["votes"] == dict(neutral=4, joy=1, sadness=0, fear=0, anger=0, surprise=0, disgust=0)
    assert lost.emotions is None and lost.meta["votes"]["fear"] == 2 and lost.text == "He’s lost it."
    assert what.emotions == ("surprise",) and what.id == "friends_dev_1_0" and what.split == "dev"
    assert next(read_dataset(path, "emotionlines", fix_cp1252=False)).text.startswith("my company\u0092s")
    assert emotionlines.fix_cp1252("\u0081\u0097") == "\u0081—"  # undefined bytes stay

    dialogues[1][0]["emotion"] = "joy"
    path.write_text(json.dumps(dialogues), encoding="utf-8")
    *_, what = read_dataset(path, "emotionlines")
    assert what.emotions is None and what.label_error.startswith("dialogue 1, utterance 0: emotion 'joy' is not the most voted")
    dialogues[1][0]["emotion"] = "boredom"
    path.write_text(json.dumps(dialogues), encoding="utf-8")
    *_, what = read_dataset(path, "emotionlines")
    assert what.emotions is None and "unknown emotion 'boredom'" in what.label_error
    dialogues[1][0]["annotation"] = "12"
    path.write_text(json.dumps(dialogues), encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="7 digits"):
        list(read_dataset(path, "emotionlines"))


# ----------------------------------------------------------------------------------------- snow2008

SNOW_HEADER = "\t".join(snow2008.RATING_COLUMNS)


def snow_folder(tmp_path: Path) -> Path:
    write_lines(tmp_path / "headlines.tsv", ["id\theadline", "500\tCancer test approved", "501\tAllies hanged"])
    write_lines(
        tmp_path / "anger.standardized.tsv",
        [SNOW_HEADER, "a1\tW1\t500\t0\t5", "a2\tW2\t500\t10\t5", "a3\tW1\t501\t80\t60"],
    )
    write_lines(tmp_path / "valence.standardized.tsv", [SNOW_HEADER, "a4\tW1\t500\t-15\t32", "a5\tW2\t501\t-90\t-70"])
    return tmp_path


def test_snow2008_ratings_per_headline(tmp_path: Path) -> None:
    folder = snow_folder(tmp_path)
    cancer, hanged = check_examples(read_dataset(folder))
    assert detect_format(folder) == "snow2008" and detect_format(folder / "headlines.tsv") == "snow2008"
    assert cancer.id == "500" and cancer.text == "Cancer test approved" and cancer.emotions is None
    assert cancer.meta["ratings"] == {"anger": [("W1", 0), ("W2", 10)], "valence": [("W1", -15)]}
    assert cancer.meta["gold"] == {"anger": 5, "valence": 32}
    assert cancer.meta["annotation_ids"]["anger"] == ["a1", "a2"] and cancer.meta["scales"]["valence"] == (-100, 100)
    assert hanged.meta["ratings"]["anger"] == [("W1", 80)] and cancer.taxonomy == "ekman"
    only_anger = next(read_dataset(folder / "anger.standardized.tsv", "snow2008"))
    assert set(only_anger.meta["ratings"]) == {"anger"}
    with pytest.raises(FileNotFoundError, match="joy.standardized.tsv"):
        read_dataset(folder, "snow2008", dimensions="joy")
    with pytest.raises(ValueError, match="unknown Snow 2008 dimension"):
        read_dataset(folder, "snow2008", dimensions="love")


def test_snow2008_errors(tmp_path: Path) -> None:
    folder = snow_folder(tmp_path)
    write_lines(folder / "anger.standardized.tsv", [SNOW_HEADER, "a1\tW1\t500\t0\t5", "a2\tW2\t500\t10\t6"])
    with pytest.raises(DatasetFormatError, match=r"anger\.standardized\.tsv:3: headline 500: gold 6 differs"):
        read_dataset(folder, "snow2008")
    write_lines(folder / "anger.standardized.tsv", [SNOW_HEADER, "a1\tW1\t999\t0\t5"])
    with pytest.raises(DatasetFormatError, match=r"missing from headlines\.tsv: \['999'\]"):
        read_dataset(folder, "snow2008")
    write_lines(folder / "anger.standardized.tsv", [SNOW_HEADER, "a1\tW1\t500\t101\t5"])
    with pytest.raises(DatasetFormatError, match=r":2: response 101 is outside"):
        read_dataset(folder, "snow2008")


# ----------------------------------------------------------------------------------------- registry


def test_registry(tmp_path: Path) -> None:
    assert available_formats() == (
        "goemotions", "semeval-ec", "semeval-ei-reg", "reccon", "gne", "emotion-stimulus", "emotionlines", "snow2008",
    )  # fmt: skip
    with pytest.raises(ValueError, match="valid formats: goemotions, semeval-ec, .*snow2008"):
        read_dataset(tmp_path, "csv")
    with pytest.raises(ValueError, match="cannot tell the dataset format"):
        read_dataset(write_lines(tmp_path / "mystery.txt", ["x"]))
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_dataset(tmp_path / "absent", "gne")
    with pytest.raises(FileNotFoundError, match="no RECCON .json files"):
        read_dataset(tmp_path, "reccon")
    assert detect_format(tmp_path / "EI-reg-En-anger-dev.txt") == "semeval-ei-reg"
    assert detect_format(tmp_path / "iemocap_test.json") == "reccon"
    assert detect_format(tmp_path / "notes.json") is None
    assert dataset_taxonomy("gne").labels == gne.LABELS and len(gne.LABELS) == 15
    assert dataset_taxonomy("emotion_stimulus").labels == emotion_stimulus.LABELS
    assert dataset_taxonomy("ekman_neutral").labels == reccon.LABELS == emotionlines.LABELS
    assert dataset_taxonomy("semeval").name == "semeval_ec"
    with pytest.raises(ValueError, match="dataset taxonomies"):
        dataset_taxonomy("nope")


def test_readers_stream(tmp_path: Path) -> None:
    header = "ID\tTweet\tAffect Dimension\tIntensity Score"
    path = write_lines(tmp_path / "EI-reg-En-joy-train.txt", [header] + [f"id{i}\tt\tjoy\t0.5" for i in range(1000)])
    stream = read_dataset(path)
    assert iter(stream) is stream  # a lazy iterator, not a list
    assert next(stream).id == "id0:joy"
    assert FORMATS["semeval-ei-reg"] is semeval.read_ei_reg


# ---------------------------------------------------------------------------------------- real data


def test_real_goemotions() -> None:
    folder = shared("goemotions")
    examples = check_examples(read_dataset(folder, "goemotions"))
    assert Counter(e.split for e in examples) == {"train": 43410, "dev": 5426}
    assert all(e.taxonomy == "goemotions" and e.emotions and 1 <= len(e.emotions) <= 5 for e in examples)
    assert detect_format(folder) == "goemotions"


def test_real_semeval_ec() -> None:
    folder = shared("semeval2018_task1_en")
    examples = check_examples(read_dataset(folder, "semeval-ec"))
    assert Counter(e.split for e in examples) == {"train": 6838, "dev": 886}
    assert all(e.emotions is not None for e in examples)


def test_real_semeval_ei_reg() -> None:
    folder = shared("semeval2018_task1_en")
    examples = check_examples(read_dataset(folder, "semeval-ei-reg"))
    counts = Counter((e.meta["intensity_emotion"], e.split) for e in examples)
    assert counts == {
        ("anger", "train"): 1701, ("fear", "train"): 2252, ("joy", "train"): 1616, ("sadness", "train"): 1533,
        ("anger", "dev"): 388, ("fear", "dev"): 389, ("joy", "dev"): 290, ("sadness", "dev"): 397,
    }  # fmt: skip
    assert all(e.intensity is not None and e.emotions is None for e in examples)


def test_real_reccon() -> None:
    folder = shared("reccon")
    for split, dialogues, utterances, non_neutral, spans in [
        ("train", 834, 8206, 4562, 7630),
        ("dev", 47, 493, 200, 352),
    ]:
        examples = check_examples(read_dataset(folder, "reccon", splits=split))
        assert len({e.meta["dialogue_id"] for e in examples}) == dialogues
        assert len(examples) == utterances
        assert sum(e.emotions != ("neutral",) for e in examples) == non_neutral
        all_spans = [s for e in examples for s in e.meta["cause_spans"]]
        assert len(all_spans) == spans
        assert all(s["start"] is not None for s in all_spans if not s["latent"])  # README: every span is found
        assert any(e.cause is not None for e in examples)


def test_real_gne() -> None:
    folder = shared("gne")
    examples = check_examples(read_dataset(folder, "gne"))
    assert len(examples) == 4019
    assert {e.emotions[0] for e in examples} == set(gne.LABELS)
    with_spans = [e for e in examples if e.meta["cause_spans"] or e.meta["unmatched_cause_spans"]]
    located = [e for e in with_spans if e.cause is not None]
    assert len(located) >= 0.99 * len(with_spans)


def test_real_emotion_stimulus() -> None:
    folder = shared("emotion_stimulus")
    examples = check_examples(read_dataset(folder, "emotion-stimulus"))
    assert len(examples) == 656 and all(e.cause is not None and e.cause.text for e in examples)
    assert Counter(e.emotions[0] for e in examples) == {
        "joy": 169, "anger": 159, "fear": 115, "sadness": 86, "shame": 54, "surprise": 42, "disgust": 31,
    }  # fmt: skip


def test_real_emotionlines() -> None:
    folder = shared("emotionlines_friends")
    for split, dialogues, utterances in [("train", 720, 10561), ("dev", 80, 1178)]:
        examples = check_examples(read_dataset(folder, "emotionlines", splits=split))
        assert len(examples) == utterances and len({e.meta["dialogue"] for e in examples}) == dialogues
        assert all(sum(e.meta["votes"].values()) == 5 for e in examples)
        assert not any("\u0080" <= ch <= "\u009f" for e in examples for ch in e.text)


def test_real_snow2008() -> None:
    folder = shared("snow2008_affect")
    examples = check_examples(read_dataset(folder, "snow2008"))
    assert len(examples) == 80
    assert all(len(e.meta["ratings"]) == 7 for e in examples)
    assert all(len(ratings) == 10 for e in examples for ratings in e.meta["ratings"].values())
    workers = {worker for e in examples for ratings in e.meta["ratings"].values() for worker, _ in ratings}
    assert len(workers) == 38
