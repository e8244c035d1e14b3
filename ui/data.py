"""What every page shares: the database engine, the chosen project, and a session per render."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from annotator import repo
from annotator.agree.prelabel_value import PrelabelValue, prelabel_value
from annotator.correct import dashboard
from annotator.db import open_database, session_scope

PROJECT_KEY = "project"


def engine() -> Engine:
    """The configured database (ANNOTATOR_DATABASE_URL), schema at head; engines are cached by annotator.db."""
    return open_database()


@contextmanager
def session() -> Iterator[Session]:
    """A session whose transaction commits when the block succeeds."""
    with session_scope(engine()) as db:
        yield db


def pick_project() -> str | None:
    """A project picker in the sidebar; the choice is kept in session state. None when there is no project."""
    with session() as db:
        names = [p.name for p in repo.list_projects(db)]
    if not names:
        return None
    current = st.session_state.get(PROJECT_KEY)
    index = names.index(current) if current in names else 0
    choice = st.sidebar.selectbox("Project", names, index=index, key="project_picker")
    st.session_state[PROJECT_KEY] = choice
    return choice


def current_project() -> str:
    """The project picked in the sidebar (pages run only after app.py picked one)."""
    return st.session_state[PROJECT_KEY]


@st.cache_data(ttl=60, show_spinner="Counting labels…")
def label_distribution(database_url: str, project: str) -> list[dict[str, Any]]:
    """The project's per-label distribution, recomputed at most once a minute (it reads every prediction)."""
    with session_scope(open_database(database_url)) as db:
        return dashboard.label_distribution(db, project)


@st.cache_data(ttl=60, show_spinner="Reading what annotators did with the pre-labels…")
def prelabel_worth(database_url: str, project: str) -> PrelabelValue:
    """What the pre-labels are worth (:func:`prelabel_value`), recomputed at most once a minute (it reads every
    annotation made on a pre-label)."""
    with session_scope(open_database(database_url)) as db:
        return prelabel_value(db, project)
