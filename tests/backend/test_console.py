"""The command line's terminal: questions only for a person at a real console (NUL on Windows
says it is a terminal, then ends the input), and output that survives any name."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend import console, exit_codes
from backend.backup import commands as backup_commands
from backend.migration import commands as migration_commands

ROOT = Path(__file__).resolve().parents[2]


class _EndedConsole(io.StringIO):
    """stdin as Windows gives it for `< NUL`: isatty() is true, and reading ends at once."""

    def isatty(self) -> bool:
        return True

    def readline(self, *_args) -> str:
        raise EOFError


class _Console(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_whose_input_ends_gives_no_answer(monkeypatch):
    # These stand-ins are consoles on Windows too (where a terminal must also be one, below).
    monkeypatch.setattr(console, "_windows_console", lambda stdin: True)
    assert console.ask("Go on? ", _EndedConsole()) is None
    assert console.ask("Go on? ", _Console("")) is None  # end of input read as ""
    assert console.ask("Go on? ", _Console(" Yes \n")) == "yes"
    assert console.ask("Go on? ", io.StringIO("yes\n")) is None  # a pipe: nobody to ask


def test_on_windows_a_terminal_must_also_be_a_console(monkeypatch):
    monkeypatch.setattr(console, "IS_WINDOWS", True)
    monkeypatch.setattr(console, "_windows_console", lambda stdin: False)  # NUL
    assert not console.stdin_is_interactive(_Console("yes\n"))
    assert console.ask("Go on? ", _Console("yes\n")) is None
    monkeypatch.setattr(console, "_windows_console", lambda stdin: True)
    assert console.ask("Go on? ", _Console("yes\n")) == "yes"


def test_a_restore_asked_at_the_end_of_input_asks_for_yes(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _EndedConsole())
    assert backup_commands._confirmed() is False
    assert "Add --yes to restore without a question." in capsys.readouterr().err


def _preview(certain: bool) -> SimpleNamespace:
    evidence = SimpleNamespace(detected="fdi", certain=certain, evidence=[])
    generation = {
        "rows": 1,
        "notation": {"detected": "fdi", "certain": certain, "evidence": []},
        "used": "fdi" if certain else None,
    }
    return SimpleNamespace(
        notation=evidence,
        generations={"tooth_treatments": generation},
        name_conflicts=[],
        warnings=[],
        patient_images=0,
        patient_images_found=0,
        files_kept_as_patient_images=0,
        unreferenced_files=0,
        patients=1,
        patients_new=1,
        treatments={},
        image_rows=0,
        images_found=0,
        images_missing=0,
        images_already_imported=0,
    )


@pytest.mark.parametrize(
    ("certain", "message", "code"),
    [
        (True, "Not confirmed: add --yes to import without being asked.", exit_codes.CANCELLED),
        (
            False,
            "The notation of tooth_treatments is not certain: run again with "
            "--table-notation tooth_treatments=universal or fdi (or --notation).",
            exit_codes.FAILED,
        ),
    ],
)
def test_an_import_asked_at_the_end_of_input_says_what_to_add(
    monkeypatch, capsys, certain, message, code
):
    def no_import(*_args, **_kwargs):
        raise AssertionError("nothing is imported without an answer")

    source = SimpleNamespace(database=Path("dental_clinic.db"), roots=[])
    monkeypatch.setattr(migration_commands, "open_source", lambda _s, _extra=(): source)
    monkeypatch.setattr(migration_commands, "preview", lambda *_a, **_k: _preview(certain))
    monkeypatch.setattr(migration_commands, "start_import", no_import)
    monkeypatch.setattr(sys, "stdin", _EndedConsole())
    args = argparse.Namespace(
        source="old",
        notation=None,
        yes=False,
        dry_run=False,
        images_from=[],
        table_notation=[],
        early_layout=None,
    )
    runtime = SimpleNamespace(settings=SimpleNamespace(legacy_roots=()))
    assert migration_commands._start_import(runtime, args) == code
    assert message in capsys.readouterr().err


def test_names_a_cp1252_output_cannot_hold_do_not_fail_a_command(tmp_path):
    """As on Windows with the output redirected: before, `verify` died with
    UnicodeEncodeError (exit 1) instead of reporting the problems (exit 3)."""
    archive = tmp_path / "نسخة ليلى حداد.zip"
    archive.write_bytes(b"not a zip at all")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    env["PYTHONIOENCODING"] = "cp1252"
    env.pop("PYTHONUTF8", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend",
            "verify",
            str(archive),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3, done.stderr.decode("utf-8", "replace")
    assert "نسخة ليلى حداد.zip" in done.stdout.decode("utf-8")
