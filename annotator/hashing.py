"""Content hashes: one definition, used by ingest (deduplication) and by every later lookup."""

from __future__ import annotations

import hashlib


def content_hash(text: str) -> str:
    """The 128-bit BLAKE2b hex digest of ``text`` exactly as stored (no normalisation)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def bytes_hash(data: bytes) -> str:
    """The 128-bit BLAKE2b hex digest of raw bytes (rejected rows, data snapshots)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def item_hash(text: str, conversation: str | None = None, turn: int | None = None) -> str:
    """An item's identity in its project: :func:`content_hash` of the text for a lone item; for a turn of a
    conversation, the hash of (conversation, turn, text), so equal words in other turns stay other items."""
    if conversation is None:
        return content_hash(text)
    return content_hash(f"\x00turn\x00{conversation}\x00{turn}\x00{text}")  # NUL: never inside a stored text
