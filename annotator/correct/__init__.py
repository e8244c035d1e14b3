"""Correct: where humans fix the labels. The Label Studio sync (``labelstudio/``), the dashboard's
services (``dashboard``), dashboard accounts (``users``) and imported annotations (``annotations_import``)."""
