"""The promotion gate: does a candidate adapter replace the active one? Pure functions of two metric dicts.

Both adapters are scored on the same held-out gold. The candidate is promoted only if the primary metric
improves by at least ``margin`` and no other metric both have gets worse by more than ``tolerance``.
Improvements are signed so that positive is always better (an error such as ``intensity_mae`` counts
down). Metrics missing or not finite on either side are not compared, and the reason says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# Metrics where smaller is better; every other metric is better when larger.
LOWER_IS_BETTER_SUFFIXES = ("_mae", "_mse", "_rmse", "_loss", "_ece", "_error")
_EPS = 1e-12  # a gain equal to the margin passes despite float rounding


@dataclass(frozen=True)
class GatePolicy:
    """What a candidate must achieve."""

    primary: str = "emotion_macro_f1"
    margin: float = 0.01
    tolerance: float = 0.02

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict, the signed improvement of every compared metric, and why."""

    promote: bool
    reason: str
    improvements: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for TrainingRun.metrics."""
        return asdict(self)


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the better one."""
    return metric.endswith(LOWER_IS_BETTER_SUFFIXES)


def improvement(metric: str, candidate: float, active: float) -> float:
    """How much better the candidate is on ``metric`` (negative: worse)."""
    return active - candidate if lower_is_better(metric) else candidate - active


def _value(metrics: Mapping[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def decide(candidate: Mapping[str, Any], active: Mapping[str, Any], policy: GatePolicy) -> GateDecision:
    """Promote or refuse ``candidate`` against ``active`` under ``policy``."""
    names = sorted(set(candidate) | set(active))
    improvements: dict[str, float] = {}
    skipped: list[str] = []
    for name in names:
        c, a = _value(candidate, name), _value(active, name)
        if c is None or a is None:
            skipped.append(name)
        else:
            improvements[name] = improvement(name, c, a)
    primary = policy.primary
    if primary not in improvements:
        return GateDecision(
            False, f"refused: the primary metric {primary} is missing or not finite for one of the adapters",
            improvements, skipped,
        )
    gain = improvements[primary]
    if gain + _EPS < policy.margin:
        return GateDecision(
            False, f"refused: {primary} changed by {gain:+.4f}, less than the margin {policy.margin:+.4f}",
            improvements, skipped,
        )
    drops = {n: d for n, d in improvements.items() if n != primary and d < -policy.tolerance - _EPS}
    if drops:
        worst = ", ".join(f"{n} {d:+.4f}" for n, d in sorted(drops.items(), key=lambda kv: kv[1]))
        return GateDecision(
            False, f"refused: {primary} {gain:+.4f} passes the margin, but {worst} dropped beyond the tolerance "
            f"{policy.tolerance:.4f}", improvements, skipped,
        )
    return GateDecision(
        True, f"promoted: {primary} {gain:+.4f} >= margin {policy.margin:+.4f}, and no other metric dropped by "
        f"more than {policy.tolerance:.4f}", improvements, skipped,
    )
