"""Agreement benchmark: Krippendorff's alpha over 1,000,000 items x 5 coders for one binary field.

Our path starts from flat coding arrays (unit, value; about 5% of the codings missing), builds the
value counts (:func:`annotator.agree.matrix.counts_from_arrays`) and calls the ``krippendorff``
package on them (:func:`annotator.agree.alpha.alpha`). The baseline is the same package called on
the raw coders x units reliability-data matrix (NaN for missing). Both must give the same alpha. Prints
the median of several runs and the ratio; the goal is <= 10 s for our path.

    python bench/agreement.py                  # 1,000,000 items, 5 coders, 5 runs
    python bench/agreement.py --items 100000 --runs 3 --bootstrap 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import krippendorff
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotator.agree.alpha import alpha, bootstrap  # noqa: E402
from annotator.agree.matrix import counts_from_arrays  # noqa: E402


def make_data(items: int, coders: int, seed: int = 0) -> np.ndarray:
    """coders x items matrix of 0/1 (a latent truth flipped with 15% noise per coder), ~5% NaN."""
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < 0.3
    flips = rng.random((coders, items)) < 0.15
    data = (truth[None, :] ^ flips).astype(np.float64)
    data[rng.random((coders, items)) < 0.05] = np.nan
    return data


def ours(matrix: np.ndarray) -> float:
    """Flat coding arrays -> value counts -> alpha (the arrays a database query would give)."""
    coders, items = matrix.shape
    present = ~np.isnan(matrix)
    units = np.broadcast_to(np.arange(items), (coders, items))[present]
    values = matrix[present].astype(np.int8)
    value = alpha(counts_from_arrays(units, values))
    assert value is not None
    return value


def baseline(matrix: np.ndarray) -> float:
    """The package on the raw reliability-data matrix."""
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def timed(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--coders", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=0, help="also time a bootstrap interval with N resamples")
    args = parser.parse_args()
    matrix = make_data(args.items, args.coders)
    results = {}
    for name, fn in (("ours: arrays -> value counts -> alpha", ours), ("package on reliability_data", baseline)):
        times, values = zip(*(timed(fn, matrix) for _ in range(args.runs)))
        results[name] = (statistics.median(times), min(times), max(times), values[0])
    (a, b) = results.values()
    assert abs(a[3] - b[3]) < 1e-9, f"alpha differs: {a[3]} vs {b[3]}"
    print(f"alpha, {args.items:,} items x {args.coders} coders, binary nominal, {args.runs} runs")
    print(f"{'path':<40} {'median s':>9} {'min s':>7} {'max s':>7} {'alpha':>10}")
    for name, (med, lo, hi, value) in results.items():
        print(f"{name:<40} {med:>9.3f} {lo:>7.3f} {hi:>7.3f} {value:>10.6f}")
    print(f"speed-up over the baseline: {b[0] / a[0]:.2f}x; goal <= 10 s: {'met' if a[0] <= 10 else 'MISSED'}")
    if args.bootstrap:
        present = ~np.isnan(matrix)
        units = np.broadcast_to(np.arange(args.items), matrix.shape)[present]
        data = counts_from_arrays(units, matrix[present].astype(np.int8))
        seconds, (low, high, used) = timed(bootstrap, data, args.bootstrap)
        print(f"bootstrap 95% CI with {used} resamples: [{low:.6f}, {high:.6f}] in {seconds:.2f} s")


if __name__ == "__main__":
    main()
