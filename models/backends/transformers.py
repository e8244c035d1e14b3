"""Transformers backend: one tree-packed forward pass per batch, shared-prefix KV cache, restricted readout.

CPU runs fp32, CUDA bf16. No torch.compile. Scores are computed only for the tokens a branch reads
(a few rows of the output embedding), never over the whole vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
from transformers import DynamicCache

from models.backends.base import BranchResult, Query
from models.backends.tree import PackedBatch, PrefixKV, prefix_kv, run_tree

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class TransformersBackend:
    """Runs a (peft-wrapped or plain) causal LM on tree-packed queries."""

    name = "transformers"

    def __init__(self, model: "PreTrainedModel", pad_id: int, device: str = "cpu") -> None:
        self.model = model
        self.pad_id = pad_id
        self.device = device
        self._prefix_key: tuple[int, ...] | None = None
        self._prefix_kv: PrefixKV = []
        # token positions run through the model: "real" ones, and "slots" = real + padding (what costs FLOPs)
        self.stats = {"prefix": 0, "tree_real": 0, "tree_slots": 0, "decode_real": 0, "decode_slots": 0}

    @classmethod
    def load(cls, base_path: Path, adapter_path: Path | None, pad_id: int, device: str = "cpu") -> "TransformersBackend":
        """Load base weights (and a LoRA adapter, if given) from local folders."""
        from models.base import load_model

        model = load_model(base_path, device=device)
        if adapter_path is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_path, is_trainable=False).eval()
        return cls(model, pad_id=pad_id, device=device)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_output_embeddings().weight.dtype

    def clear_cache(self) -> None:
        """Forget the cached prefix KV (needed after the weights change, e.g. between training steps)."""
        self._prefix_key, self._prefix_kv = None, []

    def _cached_prefix(self, prefix: Sequence[int]) -> PrefixKV:
        """The prefix KV: the prefix runs once and is then reused for every batch."""
        key = tuple(prefix)
        if key != self._prefix_key:
            self.stats["prefix"] += len(key)
            self._prefix_kv = prefix_kv(self.model, key, self.device)
            self._prefix_key = key
        return self._prefix_kv

    @torch.inference_mode()
    def run(self, prefix: Sequence[int], queries: Sequence[Query]) -> list[list[BranchResult]]:
        """Evaluate every branch of every query in one packed forward pass (+ constrained decode steps)."""
        if not queries:
            return []
        if not prefix:
            raise ValueError("the shared prefix must not be empty")
        batch, hidden, cache = run_tree(self.model, prefix, [q.item for q in queries],
                                        [[b.ids for b in q.branches] for q in queries], self.pad_id, self.device,
                                        kv=self._cached_prefix(prefix))
        self.stats["tree_real"] += int((batch.segments >= 0).sum())
        self.stats["tree_slots"] += batch.input_ids.numel()
        results = [[BranchResult() for _ in q.branches] for q in queries]
        self._read_scores(queries, batch, hidden, results)
        self._decode(queries, batch, hidden, cache, results)
        return results

    def _weights(self, token_ids: Sequence[int]) -> torch.Tensor:
        head = self.model.get_output_embeddings()
        return head.weight[torch.as_tensor(list(token_ids), dtype=torch.long, device=self.device)]

    def _read_scores(
        self, queries: Sequence[Query], batch: PackedBatch, hidden: torch.Tensor, results: list[list[BranchResult]]
    ) -> None:
        where = [(r, j) for r, q in enumerate(queries) for j, b in enumerate(q.branches) if b.read]
        if not where:
            return
        vocab = sorted({t for r, j in where for t in queries[r].branches[j].read})
        index = {t: i for i, t in enumerate(vocab)}
        rows = torch.tensor([r for r, _ in where], device=self.device)
        cols = torch.tensor([batch.last_column(r, j) for r, j in where], device=self.device)
        logits = (hidden[rows, cols] @ self._weights(vocab).T).float().cpu().numpy()
        for n, (r, j) in enumerate(where):
            results[r][j].scores = logits[n, [index[t] for t in queries[r].branches[j].read]]

    def _decode(
        self,
        queries: Sequence[Query],
        batch: PackedBatch,
        hidden: torch.Tensor,
        cache: DynamicCache,
        results: list[list[BranchResult]],
    ) -> None:
        todo = [(r, j) for r, q in enumerate(queries) for j, b in enumerate(q.branches) if b.constraint is not None]
        if not todo:
            return
        if len({r for r, _ in todo}) != len(todo):
            raise ValueError("at most one constrained branch per query")
        rows = [r for r, _ in todo]
        last = torch.tensor([batch.last_column(r, j) for r, j in todo], device=self.device)
        row_t = torch.tensor(rows, device=self.device)
        # what the decoded tokens may see: exactly what the branch's last token saw
        visible = batch.attention_mask[row_t, 0, last, :] == 0  # (R, P + T)
        position = batch.position_ids[row_t, last] + 1
        h = hidden[row_t, last]  # (R, D)
        if len(rows) != len(queries):
            cache.batch_select_indices(row_t)
        emitted: list[list[int]] = [[] for _ in todo]
        live = [True] * len(todo)
        active = list(range(len(todo)))  # todo index of each row of the cache / h / visible
        min_value = torch.finfo(self.dtype).min
        for step in range(max(queries[r].branches[j].max_new_tokens for r, j in todo) + 1):
            chosen = {}
            for row, i in enumerate(active):
                if not live[i]:
                    continue
                r, j = todo[i]
                branch = queries[r].branches[j]
                allowed = list(branch.constraint.allowed(emitted[i])) if step < branch.max_new_tokens else []
                if not allowed:
                    live[i] = False
                    continue
                token = allowed[int(torch.argmax(self._weights(allowed) @ h[row]))]
                if token in branch.constraint.stop_ids:
                    live[i] = False
                    results[r][j].stopped = True
                    continue
                emitted[i].append(token)
                chosen[i] = token
                if len(emitted[i]) >= branch.max_new_tokens:
                    live[i] = False  # length limit: no need to run the token it just chose
            keep = [row for row, i in enumerate(active) if live[i]]
            if not keep:
                break
            if 2 * len(keep) <= len(active):  # drop finished rows once they are half the batch
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                visible, position = visible[index], position[index]
                active = [active[row] for row in keep]
            self.stats["decode_real"] += len(keep)
            self.stats["decode_slots"] += len(active)
            visible = torch.cat([visible, torch.ones((len(active), 1), dtype=torch.bool, device=self.device)], dim=1)
            mask = torch.zeros(visible.shape, dtype=self.dtype, device=self.device).masked_fill(~visible, min_value)
            ids = torch.tensor([chosen.get(i, self.pad_id) for i in active], device=self.device)
            h = self.model.get_decoder()(
                input_ids=ids[:, None],
                attention_mask=mask[:, None, None, :],
                position_ids=(position + step)[:, None],
                past_key_values=cache,
                use_cache=True,
            ).last_hidden_state[:, 0]
        for i, (r, j) in enumerate(todo):
            results[r][j].tokens = tuple(emitted[i])
