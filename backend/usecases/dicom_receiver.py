"""The DICOM receiver's settings and its life in the program's server process.

Off by default. Its settings belong to one PC (its config.json): the PC that listens is the
one where it was turned on, since the x-ray unit sends to that PC's address. With several PCs
on one database, the PC listening is also written in the database (`OWNER_KEY`): another PC
that turns the receiver on is told which PC listens, and takes over only when the user says
so; the first PC then refuses what it still receives, and does not listen at its next start.

The receiver starts with the program when it is on, starts and stops when the setting
changes, and stops when the program ends (Runtime.close).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend import app_state, dicom
from backend import validation as check
from backend.config import read_machine_config, write_machine_config
from backend.dicom import normal_address
from backend.errors import Conflict, ValidationError
from backend.i18n import gettext
from backend.storage import ImageStore
from backend.usecases import inbox

log = logging.getLogger(__name__)

DEFAULT_AE_TITLE = "DENTALIMAGES"
DEFAULT_PORT = 11112
OWNER_KEY = app_state.DICOM_RECEIVER_PC
OWNER_RECHECK_S = 5.0
KEYS = {
    "enabled": "dicom_receiver",
    "ae_title": "dicom_ae_title",
    "port": "dicom_port",
    "allowed_ae_titles": "dicom_allowed_ae_titles",
    "allowed_addresses": "dicom_allowed_addresses",
}
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # DICOM AE: no backslash, 16 at most
_LIST_SPLIT = re.compile(r"[\s,;]+")


class ReceiverElsewhere(Conflict):
    """Another PC of the clinic listens already: confirm to take over."""

    code = "receiver_elsewhere"

    def __init__(self, message: str, *, pc: str) -> None:
        super().__init__(message, field="take_over")
        self.pc = pc

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "pc": self.pc}


@dataclass(frozen=True)
class ReceiverSettings:
    enabled: bool = False
    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    allowed_ae_titles: tuple[str, ...] = ()
    allowed_addresses: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "ae_title": self.ae_title,
            "port": self.port,
            "allowed_ae_titles": list(self.allowed_ae_titles),
            "allowed_addresses": list(self.allowed_addresses),
        }


def this_pc() -> str:
    return socket.gethostname() or "this PC"


def read_settings(data_dir: Path) -> ReceiverSettings:
    """This PC's receiver settings; defaults (off) for what is missing or unusable."""
    try:
        stored = read_machine_config(data_dir)
    except ValueError as exc:
        log.warning("%s; the DICOM receiver stays off", exc)
        return ReceiverSettings()
    try:
        return check_settings(
            {
                "enabled": stored.get(KEYS["enabled"]) == "on",
                "ae_title": stored.get(KEYS["ae_title"], DEFAULT_AE_TITLE),
                "port": stored.get(KEYS["port"], DEFAULT_PORT),
                "allowed_ae_titles": stored.get(KEYS["allowed_ae_titles"], ""),
                "allowed_addresses": stored.get(KEYS["allowed_addresses"], ""),
            }
        )
    except ValidationError as exc:
        log.warning("config.json: unusable DICOM receiver settings (%s); it stays off", exc.message)
        return ReceiverSettings()


def check_settings(values: Mapping[str, Any]) -> ReceiverSettings:
    """The settings of a change as stored; a ValidationError names the first unusable one."""
    ae_title = str(values.get("ae_title") or "").strip().upper()
    if not _AE_TITLE.match(ae_title):
        raise ValidationError(
            gettext(
                "The AE title must be 1 to 16 letters, digits or spaces (as the x-ray unit is "
                "told to send to)."
            ),
            field="ae_title",
        )
    port = check.dicom_port(values.get("port"))
    titles = tuple(dict.fromkeys(t.upper() for t in _items(values.get("allowed_ae_titles"))))
    for title in titles:
        if not _AE_TITLE.match(title):
            raise ValidationError(
                gettext("'{title}' is not an AE title (1 to 16 characters).", title=title),
                field="allowed_ae_titles",
            )
    addresses = []
    for text in _items(values.get("allowed_addresses")):
        try:
            addresses.append(normal_address(text))
        except ValueError:
            raise ValidationError(
                gettext("'{address}' is not an IP address.", address=text),
                field="allowed_addresses",
            ) from None
    enabled = values.get("enabled") in (True, "true", "on", "1", 1)
    if enabled and not titles and not addresses:
        raise ValidationError(
            gettext(
                "Name the x-ray units that may send: their AE titles, their IP addresses, or "
                "both. The receiver accepts nobody else."
            ),
            field="allowed_ae_titles",
        )
    return ReceiverSettings(enabled, ae_title, port, titles, tuple(dict.fromkeys(addresses)))


def _items(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return [part for part in _LIST_SPLIT.split(str(value or "").strip()) if part]


def save_settings(data_dir: Path, cleaned: ReceiverSettings) -> None:
    write_machine_config(
        data_dir,
        **{
            KEYS["enabled"]: "on" if cleaned.enabled else "off",
            KEYS["ae_title"]: cleaned.ae_title,
            KEYS["port"]: str(cleaned.port),
            KEYS["allowed_ae_titles"]: ",".join(cleaned.allowed_ae_titles),
            KEYS["allowed_addresses"]: ",".join(cleaned.allowed_addresses),
        },
    )


def listening_pc(sessions: sessionmaker[Session]) -> str | None:
    """The PC that the clinic's database says listens, if any."""
    with sessions() as session:
        return app_state.get(session, OWNER_KEY) or None


def _set_owner(sessions: sessionmaker[Session], pc: str | None) -> None:
    with sessions.begin() as session:
        owner = app_state.get(session, OWNER_KEY, for_update=True)
        if pc is None:
            if owner == this_pc():
                app_state.remove(session, OWNER_KEY)
        else:
            app_state.put(session, OWNER_KEY, pc)


@dataclass
class ReceiverControl:
    """The receiver of this program's process: at most one listening server."""

    data_dir: Path
    sessions: sessionmaker[Session]
    store: Callable[[], ImageStore]  # the runtime's store, which a restore replaces
    host: str = ""
    _server: Any = None
    _error: str | None = None
    _owner_read: tuple[float, str | None] | None = None  # (when, the PC that receives)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self) -> dict[str, Any]:
        """The settings, whether it listens (and on which port), the last error, and the PC
        that listens for the clinic when it is another one."""
        current = read_settings(self.data_dir)
        owner = listening_pc(self.sessions)
        with self._lock:
            server = self._server
            return {
                **current.as_dict(),
                "listening": server is not None,
                "listening_port": server.port if server is not None else None,
                "error": self._error,
                "this_pc": this_pc(),
                "other_pc": owner if owner and owner != this_pc() else None,
            }

    def change(self, values: Mapping[str, Any], *, take_over: bool = False) -> dict[str, Any]:
        """Check and save this PC's receiver settings, then start, restart or stop it."""
        cleaned = check_settings(values)
        owner = listening_pc(self.sessions)
        if cleaned.enabled and owner and owner != this_pc() and not take_over:
            raise ReceiverElsewhere(
                gettext(
                    "The DICOM receiver is on at {pc}: x-ray units send there. Turn it off "
                    "there first, or take it over for this PC (the units must then be told "
                    "this PC's address).",
                    pc=owner,
                ),
                pc=owner,
            )
        save_settings(self.data_dir, cleaned)
        log.info(
            "DICOM receiver settings changed: %s, AE %s, port %d",
            "on" if cleaned.enabled else "off",
            cleaned.ae_title,
            cleaned.port,
        )
        self._apply(cleaned)
        return self.status()

    def start_if_enabled(self) -> None:
        """At the program's start: listen when this PC's setting says so, unless another PC
        took the receiver over since."""
        current = read_settings(self.data_dir)
        if not current.enabled:
            return
        try:
            inbox.recover_leftovers(self.sessions, self.store())
        except OSError as exc:
            log.warning("Inbox leftovers could not be removed: %s", exc)
        owner = listening_pc(self.sessions)
        if owner and owner != this_pc():
            with self._lock:
                self._error = gettext(
                    "Not listening: the DICOM receiver was taken over by {pc}.", pc=owner
                )
            log.warning("DICOM receiver not started: %s listens for the clinic", owner)
            return
        self._apply(current)

    def stop(self) -> None:
        """Stop listening (the program ends); the setting stays as it is."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    def _apply(self, wanted: ReceiverSettings) -> None:
        self.stop()
        with self._lock:
            self._error = None
            self._owner_read = None
        if not wanted.enabled:
            try:
                _set_owner(self.sessions, None)
            except Exception:
                log.exception("the database could not record that the receiver is off")
            return
        try:
            server = self._start_server(wanted)
        except _StartFailed as exc:
            with self._lock:
                self._error = str(exc)
            log.error("DICOM receiver not started: %s", exc)
            return
        with self._lock:
            self._server = server
        _set_owner(self.sessions, this_pc())
        with self._lock:
            self._owner_read = (time.monotonic(), this_pc())

    def _start_server(self, wanted: ReceiverSettings) -> Any:
        if not dicom.networking_supported():
            raise _StartFailed(
                gettext(
                    "This installation of the program has no DICOM support (its DICOM libraries "
                    "are missing), so it cannot receive x-rays. Reinstall the program."
                )
            )
        from backend.dicom.receiver import ServerConfig, StorageServer, port_in_use

        config = ServerConfig(
            ae_title=wanted.ae_title,
            port=wanted.port,
            allowed_ae_titles=wanted.allowed_ae_titles,
            allowed_addresses=wanted.allowed_addresses,
            host=self.host,
        )
        server = StorageServer(config, self._on_store)
        try:
            server.start()
        except OSError as exc:
            if port_in_use(wanted.port):
                message = gettext(
                    "Port {port} is in use by another program on this PC. Choose another port "
                    "(and tell the x-ray unit), or close that program.",
                    port=wanted.port,
                )
            else:
                message = gettext(
                    "Port {port} cannot be opened on this PC ({reason}). Choose another port; "
                    "ports below 1024 may need administrator rights.",
                    port=wanted.port,
                    reason=exc.strerror or str(exc),
                )
            raise _StartFailed(message) from exc
        return server

    def _on_store(self, data: bytes, calling_ae: str, address: str) -> int:
        from backend.dicom.receiver import CANNOT_UNDERSTAND, OUT_OF_RESOURCES, SUCCESS

        try:
            owner = self._owner()
            if owner and owner != this_pc():
                # Taken over by another PC: the units are to send there now.
                with self._lock:
                    self._error = gettext(
                        "Not receiving: the DICOM receiver was taken over by {pc}.", pc=owner
                    )
                log.warning(
                    "DICOM from %s (%s) refused: %s receives now", calling_ae, address, owner
                )
                return OUT_OF_RESOURCES
            inbox.receive(
                self.sessions, self.store(), data, sender_ae=calling_ae, sender_address=address
            )
        except inbox.ReceiveRefused as exc:
            log.warning("DICOM from %s (%s) refused: %s", calling_ae, address, exc)
            return CANNOT_UNDERSTAND
        except Exception:
            log.exception("DICOM from %s (%s) could not be kept", calling_ae, address)
            return OUT_OF_RESOURCES
        return SUCCESS

    def _owner(self) -> str | None:
        """The PC the database says receives, read at most every OWNER_RECHECK_S seconds (not
        once per file of a series)."""
        now = time.monotonic()
        with self._lock:
            if self._owner_read is not None and now - self._owner_read[0] < OWNER_RECHECK_S:
                return self._owner_read[1]
        owner = listening_pc(self.sessions)
        with self._lock:
            self._owner_read = (now, owner)
        return owner


class _StartFailed(Exception):
    """Why the receiver does not listen, for the user."""
