"""Typed errors of backup and restore, in the program's one error shape."""

from __future__ import annotations

from backend.errors import AppError, ValidationError
from backend.i18n import gettext, ngettext


class BackupInvalid(ValidationError):
    """An archive that is damaged, hostile, or not a backup: each problem in its own sentence."""

    code = "backup_invalid"

    def __init__(self, problems: list[str], *, field: str | None = "path") -> None:
        shown = problems[:5]
        more = (
            ngettext(" (and {n} more problem)", " (and {n} more problems)", len(problems) - 5)
            if len(problems) > 5
            else ""
        )
        super().__init__(
            gettext(
                "This backup cannot be used: {problems}{more} Nothing was changed.",
                problems=" ".join(shown),
                more=more,
            ),
            field=field,
        )
        self.problems = problems

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": self.problems[:200]}


class NotEnoughSpace(ValidationError):
    code = "not_enough_space"


class FolderNotUsable(ValidationError):
    code = "folder_not_usable"


class BackupFailed(AppError):
    """The backup could not be completed; no file was left under the final name."""

    code = "backup_failed"


class RestoreFailed(AppError):
    """The restore failed after it began to change data, and the previous data was put back."""

    code = "restore_failed"
