"""Adapter training: LoRA SFT on the same branch trees the labeler reads."""
