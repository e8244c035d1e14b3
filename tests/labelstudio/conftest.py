"""A real Label Studio server shared by the sync tests.

The server starts once per session (~40 s the first time on a fresh data dir) from the venv that
scripts/labelstudio-venv.sh builds; the tests skip, saying why, only when that venv cannot be built.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from annotator.settings import get_settings
from tests.support.labelstudio_server import LabelStudioServer, LabelStudioVenvError, ensure_venv

WEBHOOK_SECRET = secrets.token_hex(16)


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """One Label Studio 1.23.2 server; SSRF protection off so it may call our loopback webhook."""
    try:
        venv = ensure_venv()
    except LabelStudioVenvError as exc:
        pytest.skip(f"cannot build the Label Studio venv (scripts/labelstudio-venv.sh): {exc}")
    server = LabelStudioServer(venv, data_dir=tmp_path_factory.mktemp("labelstudio"),
                               extra_env={"SSRF_PROTECTION_ENABLED": "false"})
    with server:
        yield server


@pytest.fixture(scope="session")
def annotator_user(labelstudio: LabelStudioServer) -> dict:
    """A second (non-admin) Label Studio user with its own token (~10 s to create)."""
    return labelstudio.create_user("ann@example.com", first_name="Ann")


@pytest.fixture(scope="session")
def third_user(labelstudio: LabelStudioServer) -> dict:
    """A third (non-admin) Label Studio user, for distribution among several annotators."""
    return labelstudio.create_user("bea@example.com", first_name="Bea")


@pytest.fixture
def ls_settings(labelstudio: LabelStudioServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ANNOTATOR_LABELSTUDIO_* at the test server, with quick retries for the restart test."""
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_URL", labelstudio.url)
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_TOKEN", labelstudio.token)
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_MAX_RETRIES", "20")
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_BACKOFF", "0.25")
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_BACKOFF_MAX", "2")
    get_settings.cache_clear()
