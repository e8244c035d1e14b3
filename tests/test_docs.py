"""The README's architecture section names every module of the product, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Architecture"):]
    return section[section.index("```text") + len("```text"): section.index("```", section.index("```text") + 7)]


def test_the_architecture_section_names_every_module_file_for_file() -> None:
    block = _block()
    named = set(re.findall(r"[a-z0-9_]+\.py", block))
    on_disk = {p.name for pkg in ("annotator", "models", "worker", "ui") for p in (REPO / pkg).rglob("*.py")
               if "__pycache__" not in p.parts and p.name != "__init__.py"}
    assert sorted(on_disk - named) == [], "modules the README's architecture section does not name"
    assert sorted(named - on_disk) == [], "the README names modules that do not exist"
    packages = {p.parent.name for pkg in ("annotator", "models") for p in (REPO / pkg).rglob("__init__.py")}
    missing = sorted(name for name in packages if f"{name}/" not in block)
    assert missing == [], "packages the README's architecture section does not name"
