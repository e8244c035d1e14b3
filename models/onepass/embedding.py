"""A small fixed-size embedding of each item, read from the same hidden states as the heads.

It is what "what to label next" uses for diversity (:mod:`annotator.correct.selection`): items whose
embeddings are close say similar things to the labeler. The heads' pooled view of an item (mean of its text
tokens and its last token, :func:`models.onepass.heads.summary`) is projected onto ``EMBEDDING_DIM``
directions drawn once from a seeded Gaussian: a random projection keeps distances between items close to
those of the full states (Johnson-Lindenstrauss) at 64 numbers an item instead of 1,152, so it can be
stored with every prediction.
"""

from __future__ import annotations

import torch

from models.onepass.heads import summary

EMBEDDING_DIM = 64
_SEED = 20261202
_projections: dict[int, torch.Tensor] = {}


def projection(width: int) -> torch.Tensor:
    """The fixed (width, EMBEDDING_DIM) projection for pooled states of ``width`` numbers (same every run)."""
    if width not in _projections:
        generator = torch.Generator().manual_seed(_SEED + width)
        _projections[width] = torch.randn(width, EMBEDDING_DIM, generator=generator) / EMBEDDING_DIM**0.5
    return _projections[width]


def project(pooled: torch.Tensor) -> torch.Tensor:
    """(B, EMBEDDING_DIM) float32 embeddings of pooled states (B, width)."""
    pooled = pooled.float().cpu()
    return pooled @ projection(int(pooled.shape[-1]))


def item_embeddings(hidden: torch.Tensor, text: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """(B, EMBEDDING_DIM) embeddings of a batch from its final hidden states (B, T, D)."""
    return project(summary(hidden.float(), text, last))

