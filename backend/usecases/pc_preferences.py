"""This PC's language, theme and digits (Settings), kept in its config.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend import i18n
from backend import validation as check
from backend.config import PC_PREFERENCES, read_pc_preferences, write_machine_config

log = logging.getLogger(__name__)


def split_changes(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(this PC's preferences, the clinic's settings) of a Settings change."""
    own = {name: value for name, value in changes.items() if name in PC_PREFERENCES}
    clinic = {name: value for name, value in changes.items() if name not in PC_PREFERENCES}
    return own, clinic


def check_changes(changes: Mapping[str, Any]) -> dict[str, str]:
    """The changes as stored values; a ValidationError names the first unusable one."""
    return {
        name: check.choice(value, name, PC_PREFERENCES[name]) for name, value in changes.items()
    }


def save(data_dir: Path, cleaned: Mapping[str, str]) -> dict[str, str]:
    """Store checked changes in config.json; a new language or digits also become those of the
    process's own texts (background jobs, API errors). Returns every preference."""
    if cleaned:
        write_machine_config(data_dir, **cleaned)
        log.info("this PC's display changed: %s", ", ".join(f"{k}={v}" for k, v in cleaned.items()))
    preferences = read_pc_preferences(data_dir)
    if "language" in cleaned:
        i18n.set_process_locale(i18n.effective_language(preferences["language"]))
    if "digits" in cleaned:
        i18n.set_process_digits(preferences["digits"])
    return preferences
