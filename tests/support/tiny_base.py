"""A tiny, randomly initialised Llama base with SmolLM2's real tokenizer, as a local Hugging Face folder.

Worker and job tests need a real labeler (real tokenizer, real forward passes, real adapters'
code path) but not a good one: this base runs ~50x faster than the 135M model on a busy CPU.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def make_tiny_base(folder: Path, cache_dir: Path, seed: int = 0) -> Path:
    """Write the tiny base into ``folder`` (once) and return it."""
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from models.base import resolve_base

    smol = resolve_base(None, cache_dir).path
    folder.mkdir(parents=True, exist_ok=True)
    for path in smol.iterdir():  # tokenizer, chat template, generation config: everything but the weights
        if path.is_file() and path.suffix != ".safetensors" and path.name not in ("config.json", "emo_base.json"):
            shutil.copy(path, folder / path.name)
    reference = LlamaConfig.from_pretrained(smol)
    config = LlamaConfig(
        vocab_size=reference.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=reference.bos_token_id, eos_token_id=reference.eos_token_id,
        pad_token_id=reference.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder
