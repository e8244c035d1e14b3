"""Base model resolution and the one-time GGUF conversion."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from models.base import (
    DEFAULT_BASE,
    BaseModelError,
    find_packaged_gguf,
    publish_dir,
    resolve_base,
    write_marker,
)


def test_packaged_gguf_is_found_without_importing_the_package() -> None:
    gguf = find_packaged_gguf()
    assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000


def test_default_base_is_a_converted_safetensors_folder(base) -> None:
    assert base.model_id == DEFAULT_BASE and len(base.sha256) == 64
    files = {p.name for p in base.path.iterdir()}
    assert "model.safetensors" in files and "config.json" in files and "tokenizer.json" in files
    assert not any(name.endswith(".gguf") or name.endswith(".bin") for name in files)
    config = json.loads((base.path / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float32"


def test_resolving_again_reuses_the_cache_quickly(base, cache_dir: Path) -> None:
    started = time.time()
    again = resolve_base(None, cache_dir)
    assert again == base
    assert time.time() - started < 2.0


def test_a_local_hf_folder_is_a_base(base) -> None:
    as_folder = resolve_base(base.path, Path("/nonexistent-cache-not-used"))
    assert as_folder.path == base.path and len(as_folder.sha256) == 64


def test_unknown_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError):
        resolve_base(tmp_path / "missing", tmp_path)


def test_publish_dir_is_safe_when_builders_race(tmp_path: Path) -> None:
    target = tmp_path / "bases" / "model-abc"
    calls = []
    gate = threading.Barrier(4)

    def build(tmp: Path) -> None:
        calls.append(tmp)
        gate.wait()  # every builder is mid-build before anyone renames
        (tmp / "weights").write_text(str(tmp))
        write_marker(tmp, {"by": str(tmp)})

    threads = [threading.Thread(target=publish_dir, args=(target, build)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 4
    assert (target / "weights").read_text() in {str(c) for c in calls}
    assert sorted(p.name for p in target.parent.iterdir()) == ["model-abc"]  # temp dirs cleaned up
    publish_dir(target, lambda tmp: pytest.fail("a complete folder must not be rebuilt"))


def test_publish_dir_never_publishes_a_failed_build(tmp_path: Path) -> None:
    target = tmp_path / "model-x"

    def build(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_dir(target, build)
    assert not target.exists() and list(tmp_path.iterdir()) == []
