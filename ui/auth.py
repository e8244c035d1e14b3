"""Login for the dashboard: accounts from `annotator user add`, checked by annotator.correct.users."""

from __future__ import annotations

from typing import TypedDict

import streamlit as st

from annotator.correct.users import LoginLocked, authenticate
from ui.data import session

USER_KEY = "user"


class LoggedIn(TypedDict):
    name: str
    role: str


def current_user() -> LoggedIn | None:
    """The logged-in user of this browser session, if any."""
    return st.session_state.get(USER_KEY)


def is_admin() -> bool:
    """Whether the logged-in user may retrain, promote and roll back."""
    user = current_user()
    return user is not None and user["role"] == "admin"


def can_adjudicate() -> bool:
    """Whether the logged-in user may settle disagreements (reviewers and admins)."""
    user = current_user()
    return user is not None and user["role"] in ("reviewer", "admin")


def require_login() -> LoggedIn:
    """Return the logged-in user, or show the login form and stop this run."""
    user = current_user()
    if user is not None:
        return user
    st.title("emo-annotator")
    with st.form("login"):
        name = st.text_input("Name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        st.session_state.pop("login_password", None)  # keep no password in session state
        try:
            with session() as db:
                found = authenticate(db, name, password, client=_client())
                if found is not None:
                    st.session_state[USER_KEY] = LoggedIn(name=found.name, role=found.role)
        except LoginLocked as exc:
            st.error(f"Log-in refused: {exc}.")
            st.stop()
        if st.session_state.get(USER_KEY):
            st.rerun()
        st.error("Wrong name or password (or the account is disabled).")
    st.caption("No account? An admin creates one with `annotator user add NAME --role annotator`.")
    st.stop()


def _client() -> str | None:
    """The browser's address as the server saw it (behind a proxy, the first X-Forwarded-For hop)."""
    headers = st.context.headers
    forwarded = headers.get("X-Forwarded-For") if headers is not None else None
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return getattr(st.context, "ip_address", None)


def logout_button() -> None:
    """A sidebar line with the user's name and a log-out button."""
    user = current_user()
    if user is None:
        return
    st.sidebar.caption(f"Logged in as **{user['name']}** ({user['role']})")
    if st.sidebar.button("Log out", key="logout"):
        for key in list(st.session_state.keys()):
            del st.session_state[key]
        st.rerun()
