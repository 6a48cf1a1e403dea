"""The exit codes of every `dental-images` command, one meaning per code, for scripts and
scheduled tasks (the README lists them). Usage errors exit with USAGE (argparse's own)."""

from __future__ import annotations

OK = 0  # done: everything came across, or the archive / the store is in order
FAILED = 1  # failed, and nothing was changed (the message says why)
USAGE = 2  # wrong command-line usage
PROBLEMS = 3  # done, with problems found and listed (a check, a verify, files an import lacked)
BUSY = 4  # another whole-store job is running, here or on another PC
CANCELLED = 5  # cancelled (Ctrl+C) or not confirmed
PARTIAL = 6  # some items failed and are listed; the rest came across, a new run retries them

MEANINGS: dict[int, str] = {
    OK: "done",
    FAILED: "failed, nothing was changed",
    USAGE: "wrong command-line usage",
    PROBLEMS: "done, with problems listed",
    BUSY: "another whole-store job is running",
    CANCELLED: "cancelled or not confirmed",
    PARTIAL: "some items failed (listed); a new run retries them",
}


def describe(*wanted: int) -> str:
    """ "exit codes: 0 done; 1 failed, …" for a command's help, for the codes it can give."""
    return "exit codes: " + "; ".join(f"{code} {MEANINGS[code]}" for code in wanted)
