"""`annotator train` with a tiny budget writes and registers an adapter; `annotator evaluate --json` reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sqlalchemy import select
from typer.testing import CliRunner

from annotator.cli.main import app
from annotator.db import open_database, session_scope
from annotator.label.adapters import register_adapter
from annotator.projects.service import create_project
from annotator.settings import get_settings
from annotator.tables import Adapter, Project
from annotator.taxonomy import get_taxonomy
from models.adapters import ADAPTER_META

torch.set_num_threads(1)  # the CI box has 2 shared cores (see tests/models/conftest.py)

pytestmark = pytest.mark.slow
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data_dir) -> dict:
    """One tiny real training run through the CLI, registered and activated in its own SQLite database."""
    tmp = tmp_path_factory.mktemp("train")
    url = f"sqlite:///{tmp}/train.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANNOTATOR_DATABASE_URL", url)
        get_settings.cache_clear()
        runner = CliRunner()
        made = runner.invoke(app, ["project", "create", "p", "--taxonomy", "goemotions"])
        assert made.exit_code == 0, made.output
        result = runner.invoke(app, [
            "train", "--data", f"{shared_data_dir / 'goemotions'}:goemotions:8",
            "--data", f"{shared_data_dir / 'gne'}:gne:8", "--taxonomy", "goemotions", "--out", str(tmp / "adapters"),
            "--max-examples", "16", "--max-steps", "2", "--batch-size", "4", "--eval-fraction", "0.25",
            "--device", "cpu", "--register", "--project", "p", "--activate", "-q",
        ])
        assert result.exit_code == 0, result.output
        evaluated = runner.invoke(app, [
            "evaluate", "--adapter", next((tmp / "adapters").iterdir()).name, "--data", str(shared_data_dir / "gne"),
            "--format", "gne", "--limit", "3", "--device", "cpu", "--json",
        ])
    get_settings.cache_clear()
    return {"url": url, "dir": tmp / "adapters", "evaluate": evaluated}


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present: real-data tests need the shared datasets")
    return SHARED_DATA


def test_train_writes_a_versioned_safetensors_adapter(trained):
    (folder,) = list(trained["dir"].iterdir())
    names = {p.name for p in folder.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", ADAPTER_META} <= names
    assert not any(name.endswith((".bin", ".pt", ".gguf")) for name in names)
    meta = json.loads((folder / ADAPTER_META).read_text())
    assert meta["version"] == folder.name and meta["data"]["n_examples"] == 16 and meta["steps"] == 2
    assert meta["labels"] == list(get_taxonomy("goemotions").labels)


def test_train_registers_and_activates(trained):
    engine = open_database(trained["url"])
    with session_scope(engine) as db:
        (adapter,) = db.scalars(select(Adapter)).all()
        project = db.scalar(select(Project).where(Project.name == "p"))
        assert project.active_adapter_id == adapter.id and adapter.status == "active"
        assert adapter.base_model and len(adapter.base_model_hash) == 64
        assert Path(adapter.path).is_dir() and "train_loss_last" in adapter.metrics


def test_evaluate_json_by_registered_version(trained):
    result = trained["evaluate"]
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["n_examples"] == 3 and out["n_cause"] == 3 and out["format"] == "gne"
    assert 0.0 <= out["cause_token_f1"] <= 1.0 and 0.0 <= out["cause_exact"] <= 1.0
    assert "emotion_macro_f1" not in out  # GNE's own labels are not mapped onto GoEmotions


def test_register_adapter_on_every_backend(engine, trained):
    (folder,) = list(trained["dir"].iterdir())
    with session_scope(engine) as db:
        create_project(db, "q", get_taxonomy("goemotions"))
        first = register_adapter(db, folder, "q")
        assert first.status == "candidate"
        again = register_adapter(db, folder, "q", activate=True)
        assert again.id == first.id and again.status == "active"
    with session_scope(engine) as db:
        assert db.scalar(select(Project).where(Project.name == "q")).active_adapter_id == first.id


def test_train_refuses_unknown_format(runner, tmp_path):
    data = tmp_path / "x.txt"
    data.write_text("hello\n")
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "cannot tell the format" in " ".join(result.output.split())


def test_time_budget_stops_after_at_least_one_step(tmp_path):
    from models.tasks.base import Example
    from models.training.config import DataConfig, ModelConfig, SFTConfig, TrainConfig
    from models.training.sft import fit

    examples = [Example("I love it", frozenset({"joy"})), Example("I hate it", frozenset({"anger"}))] * 2
    cfg = SFTConfig(
        data=DataConfig(train_file=tmp_path / "unused.jsonl", labels=("joy", "anger"), eval_fraction=0.0),
        train=TrainConfig(output_dir=tmp_path, max_steps=50, max_seconds=0.001, batch_size=2, progress=False),
        model=ModelConfig(lora_r=4, lora_alpha=8, cache_dir=get_settings().cache_dir),
    )
    meta = fit(cfg, examples).meta
    assert meta["steps"] == 1 and meta["planned_steps"] == 50
