"""The connection to Label Studio: a ``label_studio_sdk`` client built from settings, and retries.

The SDK's own retry loop is switched off (``max_retries=0``): it retries POSTs too, and a bulk import
is not idempotent (a retried import whose first attempt did commit creates every task twice). Calls
that are safe to repeat go through :func:`call`, which retries network errors and 5xx/408/429 answers
with exponential backoff; imports are retried by :mod:`annotator.correct.labelstudio.push` after it has
reconciled what the server already has.

The token is a legacy API token or a personal access token (a JWT refresh token; the SDK exchanges it
for short-lived access tokens). It is held as a ``SecretStr`` and never appears in messages or logs.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson
import pydantic
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from annotator.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Status codes worth retrying: the server is overloaded, restarting, or asked us to slow down.
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class LabelStudioError(RuntimeError):
    """A Label Studio problem the user can act on; the message says what to do (one line, no headers)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status the server answered, where there was one


class LabelStudioUnavailable(LabelStudioError):
    """The server did not answer after every retry; ``reason`` is the last failure, described."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call that failed for a transient reason."""

    max_retries: int = 8
    backoff: float = 0.5
    backoff_max: float = 15.0

    def wait(self, attempt: int) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based): doubling, capped, with 20% jitter."""
        base = min(self.backoff * (2**attempt), self.backoff_max)
        return base * random.uniform(0.8, 1.2)


@dataclass
class Connection:
    """An SDK client plus the retry policy every sync step uses."""

    client: LabelStudio
    url: str
    retry: RetryPolicy


def ls_id(value: Any) -> int | None:
    """A Label Studio id: an integer that fits a database integer column (bool is not one)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) < value < 2**63
    return value if ok else None


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport with a deadline for the whole answer, not only for each read of it."""

    def __init__(self, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        ends = time.monotonic() + self.deadline
        response = super().handle_request(request)
        response.stream = _DeadlineStream(response.stream, ends, request, self.deadline)
        return response


class _DeadlineStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, ends: float, request: httpx.Request, deadline: float) -> None:
        self.inner, self.ends, self.request, self.deadline = inner, ends, request, deadline

    def __iter__(self) -> Any:
        for chunk in self.inner:
            if time.monotonic() > self.ends:
                raise httpx.ReadTimeout(f"the answer took longer than {self.deadline:.0f} s in all "
                                        "(ANNOTATOR_LABELSTUDIO_REQUEST_DEADLINE)", request=self.request)
            yield chunk

    def close(self) -> None:
        self.inner.close()


def connect(settings: Settings | None = None, *, url: str | None = None, token: str | None = None) -> Connection:
    """A connection to the configured server (``ANNOTATOR_LABELSTUDIO_URL`` / ``_TOKEN``), or to ``url``/``token``."""
    settings = settings or get_settings()
    url = (url or settings.labelstudio_url).rstrip("/")
    secret = token if token is not None else settings.labelstudio_token.get_secret_value()
    if not secret:
        raise LabelStudioError(
            "no Label Studio token: set ANNOTATOR_LABELSTUDIO_TOKEN to a legacy API token or a personal access "
            "token (Label Studio: Account & Settings)"
        )
    try:
        http = httpx.Client(timeout=settings.labelstudio_timeout, follow_redirects=True,
                            transport=DeadlineTransport(settings.labelstudio_request_deadline))
        client = LabelStudio(base_url=url, api_key=secret, timeout=settings.labelstudio_timeout, max_retries=0,
                             httpx_client=http)
    except ApiError as exc:  # an expired or malformed personal access token is refused here
        raise LabelStudioError(f"the Label Studio token is not usable: {describe(exc)}") from None
    policy = RetryPolicy(settings.labelstudio_max_retries, settings.labelstudio_backoff,
                         settings.labelstudio_backoff_max)
    return Connection(client=client, url=url, retry=policy)


def is_transient(exc: BaseException) -> bool:
    """True for errors that may go away on their own: network failures, timeouts, 5xx, 408, 429."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, ApiError) and exc.status_code in _RETRY_STATUS


def describe(exc: BaseException) -> str:
    """A short message for an SDK error (``str(ApiError)`` carries every response header, cookies included)."""
    if isinstance(exc, ApiError):
        body = exc.body.get("detail", exc.body) if isinstance(exc.body, dict) else exc.body
        return f"HTTP {exc.status_code}: {_excerpt(body)}"
    return f"{type(exc).__name__}: {_excerpt(exc)}"


def _excerpt(value: object, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


def is_bad_answer(exc: BaseException) -> bool:
    """True when the server answered, but not as Label Studio does: a 2xx/3xx that is not the JSON the SDK
    expects (an HTML login page, a proxy's page, a JSON value of the wrong shape)."""
    if isinstance(exc, ApiError):
        return exc.status_code is None or exc.status_code < 400
    if isinstance(exc, (TypeError, ValueError, pydantic.ValidationError)):
        # Only errors raised while the SDK (or pydantic, or json) parsed a response, not our own bugs.
        frames = traceback.extract_tb(exc.__traceback__)
        return bool(frames) and any(name in frames[-1].filename for name in _PARSER_FILES)
    return False


_PARSER_FILES = ("label_studio_sdk", "pydantic", "/json/", "orjson", "httpx")


def user_error(conn: Connection, exc: BaseException, doing: str) -> LabelStudioError:
    """The one-line error for a failed SDK call that no retry fixes; never the response headers."""
    if isinstance(exc, LabelStudioError):
        return exc
    if isinstance(exc, ApiError) and exc.status_code in (401, 403):
        return LabelStudioError(f"Label Studio at {conn.url} refused the token ({describe(exc)}); check "
                                "ANNOTATOR_LABELSTUDIO_TOKEN", status=exc.status_code)
    if is_bad_answer(exc):
        got = describe(exc) if isinstance(exc, ApiError) else "JSON of another shape"
        return LabelStudioError(f"{conn.url} did not answer {doing} as Label Studio does ({got}); check "
                                "that ANNOTATOR_LABELSTUDIO_URL is a Label Studio server (1.23)")
    if isinstance(exc, ApiError):
        return LabelStudioError(f"Label Studio at {conn.url} refused {doing} ({describe(exc)})",
                                status=exc.status_code)
    if isinstance(exc, httpx.HTTPError):
        return LabelStudioError(f"Label Studio at {conn.url} could not be reached for {doing} ({describe(exc)})")
    raise exc  # not a Label Studio answer: a bug of ours, keep its traceback


def call(conn: Connection, fn: Callable[..., T], *args: Any, retries: int | None = None, **kwargs: Any) -> T:
    """Run an idempotent SDK call, retrying transient failures with backoff (``retries`` caps the policy's).

    Raises :class:`LabelStudioUnavailable` when the retries are used up, and :class:`LabelStudioError`
    (see :func:`user_error`) for any other failure the server caused: a refused token, a 4xx, an answer
    that is not Label Studio's.
    """
    limit = conn.retry.max_retries if retries is None else min(retries, conn.retry.max_retries)
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise user_error(conn, exc, _doing(fn)) from None
            if attempt >= limit:
                raise LabelStudioUnavailable(
                    f"Label Studio at {conn.url} did not answer after {attempt + 1} attempts ({describe(exc)}); "
                    "run the command again when it is back: it resumes where it stopped", describe(exc)
                ) from None
            delay = conn.retry.wait(attempt)
            log.warning("labelstudio.retry", extra={"url": conn.url, "attempt": f"{attempt + 1}/{limit}",
                                                     "wait_s": round(delay, 1), "error": describe(exc)})
            time.sleep(delay)
            attempt += 1


def wait_after_failure(conn: Connection, exc: Exception, attempt: int, doing: str, then: str) -> None:
    """After request number ``attempt`` (from 0) that is not safe to repeat blindly has failed: raise the
    user error no retry fixes, or :class:`LabelStudioUnavailable` once the retries are spent (``then`` says
    what to do); else back off and wait until the server answers again. The caller then asks the server
    what the failed request left there before sending the rest again."""
    if not is_transient(exc):
        raise user_error(conn, exc, doing) from None
    if attempt >= conn.retry.max_retries:
        raise LabelStudioUnavailable(f"{doing} in Label Studio at {conn.url} failed {attempt + 1} times "
                                     f"({describe(exc)}); {then}", describe(exc)) from None
    delay = conn.retry.wait(attempt)
    log.warning("labelstudio.retry", extra={"url": conn.url, "doing": doing, "attempt": f"{attempt + 1}/"
                                             f"{conn.retry.max_retries}", "wait_s": round(delay, 1),
                                             "error": describe(exc)})
    time.sleep(delay)
    wait_until_up(conn)


def _doing(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", "")
    return "a request" if name in ("", "<lambda>") else f"`{name}`"


def wait_until_up(conn: Connection) -> None:
    """Block (with the retry policy's backoff) until the server answers an authenticated request."""
    call(conn, conn.client.users.whoami)


def check_server(conn: Connection) -> None:
    """Fail fast, in one line, when the configured server is not there, not Label Studio, or refuses the token.

    A command's first request gets two quick retries, not the full policy: a server that never answered
    this run is far more often a wrong URL or a server not started than one restarting; retries with the
    full backoff are for servers that go away mid-run.
    """
    try:
        user = call(conn, conn.client.users.whoami, retries=2)
    except LabelStudioUnavailable as exc:
        raise LabelStudioUnavailable(
            f"no Label Studio server answers at {conn.url} ({exc.reason}): start one "
            "(annotator labelstudio serve) or set ANNOTATOR_LABELSTUDIO_URL"
        ) from None
    if getattr(user, "id", None) is None:
        raise LabelStudioError(f"{conn.url} did not answer `whoami` as Label Studio does (no user id); check that "
                               "ANNOTATOR_LABELSTUDIO_URL is a Label Studio server (1.23)")


def import_tasks(conn: Connection, ls_pid: int, tasks: list[dict[str, Any]]) -> list[int]:
    """``POST /api/projects/{id}/import`` once (no retry), returning the new task ids in input order.

    Same endpoint, auth and timeout as ``client.projects.import_tasks``, but the body is serialised with
    orjson: the SDK's generic encoder walks every nested dict and costs more time per chunk than the
    rest of our client side together (0.76 s vs 0.10 s for 1,000 tasks, measured on the loaded dev box).
    """
    wrapper = conn.client._client_wrapper  # the SDK's HTTP client: base URL, token (incl. refresh), timeout
    response = wrapper.httpx_client.request(
        f"api/projects/{ls_pid}/import", method="POST", params={"return_task_ids": True},
        content=orjson.dumps(tasks), headers={"content-type": "application/json"},
        request_options={"max_retries": 0},
    )
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        error = ApiError(status_code=response.status_code, headers=dict(response.headers), body=body)
        if is_transient(error):
            raise error  # the caller reconciles and retries
        raise user_error(conn, error, "a task import")
    ids = body.get("task_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
        raise LabelStudioError(f"{conn.url} did not answer a task import as Label Studio does (HTTP "
                               f"{response.status_code}: {_excerpt(body)}); check ANNOTATOR_LABELSTUDIO_URL")
    return ids
