"""What the labeler's pre-labels are worth to annotators, from what they did with them.

Per label, over the accepted human annotations made on a pre-label (``based_on_adapter`` names a stored
prediction): how often the labeler proposed the label (its probability reached the decision threshold of
that adapter: :mod:`annotator.label.thresholds`) and the annotator kept it, and how often annotators added
it where the labeler had not proposed it. Per item: the annotator's time (Label Studio lead time, dashboard
time on the item) when the pre-label was accepted as it was, when it was corrected, and without a pre-label.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median

from sqlalchemy.orm import Session

from annotator import repo
from annotator.label.thresholds import decided, decision_thresholds


@dataclass(frozen=True)
class LabelValue:
    """One label: proposed by the labeler / kept by the annotator / added by the annotator."""

    label: str
    proposed: int
    kept: int
    added: int

    @property
    def keep_rate(self) -> float | None:
        """Share of the labeler's proposals of this label that annotators kept (None: never proposed)."""
        return self.kept / self.proposed if self.proposed else None


@dataclass(frozen=True)
class TimeValue:
    """Annotator time per item in one situation: how many annotations, how many of them timed, the median."""

    situation: str  # "pre-label accepted" | "pre-label corrected" | "no pre-label"
    annotations: int
    timed: int
    median_seconds: float | None


@dataclass(frozen=True)
class PrelabelValue:
    """Per label and per situation, what annotators did with the pre-labels of a project."""

    labels: list[LabelValue]
    times: list[TimeValue]
    on_prelabel: int  # annotations made on a stored pre-label
    accepted: int  # of those, the pre-label's emotion set kept exactly


SITUATIONS = ("pre-label accepted", "pre-label corrected", "no pre-label")


def prelabel_value(db: Session, project_name: str) -> PrelabelValue:
    """What the annotators of a project did with the labeler's pre-labels (see the module docstring)."""
    project = repo.get_project_or_raise(db, project_name)
    thresholds = decision_thresholds(db, project)
    proposed: dict[str, int] = defaultdict(int)
    kept: dict[str, int] = defaultdict(int)
    added: dict[str, int] = defaultdict(int)
    seconds: dict[str, list[float]] = {s: [] for s in SITUATIONS}
    counts: dict[str, int] = dict.fromkeys(SITUATIONS, 0)
    for emotions, lead_time, version, scores in repo.annotations_with_prelabels(db, project.id):
        human = set(emotions or [])
        if scores is None:
            situation = "no pre-label"
        else:
            machine = set(decided(scores, thresholds(version)))
            for label in machine:
                proposed[label] += 1
                kept[label] += label in human
            for label in human - machine:
                added[label] += 1
            situation = "pre-label accepted" if machine == human else "pre-label corrected"
        counts[situation] += 1
        if lead_time is not None and lead_time >= 0:
            seconds[situation].append(float(lead_time))
    labels = [LabelValue(label, proposed[label], kept[label], added[label]) for label in project.labels]
    times = [TimeValue(s, counts[s], len(seconds[s]), median(seconds[s]) if seconds[s] else None)
             for s in SITUATIONS]
    on_prelabel = counts["pre-label accepted"] + counts["pre-label corrected"]
    return PrelabelValue(labels, times, on_prelabel, counts["pre-label accepted"])
