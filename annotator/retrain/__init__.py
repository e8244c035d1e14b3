"""Retrain: the gated retraining job (``job``), when it runs (``schedule``), whether its candidate replaces
the active adapter (``gate``), training adapters from dataset files (``training``) and measuring them on
gold (``evaluation``)."""
