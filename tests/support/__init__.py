"""Helpers shared by tests (real services started for integration tests)."""
