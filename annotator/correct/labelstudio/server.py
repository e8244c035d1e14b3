"""A local Label Studio server: ``annotator labelstudio serve``, and the integration tests' fixture.

Label Studio runs from its own virtual environment (:mod:`annotator.correct.labelstudio.venv`), a
separate process that our code talks to over HTTP with ``label-studio-sdk``. Standard library only.

Usage::

    venv = ensure_venv()                      # raises LabelStudioVenvError if it can't be built
    with LabelStudioServer(venv) as ls:       # fresh data dir, free loopback port
        client = ls.client()                  # label_studio_sdk.LabelStudio for the admin
        ...
        ls.restart()                          # same data dir (same DB, same token)

Facts this relies on (checked against label-studio 1.23.2, see docs/labelstudio-notes.md):

* ``label-studio start`` silently moves to port N+1 when N is busy, unless ``--debug`` is given;
  with ``--debug`` it exits with "Error: That port is already in use." instead. ``--debug`` does
  nothing else in 1.23.2 (it is only read by the port search), so we pass it and retry on
  another free port when that happens.
* The admin and its API token are created on the first start from ``LABEL_STUDIO_USERNAME``,
  ``LABEL_STUDIO_PASSWORD`` and ``LABEL_STUDIO_USER_TOKEN``. The token is stored in the database
  (DRF ``authtoken_token``), and ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true`` is persisted as the
  organization's JWT setting ``legacy_api_tokens_enabled``; ``SECRET_KEY`` is written to
  ``<data dir>/.env``. So a restart on the same data dir needs none of these variables.
* Label Studio reads bare variable names too (``get_env('USERNAME')`` looks at
  ``LABEL_STUDIO_USERNAME``, ``HEARTEX_USERNAME`` and ``USERNAME``), so the child gets a
  whitelisted environment, not ours.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from collections.abc import Callable
from typing import Any

from annotator.correct.labelstudio import venv as venvs
from annotator.settings import get_settings

LABEL_STUDIO_VERSION = venvs.LABEL_STUDIO_VERSION

# Variables passed through to the Label Studio process; everything else is dropped.
_ENV_WHITELIST = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
_PORT_BUSY = "That port is already in use"
# urllib opener that ignores *_proxy variables: the server is on loopback.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LabelStudioServerError(RuntimeError):
    """Base class for errors starting or driving the local server."""


class LabelStudioVenvError(LabelStudioServerError):
    """The Label Studio venv could not be built (tests skip, the CLI says why)."""


class LabelStudioStartError(LabelStudioServerError):
    """The server did not come up; the message carries the tail of its log."""


def ensure_venv(log: Callable[[str], None] | None = None) -> Path:
    """Build (or reuse) the Label Studio venv (``ANNOTATOR_LABELSTUDIO_VENV``); return its directory.

    Fast (a marker-file check) when it is already built; a first build takes a few minutes.
    """
    settings = get_settings()
    try:
        kwargs = {"log": log} if log is not None else {}
        return venvs.ensure_venv(settings.labelstudio_venv, settings.labelstudio_python, **kwargs)
    except (venvs.VenvError, OSError) as exc:
        raise LabelStudioVenvError(str(exc)) from None


def serve_locally(*, host: str = "127.0.0.1", port: int = 8080, local_webhooks: bool = True,
                  log: Callable[[str], None] | None = None) -> tuple[LabelStudioServer, dict[str, str]]:
    """Start the local server of ``annotator labelstudio serve`` (building its venv first if needed).

    Its data folder (``ANNOTATOR_LABELSTUDIO_DATA_DIR``) keeps the database and the admin's credentials
    (``admin.json``, mode 600, made with a random password and token on the first start), so every start
    serves the same projects with the same token. Returns the running server and the credentials.
    """
    settings = get_settings()
    data_dir = Path(settings.labelstudio_data_dir or settings.cache_dir / "labelstudio-data").expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    admin = _admin_credentials(data_dir / "admin.json")
    if log is not None and not venvs.is_complete(Path(settings.labelstudio_venv or venvs.default_venv_path())):
        log("building Label Studio's own environment (once; a few minutes)")
    venv = ensure_venv(log=log)
    server = LabelStudioServer(venv, data_dir=data_dir, host=host, port=port, username=admin["username"],
                               password=admin["password"], token=admin["token"],
                               extra_env={"SSRF_PROTECTION_ENABLED": "false"} if local_webhooks else None)
    if log is not None:
        log(f"starting Label Studio on http://{host}:{port} (about a minute the first time)")
    server.start()
    return server, admin


ADMIN_KEYS = ("username", "password", "token")


def _admin_credentials(path: Path) -> dict[str, str]:
    """The admin of the data folder: read from ``path``, or made (random password and token) when it is absent.

    A file that is there but unreadable is never replaced: the Label Studio database beside it knows only the
    token inside it, so a new one would lock the user out of their projects.
    """
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            stored = None
        if not (isinstance(stored, dict) and all(isinstance(stored.get(key), str) and stored[key]
                                                 for key in ADMIN_KEYS)):
            raise LabelStudioServerError(
                f"{path} is not the admin file this command writes (a JSON object with {', '.join(ADMIN_KEYS)}); "
                "restore it, or move it away to make a new admin (projects in that data folder keep the old one)")
        return {key: stored[key] for key in ADMIN_KEYS}
    admin = {"username": "admin@example.com", "password": secrets.token_urlsafe(12),
             "token": secrets.token_hex(20)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(admin, out)
    return admin


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server's own check catches the rare race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


class LabelStudioServer:
    """One ``label-studio start`` process on loopback with its own data dir.

    ``url`` / ``token`` / ``username`` / ``password`` are valid after :meth:`start`.
    The data dir is a fresh temp dir (removed by :meth:`cleanup` / the context manager)
    unless ``data_dir`` is given, in which case it is kept.
    """

    def __init__(
        self,
        venv: str | os.PathLike[str],
        *,
        data_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        username: str = "admin@example.com",
        password: str | None = None,
        token: str | None = None,
        start_timeout: float = 240.0,
        stop_timeout: float = 15.0,
        log_level: str = "INFO",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.venv = Path(venv)
        self.executable = self.venv / "bin" / "label-studio"
        if not self.executable.is_file():
            raise LabelStudioVenvError(f"{self.executable} not found (build it with ensure_venv())")
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="labelstudio-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "label-studio.log"
        self.host = host
        self._fixed_port = port
        self.port: int | None = None
        self.username = username
        self.password = password or secrets.token_urlsafe(16)
        # DRF authtoken keys are at most 40 characters.
        self.token = token or secrets.token_hex(20)
        if len(self.token) > 40 or len(self.token) <= 5:
            raise ValueError("token must be 6..40 characters (Label Studio ignores shorter ones)")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_level = log_level
        self.extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.last_start_seconds: float | None = None

    # ------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        if self.port is None:
            raise LabelStudioServerError("server has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "label_studio.sqlite3"

    @property
    def _initialised_marker(self) -> Path:
        return self.data_dir / ".emo-annotator-admin-ok"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "LabelStudioServer":
        if self.running:
            return self
        # Until a start has verified the admin token, pass the admin/token variables again
        # (harmless: LS prints "User ... already exists" and keeps the stored token).
        first_start = not self._initialised_marker.exists()
        began = time.monotonic()
        deadline = began + self.start_timeout
        attempts = 0
        while True:
            attempts += 1
            if self._fixed_port is not None and attempts == 1:
                port = self._fixed_port
            elif self.port is not None and attempts == 1:
                port = self.port  # restart: keep the URL stable when we can
            else:
                port = free_port(self.host)
            try:
                self._spawn(port, first_start)
                self._wait_ready(deadline)
                break
            except _PortBusy:
                self._kill()
                if self._fixed_port is not None:
                    raise LabelStudioStartError(f"port {port} on {self.host} is in use: choose another (--port)") \
                        from None
                if attempts >= 5 or time.monotonic() >= deadline:
                    raise LabelStudioStartError(
                        f"port {port} is in use (attempt {attempts})\n{self.log_tail()}"
                    ) from None
            except BaseException:
                self._kill()
                raise
        self.last_start_seconds = time.monotonic() - began
        self._check_token()
        self._initialised_marker.touch()
        atexit.register(self._kill)
        return self

    def stop(self) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``stop_timeout``."""
        self._kill()
        atexit.unregister(self._kill)

    def restart(self) -> "LabelStudioServer":
        """Stop and start again on the same data dir (and the same port when it is still free)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop, and remove the data dir if this object created it."""
        self.stop()
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "LabelStudioServer":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ helpers for tests

    def client(self, token: str | None = None, **kwargs: Any):
        """A ``label_studio_sdk.LabelStudio`` client (admin token unless ``token`` is given)."""
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=token or self.token, **kwargs)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """Plain JSON request with ``Authorization: Token ...`` (stdlib only); returns parsed JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Token {token or self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with _HTTP.open(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def create_user(self, email: str, *, first_name: str = "", last_name: str = "") -> dict[str, Any]:
        """Create a (non-admin) member of the organization and return ``{"id", "email", "token"}``.

        Takes ~10 s (most of it the CLI's Django start-up).
        The admin creates the user over the API (``POST /api/users/``); a token is made for
        every new user by a post_save signal, but the API only ever returns the *caller's*
        token, so we read it with ``label-studio user --username EMAIL`` in the LS venv.
        """
        user = self.request(
            "POST",
            "/api/users/",
            {"email": email, "username": email.split("@")[0], "first_name": first_name, "last_name": last_name},
        )
        # A user made over the API has no active organization until it first uses the web UI
        # (a middleware sets it for session logins only). Without one, annotations it creates
        # over the API fire no ANNOTATION_CREATED/UPDATED webhooks, so set it now.
        org = self.request("GET", "/api/current-user/whoami")["active_organization"]
        self.request("PATCH", f"/api/users/{user['id']}/", {"active_organization": org})
        return {"id": user["id"], "email": user["email"], "token": self.user_token(email)}

    def user_token(self, email: str, timeout: float = 120.0) -> str:
        """The legacy API token of user ``email``, read through the ``label-studio user`` CLI."""
        proc = subprocess.run(
            [str(self.executable), "user", "--username", email],
            env=self._env(first_start=False),
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        match = re.search(r"'token': '([^']+)'", proc.stdout)
        if proc.returncode != 0 or match is None:
            raise LabelStudioServerError(
                f"label-studio user --username {email} failed (exit {proc.returncode}):\n"
                f"{_tail_text(proc.stdout + proc.stderr, 20)}"
            )
        return match.group(1)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last {lines} lines of {self.log_path} ---\n{_tail_text(text, lines)}"

    # ------------------------------------------------------------------ internals

    def _env(self, first_start: bool) -> dict[str, str]:
        env = {k: os.environ[k] for k in _ENV_WHITELIST if k in os.environ}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env.update(
            {
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "DJANGO_DB": "sqlite",
                "LATEST_VERSION_CHECK": "false",
                "COLLECT_ANALYTICS": "false",
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "LOG_LEVEL": self.log_level,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if first_start:
            env.update(
                {
                    "LABEL_STUDIO_USERNAME": self.username,
                    "LABEL_STUDIO_PASSWORD": self.password,
                    "LABEL_STUDIO_USER_TOKEN": self.token,
                    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                }
            )
        env.update(self.extra_env)
        return env

    def _spawn(self, port: int, first_start: bool) -> None:
        self.port = port
        cmd = [
            str(self.executable),
            "start",
            "--no-browser",
            "--internal-host",
            self.host,
            "--port",
            str(port),
            "--debug",  # only effect in 1.23.2: fail on a busy port instead of moving to port+1
        ]
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"\n==> {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                env=self._env(first_start),
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in _kill
            )

    def _log_since_spawn(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        banner = f"Starting development server at http://{self.host}:{self.port}/"
        while True:
            rc = self._proc.poll()
            if rc is not None:
                if _PORT_BUSY in self._log_since_spawn():
                    raise _PortBusy()
                raise LabelStudioStartError(f"label-studio exited with {rc} during start\n{self.log_tail()}")
            # The banner proves that the process answering on the port is ours.
            if banner in self._log_since_spawn() and self._healthy():
                return
            if time.monotonic() >= deadline:
                raise LabelStudioStartError(
                    f"label-studio did not answer {self.url}/health within {self.start_timeout:.0f} s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.25)

    def _healthy(self) -> bool:
        try:
            with _HTTP.open(f"{self.url}/health", timeout=2) as resp:
                return resp.status == 200 and b"UP" in resp.read()
        except (OSError, urllib.error.URLError):
            return False

    def _check_token(self) -> None:
        try:
            me = self.request("GET", "/api/current-user/whoami")
        except urllib.error.HTTPError as exc:
            self.stop()
            raise LabelStudioStartError(
                f"server is up but the admin token is rejected ({exc.code}); "
                f"was {self.data_dir} initialised with another token?"
            ) from exc
        if me.get("email") != self.username:
            self.stop()
            raise LabelStudioStartError(f"token belongs to {me.get('email')!r}, expected {self.username!r}")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (the leader may have gone first).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class _PortBusy(Exception):
    pass
