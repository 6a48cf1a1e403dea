"""What the backup steps report their progress to: a job's Progress, or one step of a longer
job (a restore is checking, safety backup, unpacking, swapping)."""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def update(self, **changes: Any) -> None: ...

    def advance(self, items: int = 1, nbytes: int = 0) -> None: ...


class Step:
    """Forwards to `parent`, saying which step of how many the message belongs to."""

    def __init__(self, parent: Reporter, number: int, of: int, name: str) -> None:
        self._parent = parent
        self._prefix = f"Step {number} of {of}, {name}"

    def update(self, **changes: Any) -> None:
        if "message" in changes:
            changes["message"] = f"{self._prefix}: {changes['message']}"
        self._parent.update(**changes)

    def advance(self, items: int = 1, nbytes: int = 0) -> None:
        self._parent.advance(items, nbytes)
