"""Connection from settings, retries against a port where nothing listens, token handling (no server)."""

from __future__ import annotations

import time

import pytest

from annotator.correct.labelstudio.client import LabelStudioError, LabelStudioUnavailable, call, connect
from annotator.settings import get_settings
from tests.support.labelstudio_server import free_port

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def _env(monkeypatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"ANNOTATOR_LABELSTUDIO_{key.upper()}", value)
    get_settings.cache_clear()


def test_no_token_is_a_user_error(monkeypatch):
    _env(monkeypatch, token="")
    with pytest.raises(LabelStudioError, match="ANNOTATOR_LABELSTUDIO_TOKEN"):
        connect()


def test_expired_personal_access_token_is_refused_without_echoing_it(monkeypatch):
    import jwt

    expired = jwt.encode({"token_type": "refresh", "exp": int(time.time()) - 60}, "k" * 32, algorithm="HS256")
    _env(monkeypatch, token=expired)
    with pytest.raises(LabelStudioError) as err:
        connect()
    assert "expired" in str(err.value) and expired not in str(err.value)


def test_server_down_retries_with_backoff_then_gives_up(monkeypatch):
    _env(monkeypatch, url=f"http://127.0.0.1:{free_port()}", token=TOKEN, max_retries="3", backoff="0.05",
         backoff_max="0.1")
    conn = connect()
    began = time.monotonic()
    with pytest.raises(LabelStudioUnavailable, match="after 4 attempts") as err:
        call(conn, conn.client.users.whoami)
    assert time.monotonic() - began >= 0.05 + 0.1 + 0.1 - 0.05  # three jittered waits happened
    assert TOKEN not in str(err.value)
    assert TOKEN not in repr(get_settings())  # SecretStr keeps it out of reprs and logs
