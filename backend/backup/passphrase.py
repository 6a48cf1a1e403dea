"""The backup passphrase: never stored in plain text. The clinic's database keeps only a scrypt
verifier (every PC sharing the database recognises the passphrase); the passphrase itself is
kept, for unattended scheduled backups, in this PC's OS credential store (Windows Credential
Manager, macOS Keychain, a Linux desktop's Secret Service) under the service `DentalImages`.
Where no credential store is usable, scheduled encrypted backups cannot run and say so, and a
backup made by hand asks for the passphrase. The key-derivation helpers serve every encrypted
backup format (scrypt parameters travel with what they protect)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keyring
from sqlalchemy.orm import Session

from backend import app_state
from backend.config import KEYRING_SERVICE
from backend.errors import ValidationError
from backend.i18n import gettext

log = logging.getLogger(__name__)

VERIFIER_KEY = app_state.BACKUP_PASSPHRASE_VERIFIER
PASSPHRASE_ENV = "DENTAL_IMAGES_BACKUP_PASSPHRASE"
MIN_LENGTH = 10
MAX_LENGTH = 1024
KEY_BYTES = 32
SALT_BYTES = 16
# scrypt at N=2^15, r=8: about 32 MB and a tenth of a second per guess on a clinic PC.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_KEYRING_USER = "backup-passphrase-{id}"


class PassphraseNeeded(ValidationError):
    """The backup is (or is to be) encrypted and no passphrase was given."""

    code = "passphrase_needed"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="passphrase")


class WrongPassphrase(ValidationError):
    code = "wrong_passphrase"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or gettext("The passphrase is wrong. Nothing was changed."), field="passphrase"
        )


@dataclass(frozen=True)
class KdfParams:
    """scrypt's parameters and salt: stored next to what a derived key protects."""

    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(secrets.token_bytes(SALT_BYTES))

    def as_dict(self) -> dict[str, Any]:
        return {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": self.salt.hex()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KdfParams:
        """Raises ValueError on anything but sane scrypt parameters (a hostile header must
        not make the program allocate gigabytes)."""
        if data.get("kdf") != "scrypt":
            raise ValueError("not scrypt")
        n, r, p = int(data["n"]), int(data["r"]), int(data["p"])
        if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
            raise ValueError("scrypt parameters out of range")
        salt = bytes.fromhex(str(data["salt"]))
        if len(salt) < SALT_BYTES:
            raise ValueError("scrypt salt too short")
        return cls(salt, n, r, p)


def derive_key(passphrase: str, params: KdfParams, length: int = KEY_BYTES) -> bytes:
    """The key of `length` bytes that scrypt derives from the passphrase (UTF-8)."""
    return hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=params.salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=256 * params.n * params.r + 2**20,
        dklen=length,
    )


def make_verifier(passphrase: str) -> str:
    """A JSON text that recognises the passphrase and does not reveal it."""
    params = KdfParams.fresh()
    return json.dumps({**params.as_dict(), "hash": derive_key(passphrase, params).hex()})


def matches(verifier: str, passphrase: str) -> bool:
    try:
        data = json.loads(verifier)
        params = KdfParams.from_dict(data)
        expected = bytes.fromhex(str(data["hash"]))
    except (ValueError, KeyError, TypeError):
        log.error("the stored backup passphrase verifier is unreadable")
        return False
    return hmac.compare_digest(derive_key(passphrase, params), expected)


def _user(verifier: str) -> str:
    """The credential's name: one per passphrase (a new passphrase never finds the old one)."""
    return _KEYRING_USER.format(id=hashlib.sha256(verifier.encode("utf-8")).hexdigest()[:16])


def stored_verifier(session: Session) -> str | None:
    return app_state.get(session, VERIFIER_KEY) or None


def keyring_usable() -> bool:
    """Whether this PC has a credential store that can hold a passphrase."""
    try:
        return bool(keyring.get_keyring().priority > 0)
    except Exception:  # a broken backend is no store
        return False


def from_keyring(verifier: str) -> str | None:
    """The passphrase this PC keeps for `verifier`, if it keeps one and it still matches."""
    try:
        found = keyring.get_password(KEYRING_SERVICE, _user(verifier))
    except Exception as exc:  # no store, locked, no D-Bus: nothing kept here
        log.info("no backup passphrase from the credential store (%s)", exc)
        return None
    return found if found and matches(verifier, found) else None


def _to_keyring(verifier: str, passphrase: str) -> bool:
    try:
        keyring.set_password(KEYRING_SERVICE, _user(verifier), passphrase)
    except Exception as exc:
        log.warning("no usable credential store (%s): scheduled encrypted backups cannot run", exc)
        return False
    return True


def _forget(verifier: str) -> None:
    try:
        keyring.delete_password(KEYRING_SERVICE, _user(verifier))
    except Exception as exc:  # nothing kept, or no store
        log.info("no backup passphrase removed from the credential store (%s)", exc)


def check_new(passphrase: Any, confirm: Any) -> str:
    """The new passphrase, typed twice alike and long enough; else ValidationError."""
    if not isinstance(passphrase, str) or not passphrase:
        raise ValidationError(gettext("Type a passphrase."), field="passphrase")
    if len(passphrase) < MIN_LENGTH or len(passphrase) > MAX_LENGTH:
        raise ValidationError(
            gettext(
                "A passphrase has at least {n} characters (several words are easiest to remember).",
                n=MIN_LENGTH,
            ),
            field="passphrase",
        )
    if confirm != passphrase:
        raise ValidationError(
            gettext("The two passphrases differ: type the same one twice."), field="confirm"
        )
    return passphrase


def _require_current(session: Session, current: Any) -> None:
    verifier = stored_verifier(session)
    if verifier is None:
        return
    if not isinstance(current, str) or not current:
        raise PassphraseNeeded(gettext("Type the current backup passphrase first."))
    if not matches(verifier, current):
        raise WrongPassphrase()


def set_passphrase(session: Session, passphrase: Any, confirm: Any, current: Any = None) -> bool:
    """Encrypt every backup from now on with `passphrase` (replacing the previous one, whose
    `current` passphrase must be given). Returns whether this PC's credential store keeps it
    for scheduled backups."""
    _require_current(session, current)
    new = check_new(passphrase, confirm)
    old = stored_verifier(session)
    verifier = make_verifier(new)
    app_state.put(session, VERIFIER_KEY, verifier)
    session.commit()
    if old:
        _forget(old)
    log.info("backup passphrase set; backups are encrypted from now on")
    return _to_keyring(verifier, new)


def remember_here(session: Session, passphrase: Any) -> bool:
    """Keep the (current) passphrase in this PC's credential store, for a PC that shares the
    clinic's database but has not got it yet. Returns whether it is kept."""
    verifier = stored_verifier(session)
    if verifier is None:
        raise ValidationError(gettext("No backup passphrase is set."), field="passphrase")
    if not isinstance(passphrase, str) or not matches(verifier, passphrase):
        raise WrongPassphrase()
    return _to_keyring(verifier, passphrase)


def clear_passphrase(session: Session, current: Any) -> None:
    """Make plain backups from now on (the current passphrase must be given)."""
    _require_current(session, current)
    verifier = stored_verifier(session)
    app_state.remove(session, VERIFIER_KEY)
    session.commit()
    if verifier:
        _forget(verifier)
    log.info("backup passphrase removed; backups are no longer encrypted")


def status(session: Session) -> dict[str, bool]:
    """`encrypted`: backups are encrypted; `kept_here`: this PC's credential store has the
    passphrase (scheduled backups can run); `store_usable`: this PC has a credential store."""
    verifier = stored_verifier(session)
    return {
        "encrypted": verifier is not None,
        "kept_here": verifier is not None and _kept(verifier),
        "store_usable": keyring_usable(),
    }


def _kept(verifier: str) -> bool:
    """Whether the store holds a passphrase under this verifier's name (no scrypt run: the
    backup itself checks it)."""
    try:
        return keyring.get_password(KEYRING_SERVICE, _user(verifier)) is not None
    except Exception:
        return False


def for_backup(session: Session, given: str | None, *, scheduled: bool = False) -> str | None:
    """The passphrase a new backup is encrypted with: None when backups are plain; `given`
    when it matches (WrongPassphrase otherwise); else the one this PC's credential store keeps.
    PassphraseNeeded when there is none to use."""
    verifier = stored_verifier(session)
    if verifier is None:
        return None
    if given:
        if not matches(verifier, given):
            raise WrongPassphrase()
        return given
    kept = from_keyring(verifier)
    if kept is not None:
        return kept
    if scheduled:
        raise PassphraseNeeded(
            gettext(
                "Backups are encrypted, and this PC keeps no backup passphrase in its credential "
                "store, so scheduled backups cannot run here. Type the passphrase in Settings → "
                'Backup ("Remember on this PC"), or back up by hand.'
            )
        )
    raise PassphraseNeeded(gettext("Backups are encrypted: type the backup passphrase."))


def from_environment() -> str | None:
    """The passphrase given to the command line by DENTAL_IMAGES_BACKUP_PASSPHRASE."""
    return os.environ.get(PASSPHRASE_ENV) or None
