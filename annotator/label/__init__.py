"""Label: which adapter labels a project (``adapters``: every lookup, registration and promotion),
when a predicted emotion counts as present (``thresholds``), and pre-labeling jobs (``prelabel``)."""
