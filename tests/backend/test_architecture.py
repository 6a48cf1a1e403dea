"""The import contract of docs/architecture.md: packages import only downwards, and the core has
no import cycle between its modules.

Imports under `if TYPE_CHECKING:` are left out: they name a type for the checker and never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2] / "backend"

# Top to bottom; a unit may import its own layer and every layer below it.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "entry points",
        frozenset(
            {
                "__main__",
                "cli",
                "desktop",
                "server",
                "webapp",
                "api",
                "bridge",
                "demo",
                "startup",
            }
        ),
    ),
    ("backups", frozenset({"backup"})),
    ("the earlier app's import and migration", frozenset({"migration"})),
    ("the earlier app's readers", frozenset({"legacy"})),
    ("the mover", frozenset({"moving"})),
    ("use cases", frozenset({"usecases", "serializers"})),
    ("the runtime holder", frozenset({"runtime"})),
    (
        "core",
        frozenset(
            {
                "app_state",
                "backend",
                "config",
                "console",
                "db",
                "dicom",
                "errors",
                "exif_dates",
                "exit_codes",
                "fileio",
                "heif",
                "i18n",
                "imaging",
                "job_follower",
                "jobs",
                "locks",
                "logging_setup",
                "maintenance",
                "migrations",
                "models",
                "paths",
                "private_files",
                "process_clock",
                "processes",
                "search_keys",
                "security",
                "storage",
                "taken_sources",
                "teeth",
                "untrusted_db",
                "validation",
                "vocabulary",
                "webview2",
            }
        ),
    ),
)


def unit_of(module: str, root: Path = BACKEND) -> str:
    """`backend.x.y` -> `x` (a package or a top-level module); `backend` itself -> `backend`."""
    parts = module.split(".")
    if len(parts) == 1:
        return "backend"
    if (root / parts[1]).is_dir() or (root / f"{parts[1]}.py").is_file():
        return parts[1]
    return "backend"  # a name defined in backend/__init__.py, such as __version__


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    package = parts[-1] == "__init__"
    if package:
        parts.pop()
    return ".".join(parts), package


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, package: bool) -> Iterator[str]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (name for child in node.orelse for name in _imports(child, module, package))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if package else 0)
                target = ".".join(base[:keep] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)
        else:
            yield from _imports(node, module, package)


def import_edges(root: Path = BACKEND) -> dict[str, set[tuple[str, str]]]:
    """Unit -> {(imported unit, the importing file)} for every import between two units."""
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(root.rglob("*.py")):
        module, package = _module_name(path, root)
        source = unit_of(module, root)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imports(tree, module, package):
            if target != "backend" and not target.startswith("backend."):
                continue
            imported = unit_of(target, root)
            if imported != source:
                edges.setdefault(source, set()).add((imported, path.relative_to(root).as_posix()))
    return edges


def layer_of(unit: str) -> int:
    for index, (_name, units) in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(unit)


def upward_imports(edges: Mapping[str, set[tuple[str, str]]]) -> list[str]:
    """Every import of a higher layer by a lower one, as `file: unit -> unit`."""
    found = []
    for source, targets in edges.items():
        for imported, where in targets:
            if layer_of(imported) < layer_of(source):
                layer = LAYERS[layer_of(source)][0]
                found.append(f"{where}: {source} ({layer}) imports {imported}")
    return sorted(found)


def cycles(edges: Mapping[str, set[tuple[str, str]]]) -> list[list[str]]:
    """The strongly connected groups of more than one unit (Tarjan)."""
    graph = {unit: {imported for imported, _ in targets} for unit, targets in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        for imported in graph.get(unit, ()):
            if imported not in index:
                visit(imported)
                low[unit] = min(low[unit], low[imported])
            elif imported in stack:
                low[unit] = min(low[unit], index[imported])
        if low[unit] == index[unit]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == unit:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return groups


def test_every_backend_unit_has_a_layer():
    units = {unit_of(_module_name(path, BACKEND)[0]) for path in BACKEND.rglob("*.py")}
    unplaced = []
    for unit in sorted(units):
        try:
            layer_of(unit)
        except KeyError:
            unplaced.append(unit)
    assert not unplaced, f"give these a layer in LAYERS and docs/architecture.md: {unplaced}"


def test_packages_import_only_downwards():
    assert upward_imports(import_edges()) == []


def test_no_import_cycle_between_units():
    assert cycles(import_edges()) == []


def test_the_check_sees_an_upward_import_and_a_cycle(tmp_path):
    root = tmp_path / "backend"
    for package in ("backup", "legacy", "moving"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "legacy" / "reader.py").write_text(
        "from backend.backup import create\n", encoding="utf-8"
    )
    (root / "backup" / "create.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from backend import moving\n"
        "def later():\n    from ..legacy import reader\n",
        encoding="utf-8",
    )
    edges = import_edges(root)
    assert upward_imports(edges) == [
        "legacy/reader.py: legacy (the earlier app's readers) imports backup"
    ]
    assert cycles(edges) == [["backup", "legacy"]]
    assert ("moving", "backup/create.py") not in edges["backup"]


@pytest.mark.parametrize("module", ["backend.fileio", "backend.backup.create", "backend"])
def test_units_are_packages_or_top_level_modules(module):
    assert unit_of(module) == {"backend.fileio": "fileio", "backend.backup.create": "backup"}.get(
        module, "backend"
    )
