"""Celery workers: the app (``worker.app``) and its tasks (``worker.tasks``). Start one with ``annotator worker``."""
