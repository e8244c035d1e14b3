"""Dashboard accounts: add, list, change passwords, authenticate.

Passwords are stored as ``scrypt$n$r$p$salt$hash`` (stdlib ``hashlib.scrypt``, a random 16-byte salt,
hex fields). The cost parameters travel with each hash, so raising them later still verifies old
hashes; comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.repo import NotFound
from annotator.tables import LoginFailure, User, utcnow

log = logging.getLogger("annotator.auth")

ROLES = ("annotator", "reviewer", "admin")  # a reviewer also adjudicates; an admin does everything
MIN_PASSWORD_CHARS = 8

# scrypt cost: n=2**14, r=8 needs 16 MiB and ~50 ms here, the interactive-login figure from the scrypt paper.
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


class UserExists(ValueError):
    """A user with that name already exists."""


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the ``scrypt$n$r$p$salt$hash`` format."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed stored hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=_DKLEN)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")


def get_user_or_raise(db: Session, name: str) -> User:
    """The user called ``name``, or NotFound naming the command that creates it."""
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}. Create it with `annotator user add {name} --role annotator`.")
    return user


def add_user(db: Session, name: str, password: str, role: str = "annotator") -> User:
    """Create an active account; refuses an empty name, a short password, an unknown role or a taken name."""
    name = name.strip()
    if not name:
        raise ValueError("a user needs a non-empty name")
    _check_role(role)
    _check_password(password)
    if db.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserExists(f"user {name!r} already exists")
    user = User(name=name, password_hash=hash_password(password), role=role, active=True)
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, name: str, password: str) -> User:
    """Replace a user's password."""
    _check_password(password)
    user = get_user_or_raise(db, name)
    user.password_hash = hash_password(password)
    return user


def list_users(db: Session) -> Sequence[User]:
    """All accounts, by name."""
    return db.scalars(select(User).order_by(User.name)).all()


class LoginLocked(ValueError):
    """Too many failed log-ins for an account or a client: refused, even with the right password."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many failed log-ins: try again in {max(1, round(seconds))} s")
        self.seconds = seconds


def authenticate(db: Session, name: str, password: str, client: str | None = None) -> User | None:
    """The active user with this name and password, else None (unknown names cost as much as wrong passwords).

    After ``LOCK_AFTER`` failures within ``FAILURE_WINDOW`` an account, and a client (its address), is locked
    for a time that doubles with each further failure (up to ``MAX_LOCK``): :class:`LoginLocked` is raised
    without checking the password, and the lock is logged. A successful log-in clears both counters.
    """
    keys = [f"account:{name.strip().lower()}"] + ([f"client:{client}"] if client else [])
    now = utcnow()
    rows = {row.key: row for row in db.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys)))}
    waits = [(_aware(row.locked_until) - now).total_seconds() for row in rows.values() if row.locked_until]
    if waits and max(waits) > 0:
        raise LoginLocked(max(waits))
    user = db.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        verify_password(password, _DUMMY_HASH)  # same work as a real check: no user enumeration by timing
    elif user.active and verify_password(password, user.password_hash):
        for row in rows.values():
            db.delete(row)
        return user
    for key in keys:
        _count_failure(db, rows.get(key), key, now)
    return None


LOCK_AFTER = 5  # failures within the window before the first lock
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)


def _count_failure(db: Session, row: LoginFailure | None, key: str, now: datetime) -> None:
    if row is None or now - _aware(row.last_at) > FAILURE_WINDOW:
        if row is not None:
            db.delete(row)
            db.flush()
        row = LoginFailure(key=key, failures=0, first_at=now, last_at=now)
        db.add(row)
    row.failures += 1
    row.last_at = now
    if row.failures >= LOCK_AFTER:
        lock = min(MAX_LOCK, FIRST_LOCK * 2 ** (row.failures - LOCK_AFTER))
        row.locked_until = now + lock
        log.warning("auth.locked key=%s failures=%d seconds=%d", key, row.failures, lock.total_seconds())
    db.flush()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)  # SQLite: naive UTC


_DUMMY_HASH = f"scrypt${_N}${_R}${_P}${'00' * 16}${'00' * _DKLEN}"
