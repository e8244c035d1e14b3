"""Ingest: stream a corpus (JSONL, CSV, Parquet, or an annotated dataset) into a project's items.

``sources`` reads rows without ever raising on a bad one; ``service`` validates, deduplicates and stores
them in batches, keeps every rejected row whole in ``ingest_errors``, and checkpoints the run so an
interrupted ingest resumes where it stopped.
"""
