"""The seam between tasks and backends: token-level requests in, scores and constrained decodes out.

A backend runs base + adapter on a batch. It sees token ids only, never a label set or a prompt's meaning.
The readout is deliberately one that any engine can reproduce (vLLM included): next-token scores at the
end of a prompt, restricted to a few allowed tokens, plus greedy decoding restricted to allowed tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Constraint(Protocol):
    """Which tokens greedy decoding may emit next, given what it has emitted so far."""

    stop_ids: frozenset[int]  # emitting one of these ends the decode (the stop token is not returned)

    def allowed(self, emitted: Sequence[int]) -> Sequence[int]:
        """Token ids allowed after ``emitted``; an empty result ends the decode."""
        ...


@dataclass(frozen=True)
class Branch:
    """One short continuation of a query's prompt, conditioned on the prompt only (not on sibling branches).

    ``read``: token ids whose next-token scores are returned at the branch's last token.
    ``constraint``: if set, greedy-decode after the branch, each step restricted to the allowed tokens.
    """

    ids: tuple[int, ...]
    read: tuple[int, ...] = ()
    constraint: Constraint | None = None
    max_new_tokens: int = 0


@dataclass(frozen=True)
class Query:
    """One item: its own prompt tokens (after the shared prefix) and the branches to evaluate."""

    item: tuple[int, ...]
    branches: tuple[Branch, ...]


@dataclass
class BranchResult:
    """What a backend returns for one branch.

    ``scores``: logits of ``Branch.read`` (equal to log-probabilities up to one additive constant, so
    parsers must only compare them with each other). ``tokens``: the constrained greedy decode (stop token
    excluded); ``stopped``: whether it ended on a stop token rather than the length limit.
    """

    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    tokens: tuple[int, ...] = ()
    stopped: bool = False


@runtime_checkable
class Backend(Protocol):
    """Runs base + adapter on batches of queries that share one instruction prefix."""

    name: str
    device: str

    def run(self, prefix: Sequence[int], queries: Sequence[Query]) -> list[list[BranchResult]]:
        """Evaluate every branch of every query; ``prefix`` is shared by all queries (its KV is reused)."""
        ...
