"""Prompt templates as data. ``<name>.v<N>.jinja`` files are frozen once published: add a new version."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=None)
def read_template(name: str) -> str:
    """Text of ``models/tasks/templates/<name>.jinja``."""
    return resources.files(__package__).joinpath(f"{name}.jinja").read_text(encoding="utf-8")


def render(name: str, **values: object) -> str:
    """Render a template by name, stripped of surrounding whitespace."""
    return _ENV.from_string(read_template(name)).render(**values).strip()
