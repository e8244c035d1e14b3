"""Content hashes: one definition, used by ingest (deduplication) and by every later lookup."""

from __future__ import annotations

import hashlib


def content_hash(text: str) -> str:
    """The 128-bit BLAKE2b hex digest of ``text`` exactly as stored (no normalisation)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def bytes_hash(data: bytes) -> str:
    """The 128-bit BLAKE2b hex digest of raw bytes (rejected rows, data snapshots)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
