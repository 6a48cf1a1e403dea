"""App settings kept in the database (so every PC of a clinic sees the same), and the read-only
facts about the installation shown next to them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from backend import __version__, app_state, teeth
from backend import validation as check
from backend.config import Settings
from backend.errors import ValidationError
from backend.i18n import gettext

log = logging.getLogger(__name__)

TRASH_DAYS = "trash_days"
MAX_TRASH_DAYS = 3650
DEFAULTS: dict[str, str] = {"numbering": teeth.Notation.UNIVERSAL.value, TRASH_DAYS: "30"}


def _trash_days(value: Any) -> str:
    days = check.optional_int(value, TRASH_DAYS, minimum=1, maximum=MAX_TRASH_DAYS)
    if days is None:
        raise ValidationError(
            gettext("Say how many days deleted items stay in the trash."), field=TRASH_DAYS
        )
    return str(days)


_CHECKS: dict[str, Callable[[Any], str]] = {
    "numbering": lambda value: check.choice(
        value, "numbering", tuple(n.value for n in teeth.Notation)
    ),
    TRASH_DAYS: _trash_days,
}


def trash_days(session: Session) -> int:
    """How many days a deleted patient or image stays in the trash before it is purged."""
    return int(get_settings(session)[TRASH_DAYS])


READ_ONLY_FACTS = ("data_dir", "images_dir", "db_url", "version")


def get_settings(session: Session) -> dict[str, str]:
    """Every setting: the stored value, or its default when none (or an unusable one) is
    stored."""
    stored = app_state.get_many(session, [app_state.SETTING_PREFIX + name for name in DEFAULTS])
    values = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = stored.get(app_state.SETTING_PREFIX + name)
        if raw is None:
            continue
        try:
            values[name] = _CHECKS[name](raw)
        except ValidationError:
            log.warning("stored setting %s=%r is not valid; using %r", name, raw, DEFAULTS[name])
    return values


def update_settings(session: Session, changes: Mapping[str, Any]) -> dict[str, str]:
    """Check every change first (one bad value changes nothing), store them, and return all
    settings."""
    for name in changes:
        if name in READ_ONLY_FACTS:
            raise ValidationError(
                gettext(
                    "'{name}' is a fact about this installation and cannot be changed here.",
                    name=name,
                ),
                field=name,
            )
    check.only_known_fields(changes, set(DEFAULTS))
    cleaned = {name: _CHECKS[name](value) for name, value in changes.items()}
    for name, value in cleaned.items():
        app_state.put(session, app_state.SETTING_PREFIX + name, value)
    session.commit()
    if cleaned:
        log.info("settings changed: %s", ", ".join(f"{k}={v}" for k, v in cleaned.items()))
    return get_settings(session)


def mask_db_url(url: str) -> str:
    """`url` with any password replaced by `***`."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # Not a URL SQLAlchemy can read: hide whatever sits between "user:" and "@".
        scheme, sep, rest = url.partition("://")
        credentials, at, host = rest.rpartition("@")
        if not sep or not at or ":" not in credentials:
            return url
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def installation_facts(settings: Settings) -> dict[str, str]:
    """Where this installation keeps its data, and the program's version."""
    return {
        "data_dir": str(settings.data_dir),
        "images_dir": str(settings.images_dir),
        "images_root": str(settings.image_store_root),
        "db_url": mask_db_url(settings.db_url),
        "version": __version__,
    }
