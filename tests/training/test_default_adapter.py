"""How the labeler finds its default adapter (ANNOTATOR_DEFAULT_ADAPTER): a folder, or the newest of a folder of versions."""

from __future__ import annotations

import json

from annotator.label.adapters import default_adapter_path
from annotator.settings import get_settings
from models.adapters import ADAPTER_META


def test_default_adapter_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", "")
    get_settings.cache_clear()
    assert default_adapter_path() is None
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", str(tmp_path))
    get_settings.cache_clear()
    assert default_adapter_path() is None  # a folder without adapters
    for version, created in (("a-new", "20260102-000000"), ("b-old", "20250101-000000")):
        (tmp_path / version).mkdir()
        (tmp_path / version / ADAPTER_META).write_text(json.dumps({"version": version, "created_at": created}))
    assert default_adapter_path() == tmp_path / "a-new"  # newest by creation time, not by name
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", str(tmp_path / "b-old"))
    get_settings.cache_clear()
    assert default_adapter_path() == tmp_path / "b-old"


def test_default_adapter_is_used_only_on_the_base_it_was_trained_on(monkeypatch, tmp_path):
    adapter = tmp_path / "default-1"
    adapter.mkdir()
    (adapter / ADAPTER_META).write_text(json.dumps({"version": "default-1", "created_at": "20260101-000000",
                                                    "base": {"model_id": "smollm2-135m-instruct"}}))
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", str(tmp_path))
    get_settings.cache_clear()
    assert default_adapter_path() == adapter  # the packaged base is the default
    monkeypatch.setenv("ANNOTATOR_BASE_MODEL", str(tmp_path / "my-llama"))
    get_settings.cache_clear()
    assert default_adapter_path() is None  # a user's own base: the shipped adapter does not fit it
    monkeypatch.setenv("ANNOTATOR_DEFAULT_ADAPTER", str(adapter))
    get_settings.cache_clear()
    assert default_adapter_path() is None
