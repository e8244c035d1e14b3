"""Accounts: scrypt hashes, authentication, and the `annotator user` commands."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.cli.main import app
from annotator.correct.users import (
    UserExists,
    add_user,
    authenticate,
    hash_password,
    list_users,
    set_password,
    verify_password,
)
from annotator.db import session_scope
from annotator.tables import User


def test_hash_format_is_salted_scrypt():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1") and len(bytes.fromhex(salt)) == 16
    assert first != second  # random salt
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$2$3$00$00", "scrypt$x$8$1$00$00", "scrypt$16384$8$1$zz$00"])
def test_malformed_hash_never_matches(stored):
    assert not verify_password("anything", stored)


def test_add_authenticate_and_change_password(engine):
    with session_scope(engine) as db:
        add_user(db, "alice", "first-password", "annotator")
    with session_scope(engine) as db:
        stored = db.scalar(select(User.password_hash).where(User.name == "alice"))
        assert "first-password" not in stored
        assert authenticate(db, "alice", "first-password").role == "annotator"
        assert authenticate(db, "alice", "wrong-password") is None
        assert authenticate(db, "bob", "first-password") is None
        set_password(db, "alice", "second-password")
    with session_scope(engine) as db:
        assert authenticate(db, "alice", "first-password") is None
        assert authenticate(db, "alice", "second-password") is not None
        db.scalar(select(User).where(User.name == "alice")).active = False
    with session_scope(engine) as db:
        assert authenticate(db, "alice", "second-password") is None  # disabled accounts cannot log in


@pytest.mark.parametrize(("name", "password", "role", "error"), [
    ("", "long-enough", "annotator", ValueError),
    ("carol", "short", "annotator", ValueError),
    ("carol", "long-enough", "owner", ValueError),
    ("alice", "long-enough", "admin", UserExists),
])
def test_add_user_refuses(engine, name, password, role, error):
    with session_scope(engine) as db:
        add_user(db, "alice", "first-password")
    with pytest.raises(error), session_scope(engine) as db:
        add_user(db, name, password, role)


def test_cli_user_add_from_stdin_and_prompt(runner, engine):
    result = runner.invoke(app, ["user", "add", "root", "--role", "admin", "--password-stdin"],
                           input="stdin-password\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["user", "add", "alice"], input="typed-password\ntyped-password\n")
    assert result.exit_code == 0, result.output
    assert "typed-password" not in result.output  # the prompt hides it
    with session_scope(engine) as db:
        assert [(u.name, u.role) for u in list_users(db)] == [("alice", "annotator"), ("root", "admin")]
        assert authenticate(db, "root", "stdin-password") and authenticate(db, "alice", "typed-password")
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0 and "root" in listed.output and "admin" in listed.output


def test_cli_user_errors_exit_2(runner, engine):
    assert runner.invoke(app, ["user", "add", "x", "--password-stdin"], input="short\n").exit_code == 2
    assert runner.invoke(app, ["user", "add", "x", "--role", "boss", "--password-stdin"],
                         input="long-enough\n").exit_code == 2
    result = runner.invoke(app, ["user", "passwd", "nobody", "--password-stdin"], input="long-enough\n")
    assert result.exit_code == 2 and "annotator user add" in result.output


def test_repeated_failures_lock_the_account_and_the_client_even_for_the_right_password(engine, caplog):
    from datetime import timedelta

    from annotator.correct.users import LOCK_AFTER, LoginLocked, authenticate
    from annotator.tables import LoginFailure

    with session_scope(engine) as db:
        add_user(db, "ann", "correct horse", "annotator")
    for _ in range(LOCK_AFTER):
        with session_scope(engine) as db:
            assert authenticate(db, "ann", "wrong password", client="10.0.0.9") is None
    with session_scope(engine) as db, pytest.raises(LoginLocked, match="try again in 30 s"):
        authenticate(db, "ann", "correct horse", client="10.0.0.9")
    assert "auth.locked key=account:ann" in caplog.text
    with session_scope(engine) as db, pytest.raises(LoginLocked):  # the same client, another account
        authenticate(db, "someone", "whatever", client="10.0.0.9")
    with session_scope(engine) as db:  # the lock expires; then the right password works and clears it
        for row in db.query(LoginFailure):
            row.locked_until = row.locked_until - timedelta(minutes=20)
    with session_scope(engine) as db:
        assert authenticate(db, "ann", "correct horse", client="10.0.0.9") is not None
    with session_scope(engine) as db:
        assert db.query(LoginFailure).count() == 0
