"""Pack items and their branches into one batch with a tree-shaped attention mask.

Row layout (after a shared prefix of ``P`` tokens whose KV cache is passed separately)::

    [ item tokens, right-padded to the batch max | branch 0 | branch 1 | ... | padding ]

Every token sees the whole prefix. Item tokens are causal among themselves. A branch token sees the
item's real tokens and the earlier tokens of its own branch, never a sibling branch. Position ids restart
after the item for every branch (``P + len(item) + i``), so each branch is numerically the same as running
``prefix + item + branch`` on its own. Used by inference and by training alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from transformers import DynamicCache


@dataclass
class PackedBatch:
    """Tensors for one tree-packed forward pass, plus where each branch landed."""

    input_ids: torch.Tensor  # (B, T) long
    position_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, 1, T, P + T) additive float: 0 = attend, min = masked
    segments: torch.Tensor  # (B, T) long: -1 padding, 0 item, j + 1 branch j
    branch_start: list[list[int]]  # per row, per branch: column of its first token
    branch_len: list[list[int]]
    item_len: list[int]

    def last_column(self, row: int, branch: int) -> int:
        """Column of a branch's last token (where its next-token scores are read)."""
        return self.branch_start[row][branch] + self.branch_len[row][branch] - 1


def pack(
    prefix_len: int,
    items: Sequence[Sequence[int]],
    branches: Sequence[Sequence[Sequence[int]]],
    pad_id: int,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> PackedBatch:
    """Build ids, positions and the 4D additive mask for ``items[b]`` with ``branches[b]``."""
    if len(items) != len(branches):
        raise ValueError("one branch list per item")
    if any(len(b) == 0 for row in branches for b in row):
        raise ValueError("empty branch")
    width = max(len(item) for item in items)
    tree_width = max(sum(len(b) for b in row) for row in branches)
    total = width + tree_width
    rows = len(items)
    ids = torch.full((rows, total), pad_id, dtype=torch.long)
    pos = torch.zeros((rows, total), dtype=torch.long)
    seg = torch.full((rows, total), -1, dtype=torch.long)
    starts: list[list[int]] = []
    lens: list[list[int]] = []
    for r, (item, row) in enumerate(zip(items, branches)):
        n = len(item)
        ids[r, :n] = torch.tensor(item, dtype=torch.long)
        pos[r, :n] = torch.arange(prefix_len, prefix_len + n)
        seg[r, :n] = 0
        col = width
        starts.append([])
        lens.append([])
        for j, branch in enumerate(row):
            k = len(branch)
            ids[r, col : col + k] = torch.tensor(branch, dtype=torch.long)
            pos[r, col : col + k] = torch.arange(prefix_len + n, prefix_len + n + k)
            seg[r, col : col + k] = j + 1
            starts[r].append(col)
            lens[r].append(k)
            col += k
    mask = tree_mask(seg, prefix_len, dtype)
    return PackedBatch(
        input_ids=ids.to(device),
        position_ids=pos.to(device),
        attention_mask=mask.to(device),
        segments=seg.to(device),
        branch_start=starts,
        branch_len=lens,
        item_len=[len(item) for item in items],
    )


def tree_mask(segments: torch.Tensor, prefix_len: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive (B, 1, T, P + T) mask from segment ids (-1 pad, 0 item, j + 1 branch j)."""
    rows, total = segments.shape
    q_seg = segments[:, :, None]
    k_seg = segments[:, None, :]
    col = torch.arange(total)
    causal = (col[None, :] <= col[:, None])[None]  # (1, T, T): key column <= query column
    key_is_item = k_seg == 0
    # an item token sees earlier item tokens; a branch token sees the whole item and its own branch so far
    allowed = (key_is_item & ((q_seg > 0) | causal)) | ((q_seg == k_seg) & (q_seg > 0) & causal)
    allowed |= torch.eye(total, dtype=torch.bool)[None]  # padding rows see themselves: no all-masked row
    tree = torch.zeros((rows, total, total), dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    prefix = torch.zeros((rows, total, prefix_len), dtype=dtype)
    return torch.cat([prefix, tree], dim=-1)[:, None]


def forward_packed(decoder: torch.nn.Module, packed: PackedBatch, cache: object) -> torch.Tensor:
    """Run the decoder over a packed batch on top of the shared prefix ``cache``; return its hidden states."""
    return decoder(
        input_ids=packed.input_ids,
        attention_mask=packed.attention_mask,
        position_ids=packed.position_ids,
        past_key_values=cache,
        use_cache=True,
    ).last_hidden_state


PrefixKV = list[tuple[torch.Tensor, torch.Tensor]]


def prefix_kv(model: torch.nn.Module, prefix: Sequence[int], device: str | torch.device) -> PrefixKV:
    """The KV of the shared prefix, one (key, value) per layer, for one row (with gradients if enabled)."""
    out = model.get_decoder()(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True)
    return [(k, v) for k, v, *_ in out.past_key_values]


def expand_cache(kv: Sequence[tuple[torch.Tensor, torch.Tensor]], rows: int) -> DynamicCache:
    """A DynamicCache whose every layer holds ``kv`` (batch 1) repeated over ``rows`` rows (a view)."""
    return DynamicCache(ddp_cache_data=[(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in kv])


def run_tree(model: torch.nn.Module, prefix: Sequence[int], items: Sequence[Sequence[int]],
             branches: Sequence[Sequence[Sequence[int]]], pad_id: int, device: str | torch.device,
             kv: PrefixKV | None = None) -> tuple[PackedBatch, torch.Tensor, DynamicCache]:
    """The one forward of the instruction readout, for labeling and training alike: the prefix (``kv`` if
    already computed, else run now), its KV expanded over the rows, the items and their branches packed
    into one tree-masked batch on top of it. Returns the packed batch, its hidden states and the cache."""
    cache = expand_cache(kv if kv is not None else prefix_kv(model, prefix, device), len(items))
    packed = pack(len(prefix), items, branches, pad_id=pad_id,
                  dtype=model.get_output_embeddings().weight.dtype, device=device)
    return packed, forward_packed(model.get_decoder(), packed, cache), cache
