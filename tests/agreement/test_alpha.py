"""Alpha through our reliability data against Krippendorff's published example and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotator.agree.alpha import alpha, bootstrap
from annotator.agree.consensus import combine_intensity, majority_emotions, token_majority_span
from annotator.agree.distance import masi_distance, masi_similarity
from annotator.agree.matrix import Coding, check_fields, field_names, value_counts
from annotator.agree.spans import mask_to_span, span_f1, span_mask, token_offsets

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 3-coder, 15-unit example with
# missing values: nominal alpha 0.691, interval 0.811 (the package's doctests quote 0.691358 and 0.810845).
KRIPPENDORFF_2011 = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]


def codings_from_matrix(matrix: list[list[float]], as_intensity: bool) -> list[Coding]:
    out = []
    for c, row in enumerate(matrix):
        for u, v in enumerate(row):
            if not math.isnan(v):
                if as_intensity:
                    out.append(Coding(u, f"c{c}", frozenset(), intensity=v / 100))
                else:
                    out.append(Coding(u, f"c{c}", frozenset({f"v{int(v)}"})))
    return out


def test_krippendorff_2011_nominal_via_emotion_sets_equals_published_value():
    # Singleton sets: MASI distance is 0 or 1, i.e. nominal.
    data = value_counts(codings_from_matrix(KRIPPENDORFF_2011, False), "emotions", {})
    assert alpha(data) == pytest.approx(0.691358, abs=1e-6)
    assert data.n_items == 12 and data.n_coders == 3  # units 3-13 and 15 have two or more values


def test_krippendorff_2011_interval_via_intensity_equals_published_value():
    data = value_counts(codings_from_matrix(KRIPPENDORFF_2011, True), "intensity", {})
    assert alpha(data) == pytest.approx(0.810845, abs=1e-6)


def test_per_emotion_nominal_hand_computed():
    # 4 items x 2 coders; joy present/absent: (1,1), (0,0), (1,0), (0,0).
    # o11=2, o00=4, o01=o10=1; n1=3, n0=5, n=8: alpha = 1 - 7*2/(2*3*5) = 8/15.
    pairs = [({"joy"}, {"joy"}), (set(), set()), ({"joy"}, set()), (set(), {"anger"})]
    codings = [Coding(i, coder, frozenset(s)) for i, (a, b) in enumerate(pairs) for coder, s in (("a", a), ("b", b))]
    assert alpha(value_counts(codings, "emotion:joy", {})) == pytest.approx(8 / 15, abs=1e-12)


def test_masi_set_alpha_hand_computed():
    # item 1: {a} vs {a,b} (MASI 2/3); item 2: {c} vs {c}. Sum o*d = 4/3, sum n_c n_k d = 28/3, n = 4:
    # alpha = 1 - 3 * (4/3) / (28/3) = 4/7.
    codings = [Coding(1, "x", frozenset("a")), Coding(1, "y", frozenset("ab")),
               Coding(2, "x", frozenset("c")), Coding(2, "y", frozenset("c"))]
    assert alpha(value_counts(codings, "emotions", {})) == pytest.approx(4 / 7, abs=1e-12)


def test_masi_distance_values():
    assert masi_distance(frozenset("a"), frozenset("a")) == 0
    assert masi_distance(frozenset(), frozenset()) == 0
    assert masi_distance(frozenset("a"), frozenset("ab")) == pytest.approx(2 / 3)
    assert masi_distance(frozenset("ab"), frozenset("bc")) == pytest.approx(8 / 9)
    assert masi_distance(frozenset("a"), frozenset("b")) == 1
    assert masi_distance(frozenset(), frozenset("a")) == 1
    assert masi_similarity([frozenset("a"), frozenset("a"), frozenset("b")]) == pytest.approx(1 / 3)


def test_cause_token_alpha_hand_computed():
    # Tokens a b c d; x marks "b c", y marks "c d": units (0,0) (1,0) (1,1) (0,1):
    # o00=2, o11=2, o01=o10=2, n0=n1=4, n=8: alpha = 1 - 7*4/(2*16) = 1/8.
    text = "a b c d"
    codings = [Coding(7, "x", frozenset(), cause=(2, 5)), Coding(7, "y", frozenset(), cause=(4, 7))]
    data = value_counts(codings, "cause", {7: text})
    assert alpha(data) == pytest.approx(1 / 8, abs=1e-12)
    assert data.n_items == 1 and list(data.groups) == [7, 7, 7, 7]


def test_undefined_alpha_is_none():
    same = [Coding(i, c, frozenset()) for i in range(3) for c in "xy"]
    assert alpha(value_counts(same, "emotion:joy", {})) is None  # no variation
    single = [Coding(i, "x", frozenset("a")) for i in range(3)]
    assert alpha(value_counts(single, "emotions", {})) is None  # no pairs
    assert alpha(value_counts([], "intensity", {})) is None


def test_bootstrap_interval_brackets_alpha_and_is_reproducible():
    rng = np.random.default_rng(1)
    truth = rng.random(300) < 0.3
    codings = [Coding(i, f"c{c}", frozenset({"joy"} if (t != (rng.random() < 0.1)) else set()))
               for i, t in enumerate(truth) for c in range(3)]
    data = value_counts(codings, "emotion:joy", {})
    low, high, used = bootstrap(data, 200, 0.95, seed=3)
    assert used == 200 and low < alpha(data) < high and high - low < 0.2
    assert bootstrap(data, 200, 0.95, seed=3) == (low, high, used)


def test_bootstrap_resamples_whole_items_for_causes():
    # Item 1 agrees perfectly, item 2 not at all: resampling items (not tokens) gives alpha 1 or lower,
    # and a resample of only item 1 has no variation (undefined, skipped).
    texts = {1: "one two three four", 2: "five six seven eight"}
    codings = [Coding(1, "x", frozenset(), cause=(0, 7)), Coding(1, "y", frozenset(), cause=(0, 7)),
               Coding(2, "x", frozenset(), cause=(0, 8)), Coding(2, "y", frozenset(), cause=(9, 19))]
    data = value_counts(codings, "cause", texts)
    low, high, _ = bootstrap(data, 100, 0.9, seed=0)
    assert low is not None and high is not None and high <= 1.0


def test_spans_round_trip_and_f1():
    text = "I lost my keys, again!"
    offsets = token_offsets(text)
    mask = span_mask(offsets, (2, 14))
    assert [text[s:e] for (s, e), m in zip(offsets, mask) if m] == ["lost", "my", "keys"]
    assert mask_to_span(offsets, mask) == (2, 14)
    assert mask_to_span(offsets, np.zeros(len(offsets), bool)) is None
    other = span_mask(offsets, (7, 14))
    assert span_f1(mask, other) == pytest.approx(2 * 2 / 5)
    assert span_f1(np.zeros(3, bool), np.zeros(3, bool)) is None


def test_consensus_rules():
    assert majority_emotions([{"joy"}, {"joy", "fear"}, {"fear"}, {"anger"}]) == ["fear", "joy"]
    assert majority_emotions([{"joy"}, {"anger"}, {"anger"}], weights=[1.0, 0.2, 0.2]) == ["joy"]
    assert combine_intensity([0.1, 0.2, 0.9, None]) == pytest.approx(0.4)
    assert combine_intensity([0.1, 0.2, 0.9], "median") == pytest.approx(0.2)
    assert combine_intensity([None]) is None
    text = "the bus was late again today"
    # tokens: the(0-3) bus(4-7) was(8-11) late(12-16) again(17-22) today(23-28)
    assert token_majority_span([(4, 16), (8, 22), (12, 16)], text) == (8, 16)  # "was late"
    assert token_majority_span([(0, 3), None, None], text) is None


def test_field_names_and_check():
    assert field_names(["joy", "fear"]) == ["emotion:joy", "emotion:fear", "emotions", "intensity", "cause"]
    rated = [Coding(1, "a", frozenset({"fear"}), intensities=(("fear", 0.5),))]
    assert field_names(["joy", "fear"], rated)[-1] == "intensity:fear"  # only emotions someone rated
    assert check_fields(["intensity:joy"], ["joy", "fear"]) == ["intensity:joy"]
    with pytest.raises(ValueError, match="unknown field"):
        check_fields(["emotion:love"], ["joy", "fear"])
    with pytest.raises(ValueError, match="unknown field"):
        check_fields(["intensity:love"], ["joy", "fear"])


def test_intensity_per_emotion_is_interval_alpha_over_the_coders_who_rated_it():
    codings = [Coding(item, coder, frozenset({"joy"}), intensities=(("joy", value),))
               for item, values in enumerate([(0.1, 0.12), (0.5, 0.52), (0.9, 0.88)])
               for coder, value in zip("ab", values)]
    codings.append(Coding(0, "c", frozenset({"anger"})))  # rated no joy: missing there, not a zero
    data = value_counts(codings, "intensity:joy", {})
    assert data.level == "interval" and data.n_items == 3
    assert alpha(data) == pytest.approx(0.996, abs=0.005)
