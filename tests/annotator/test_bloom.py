"""The ingest run's Bloom filter: never a false "not seen", few false "maybe"."""

from __future__ import annotations

import pytest

from annotator.bloom import BloomFilter


def test_every_added_key_is_reported_and_most_others_are_not():
    bloom = BloomFilter(bits=1 << 20, probes=3)
    added = [f"key-{i}" for i in range(50_000)]
    for lo in range(0, len(added), 7_000):
        bloom.add(added[lo:lo + 7_000])
    assert bloom.maybe_contains(added).all()
    others = bloom.maybe_contains([f"other-{i}" for i in range(50_000)])
    # 3 probes, 50k keys in 2**20 bits: about 0.3% false positives expected
    assert 0 < others.mean() < 0.01


def test_empty_inputs_and_bad_sizes():
    bloom = BloomFilter(bits=64)
    bloom.add([])
    assert bloom.maybe_contains([]).shape == (0,)
    assert not bloom.maybe_contains(["a", "b"]).any()
    with pytest.raises(ValueError):
        BloomFilter(bits=100)
    with pytest.raises(ValueError):
        BloomFilter(probes=0)
