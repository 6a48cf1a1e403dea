"""Figures of the backend's shape at one commit: modules, the largest modules and functions,
the `duplicates` pairs (when that tool is installed) and the import cycles between units
(packages and top-level modules of backend/, as tests/backend/test_architecture.py sees them).

Usage: .venv/bin/python scripts/code_figures.py [REV ...]   (default: HEAD; prints JSON)
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.backend.test_architecture import cycles, import_edges  # noqa: E402

TOP = 5


def _functions(tree: ast.AST, where: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            found.append((node.end_lineno - node.lineno + 1, f"{where}:{node.name}"))
    return found


def _duplicates(backend: Path) -> dict[str, int] | None:
    tool = shutil.which("duplicates")
    if tool is None:
        return None
    answer = subprocess.run(
        [tool, "--most", "1"], cwd=backend, capture_output=True, text=True, check=True
    ).stdout
    header = re.search(
        r"(\d+) pairs .*?\((\d+) by shape alone, (\d+) of those marked boilerplate\)", answer
    )
    if header is None:
        raise ValueError(f"unexpected duplicates output: {answer[:200]}")
    pairs, shape, boilerplate = (int(n) for n in header.groups())
    return {"pairs": pairs, "by_shape": shape, "boilerplate": boilerplate}


def figures(backend: Path) -> dict[str, Any]:
    """The figures of the backend tree at `backend`."""
    sizes: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    for path in sorted(backend.rglob("*.py")):
        where = path.relative_to(backend).as_posix()
        text = path.read_text(encoding="utf-8")
        sizes.append((text.count("\n"), where))
        functions.extend(_functions(ast.parse(text), where))
    sizes.sort(reverse=True)
    functions.sort(reverse=True)
    return {
        "modules": len(sizes),
        "lines": sum(n for n, _ in sizes),
        "largest_modules": [f"{where} ({n} lines)" for n, where in sizes[:TOP]],
        "largest_functions": [f"{where} ({n} lines)" for n, where in functions[:TOP]],
        "duplicates": _duplicates(backend),
        "import_cycles": [" ⇄ ".join(group) for group in cycles(import_edges(backend))],
    }


def figures_at(rev: str) -> dict[str, Any]:
    """The figures of the backend at the commit `rev`, read from a scratch worktree."""
    with tempfile.TemporaryDirectory(prefix="code-figures-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev],
            check=True,
        )
        try:
            return {"rev": rev, **figures(tree / "backend")}
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True
            )


if __name__ == "__main__":
    print(json.dumps([figures_at(rev) for rev in sys.argv[1:] or ["HEAD"]], indent=1))
