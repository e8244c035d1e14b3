"""emo-annotator: EmoLLM labelers pre-label text, humans correct, corrections train the next labeler."""

__version__ = "0.1.0"
