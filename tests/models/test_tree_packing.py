"""The tree-packed forward pass equals running every branch on its own."""

from __future__ import annotations

import pytest
import torch

from models.backends.base import Branch, Query
from models.backends.transformers import TransformersBackend
from models.backends.tree import pack, tree_mask
from models.base import load_model

PREFIX = "<|im_start|>system\nSay which emotions the text shows.<|im_end|>\n<|im_start|>user\n"
TEXTS = ["I am so happy today!", "This is awful, I hate it and I am furious about the delay."]
STEMS = [" joy:", " anger:", " disappointment:", " intensity: "]


def _reference(model, ids: list[int], read: tuple[int, ...]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1, list(read)]


def test_mask_structure() -> None:
    seg = torch.tensor([[0, 0, -1, 1, 1, 2]])  # item of 2 (+1 pad), branch 0 of 2, branch 1 of 1
    allowed = tree_mask(seg, prefix_len=1, dtype=torch.float32)[0, 0] == 0
    assert allowed[:, 0].all()  # everyone sees the prefix
    assert allowed[4].tolist() == [True, True, True, False, True, True, False]  # own branch + item
    assert allowed[5].tolist() == [True, True, True, False, False, False, True]  # not the sibling branch
    assert allowed[1].tolist() == [True, True, True, False, False, False, False]  # causal within the item


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_branches_equal_separate_runs(base, codec, model, attn: str) -> None:
    net = model if attn == "sdpa" else load_model(base.path, attn_implementation="eager")
    backend = TransformersBackend(net, pad_id=codec.pad_id)
    yes, no = codec.encode(" yes")[0], codec.encode(" no")[0]
    prefix = codec.encode(PREFIX)
    queries = [
        Query(
            item=codec.encode(text + "<|im_end|>\n<|im_start|>assistant\n"),
            branches=tuple(Branch(ids=codec.encode(stem), read=(yes, no)) for stem in STEMS),
        )
        for text in TEXTS
    ]
    assert len(queries[0].item) != len(queries[1].item)  # exercises padding
    results = backend.run(prefix, queries)
    for query, row in zip(queries, results):
        for branch, result in zip(query.branches, row):
            expected = _reference(net, list(prefix + query.item + branch.ids), branch.read)
            assert torch.allclose(torch.from_numpy(result.scores), expected, atol=1e-3), (result.scores, expected)


def test_positions_restart_after_the_item() -> None:
    packed = pack(3, [[5, 6], [7]], [[[1, 2], [3]], [[4]]], pad_id=0)
    assert packed.position_ids[0].tolist() == [3, 4, 5, 6, 5]
    assert packed.position_ids[1].tolist()[:1] + packed.position_ids[1].tolist()[2:3] == [3, 4]
    assert packed.last_column(0, 0) == 3 and packed.last_column(0, 1) == 4 and packed.last_column(1, 0) == 2
