"""Every text file the program (and its tests, which run under Windows Python too) reads or
writes names its encoding (UTF-8): the Windows default, cp1252, cannot hold Arabic names and
raised UnicodeEncodeError in the migration's safety backup; a test reading the safety backup's
manifest without it saw another patient folder name than the one on disk."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"
CHECKED = sorted([*BACKEND.rglob("*.py"), *(ROOT / "tests").rglob("*.py")])
TEXT_METHODS = {"read_text", "write_text"}
TEXT_PIPE_FLAGS = {"text", "universal_newlines"}


def _mode(call: ast.Call) -> str:
    args = [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "mode")]
    if not args:
        return "r"
    if isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return args[0].value
    return "?"


def _text_calls_without_encoding(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if "encoding" in {k.arg for k in node.keywords}:
            continue
        func = node.func
        text_method = isinstance(func, ast.Attribute) and func.attr in TEXT_METHODS
        # A mode the source does not spell out ("?") is the caller's: binary or text.
        mode = _mode(node)
        text_open = isinstance(func, ast.Name) and func.id == "open" and not {"b", "?"} & set(mode)
        # subprocess in text mode decodes a child's output with the locale's encoding (cp1252
        # on Windows); the program writes redirected output as UTF-8.
        text_pipe = any(k.arg in TEXT_PIPE_FLAGS for k in node.keywords)
        if text_method or text_open or text_pipe:
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_text_is_read_and_written_as_utf8(path):
    assert _text_calls_without_encoding(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_a_missing_encoding():
    assert _text_calls_without_encoding("p.write_text('x')\nopen(p, 'w')\nopen(p)\n") == [1, 2, 3]
    assert _text_calls_without_encoding(
        "run(['x'], text=True)\nrun(['x'], text=True, encoding='utf-8')\n"
    ) == [1]
    fine = "p.write_text('x', encoding='utf-8')\nopen(p, 'rb')\nopen(p, 'w', encoding='utf-8')\n"
    assert _text_calls_without_encoding(fine) == []
