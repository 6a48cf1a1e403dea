"""scripts/postgres-test-server.sh prints the URL alone, whatever PostgreSQL's tools say.

The tools are replaced by stubs on PATH that behave like Debian's after an unclean shutdown:
`pg_ctlcluster start` says "Removed stale pid file." on stdout and leaves a server process
running in the background.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres-test-server.sh"

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="a bash script of the Linux test machine (scripts/test.sh)"
)

STUBS = {
    "ls": "echo 15\n",
    "pg_lsclusters": (
        'if [ -e "$STATE/started" ]; then status=online; else status=down; fi\n'
        'echo "15 main 5433 $status postgres /var/lib/postgresql/15/main log"\n'
    ),
    "pg_createcluster": 'echo "Creating new PostgreSQL cluster 15/main ..."\n',
    "pg_ctlcluster": (
        'echo "Removed stale pid file."\n'
        'touch "$STATE/started"\n'
        # A daemon: its output goes to its log, every other inherited descriptor stays open.
        "sleep 30 </dev/null >/dev/null 2>&1 &\n"
    ),
    "su": 'case "$*" in *"SELECT 1"*) echo 1 ;; esac\n',
    "sudo": 'exec "$@"\n',
}


def write_stubs(folder: Path) -> None:
    for name, body in STUBS.items():
        path = folder / name
        path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_url_is_the_only_output_and_a_started_server_does_not_hold_it(tmp_path):
    write_stubs(tmp_path)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "STATE": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=20,
        check=True,
    )
    assert done.stdout == "postgresql+psycopg://dental_test:dental_test@127.0.0.1:5433/postgres\n"
    assert "Removed stale pid file." in done.stderr
    assert (tmp_path / "started").exists()
