"""The package map holds: data flows one way (ingest -> label -> correct -> agree -> retrain), no import
circle, no upward import, ``models/`` stands alone, and ``annotator/`` keeps torch out of its import time.

Walks the source with ``ast`` (nothing is imported), so a violation is named with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Lower layers first; a module may import its own layer and the layers below it, never one above.
LAYERS = [
    ("annotator.settings", "annotator.hashing", "annotator.states", "annotator.taxonomy", "annotator.bloom"),
    ("annotator.tables",),
    ("annotator.db",),
    ("annotator.repo",),
    ("annotator.datasets",),
    ("annotator.jobs",),
    ("annotator.projects",),
    ("annotator.ingest",),
    ("annotator.label",),
    ("annotator.agree",),
    ("annotator.correct",),
    ("annotator.retrain",),
    ("annotator.export",),
    ("annotator.cli",),
]


def _layer(module: str) -> int | None:
    for n, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return n
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level?) for every import of ``path`` (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                found.append((base, child.lineno, top))
                found.extend((f"{base}.{alias.name}", child.lineno, top) for alias in child.names)
            visit(child, inner)

    visit(tree, True)
    return found


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts)


def _violations(package: str, rule) -> list[str]:
    out = []
    for path in _sources(package):
        for target, line, top in _imports(path):
            message = rule(_module_name(path), target, top)
            if message:
                out.append(f"{path.relative_to(REPO)}:{line}: {message}")
    return out


def test_models_is_a_library_of_its_own() -> None:
    def rule(module: str, target: str, top: bool) -> str | None:
        if target.split(".")[0] in ("annotator", "worker", "ui"):
            return f"models/ imports {target}"
        return None

    assert _violations("models", rule) == []


def test_annotator_never_imports_worker_or_ui_and_keeps_models_out_of_import_time() -> None:
    def rule(module: str, target: str, top: bool) -> str | None:
        root = target.split(".")[0]
        if root == "ui" or (root == "worker" and not module.startswith("annotator.cli")):
            return f"{module} imports {target} (only the CLI may start a worker)"
        if root in ("models", "torch", "transformers", "peft") and top:
            return f"{module} imports {target} at module level (import it inside the function that needs it)"
        return None

    assert _violations("annotator", rule) == []


def test_no_upward_import_between_the_links() -> None:
    def rule(module: str, target: str, top: bool) -> str | None:
        mine, theirs = _layer(module), _layer(target)
        if mine is not None and theirs is not None and theirs > mine:
            return f"{module} (layer {mine}) imports {target} (layer {theirs}): an upward import"
        return None

    assert _violations("annotator", rule) == []


def test_no_import_circle_among_modules() -> None:
    names = {_module_name(p): p for pkg in ("annotator", "models", "worker", "ui") for p in _sources(pkg)}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        for target, _, _ in _imports(path):
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name and not names[target].name == "__init__.py":
                graph[name].add(target)
    cycles = []
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    assert cycles == []


@pytest.mark.parametrize("package", ["annotator", "models", "worker", "ui"])
def test_every_module_parses(package: str) -> None:
    for path in _sources(package):
        assert _imports(path) is not None
