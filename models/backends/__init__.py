"""Backends run base + adapter on token-level queries; they never see a label set."""
