"""The earlier app's .json export is parsed one record at a time, within limits: a file of
millions of empty objects is refused naming the limit, in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backend.backup.legacy import json_export
from backend.backup.legacy.json_export import MAX_RECORDS, examine_export, not_kept_summary

ROOT = Path(__file__).resolve().parents[2]


def empty_objects_export(path: Path, table: str, megabytes: int) -> Path:
    """{"patients": [], "<table>": [{}, {}, …]} of about `megabytes` MB, written in pieces."""
    piece = "{}," * 100_000
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"metadata": {"version": 1}, ')
        if table != "patients":
            out.write('"patients": [], ')
        out.write(f'"{table}": [')
        for _ in range(megabytes * 1024 * 1024 // len(piece) + 1):
            out.write(piece)
        out.write("{}]}")
    return path


MEASURE = r"""
import resource, sys, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from backend.backup.legacy.json_export import examine_export
tracemalloc.start()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
data, problems = examine_export(Path(sys.argv[2]))
peak = tracemalloc.get_traced_memory()[1]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak // (1024 * 1024), (after - before) // 1024, problems[0] if problems else "")
"""


@pytest.mark.parametrize("table", ["patients", "appointments"])
def test_sixty_mb_of_empty_objects_is_refused_in_bounded_memory(tmp_path, table):
    export = empty_objects_export(tmp_path / "export.json", table, 60)
    assert export.stat().st_size > 60 * 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT), str(export)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=True,
    )
    traced_mb, rss_mb, problem = done.stdout.strip().split(" ", 2)
    assert f"more than {MAX_RECORDS:,} records" in problem
    # measured: 72 MB traced, +149 MB RSS; json.load of the same file: +1.5 GB
    assert int(traced_mb) < 200, traced_mb
    if sys.platform != "win32":
        assert int(rss_mb) < 300, rss_mb


def test_the_streamed_parse_equals_json_load_across_chunk_boundaries(tmp_path, monkeypatch):
    rows = [
        {"id": i, "fullName": f"مريض {i}", "balance": 12345.678 + i, "tags": [1, {"a": None}]}
        for i in range(300)
    ]
    document = {
        "metadata": {"exported": "2020-01-01"},
        "patients": rows,
        "tooth_treatments": [{"id": 1, "patientId": 2, "toothNumber": 8, "cost": 10000}],
        "appointments": [{"id": n} for n in range(7)],
        "settings": {"clinic": "X", "n": 123456789},
    }
    path = tmp_path / "export.json"
    text = "\ufeff" + json.dumps(document, ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(json_export, "_CHUNK_CHARS", 7)  # every value crosses chunks
    data, problems = examine_export(path)
    assert problems == []
    assert data["patients"] == rows
    assert data["tooth_treatments"] == document["tooth_treatments"]
    assert data["settings"] == document["settings"]
    assert data["appointments"] == []  # not kept: only counted
    assert "7 appointments" in not_kept_summary(data)


@pytest.mark.parametrize(
    "text", ['{"patients": [1, 2', '{"patients": [] } x', '{"patients": [}', '{"patients" []}']
)
def test_broken_json_is_reported_as_such(tmp_path, text):
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    data, problems = examine_export(path)
    assert data == {} and problems[0].startswith("The file is not readable JSON")


def test_one_huge_value_is_refused_naming_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(json_export, "MAX_VALUE_CHARS", 1000)
    monkeypatch.setattr(json_export, "_CHUNK_CHARS", 100)
    path = tmp_path / "export.json"
    path.write_text('{"patients": [{"note": "' + "x" * 5000 + '"}]}', encoding="utf-8")
    _data, problems = examine_export(path)
    assert "longer than" in problems[0]
