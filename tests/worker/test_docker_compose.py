"""docker-compose.yml cannot run here (no Docker engine): check its shape, and that every command of
our image is a real `annotator` command whose options parse."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer.main
import yaml

from annotator.cli.main import app
from annotator.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
EXPECTED = {"postgres", "redis", "migrate", "worker-cpu", "worker-gpu", "beat", "ui", "labelstudio"}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _ours(service: dict) -> bool:
    return service.get("image") == "emo-annotator:latest"


def test_every_part_of_the_platform_is_a_service(services: dict) -> None:
    assert EXPECTED <= set(services)
    assert services["labelstudio"]["image"] == "heartexlabs/label-studio:1.23.2"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_each_command_of_our_image_is_a_real_cli_command(services: dict) -> None:
    root = typer.main.get_command(app)
    ours = {name: s for name, s in services.items() if _ours(s)}
    assert {"migrate", "worker-cpu", "worker-gpu", "beat", "ui"} <= set(ours)
    for name, service in ours.items():
        argv = service["command"]
        assert argv[0] == "annotator", f"{name}: {argv}"
        command, args, path = root, list(argv[1:]), ["annotator"]
        while isinstance(command, click.Group):
            sub = args.pop(0)
            assert sub in command.commands, f"{name}: {' '.join(path)} has no command {sub!r}"
            command, path = command.commands[sub], [*path, sub]
        command.make_context(" ".join(path), args)  # raises on an unknown option or a bad value


def test_environment_names_real_settings(services: dict) -> None:
    known = {f"ANNOTATOR_{field.upper()}" for field in Settings.model_fields}
    for name, service in services.items():
        if _ours(service):
            unknown = {k for k in service.get("environment", {}) if k.startswith("ANNOTATOR_")} - known
            assert not unknown, f"{name} sets unknown settings {unknown}"


def test_gpu_worker_reserves_a_gpu_and_takes_only_the_gpu_queue(services: dict) -> None:
    gpu = services["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    argv = gpu["command"]
    assert argv[argv.index("--queue") + 1] == "gpu" and argv[argv.index("--concurrency") + 1] == "1"
    assert services["migrate"]["command"] == ["annotator", "db", "upgrade"]
