"""Zip archives encrypted the WinZip AES way (AES-256, each entry with its own salt and an
HMAC-SHA1 authentication code), which 7-Zip, WinZip and most zip tools open with the passphrase.
pyzipper reads and writes them with the standard library's ZipFile interface (its cipher work
done by OpenSSL, backend.backup.winzip_aes); a plain archive is always opened with the standard
library itself.

The zip's directory (entry names, sizes, dates) is not encrypted: that is the format. Every
entry's content is, the manifest included, and the manifest lists every entry's size and
SHA-256, so a change to any part of the archive is found."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO, Any, cast

import pyzipper

from backend.backup.manifest import DATABASE_ENTRY, MANIFEST_NAME
from backend.backup.passphrase import PassphraseNeeded, WrongPassphrase
from backend.backup.winzip_aes import FastAESZipFile
from backend.i18n import gettext

# What a damaged archive raises from either zip implementation (pyzipper has its own copy).
# NotImplementedError: a directory naming a zip version or feature no reader has (a damaged
# byte can make one), which says as much as a damaged directory.
BAD_ZIP: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    pyzipper.BadZipFile,
    NotImplementedError,
)
# And what else an unreadable zip raises: the file itself, a garbled name.
UNREADABLE: tuple[type[Exception], ...] = (*BAD_ZIP, OSError, ValueError)
AES_STRENGTH_256 = 3


def is_encrypted(archive: zipfile.ZipFile) -> bool:
    """Whether any entry of the archive is encrypted."""
    return any(info.flag_bits & 0x1 for info in archive.infolist())


def file_is_encrypted(path: Path) -> bool:
    """Whether the zip at `path` has encrypted entries (False for what is not a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return is_encrypted(archive)
    except UNREADABLE:
        return False


def is_aes(info: zipfile.ZipInfo) -> bool:
    """Whether the entry is WinZip AES encrypted (as read by an archive that open_backup
    opened); the old zip encryption is never accepted."""
    return bool(info.flag_bits & 0x1) and getattr(info, "wz_aes_version", None) in (1, 2)


def open_backup(path: Path | IO[bytes], passphrase: str | None) -> zipfile.ZipFile:
    """Open an archive to read: plain with the standard library, encrypted with the
    passphrase, which is checked first (PassphraseNeeded without one, WrongPassphrase when it
    opens neither the manifest nor the database)."""
    plain = zipfile.ZipFile(path)
    if not is_encrypted(plain):
        return plain
    plain.close()
    if not passphrase:
        raise PassphraseNeeded(gettext("This backup is encrypted: type its passphrase to open it."))
    archive = FastAESZipFile(path)
    try:
        archive.setpassword(passphrase.encode("utf-8"))
        if not _opens_any(archive):
            raise WrongPassphrase(
                gettext(
                    "The passphrase is wrong: it does not open this backup. Nothing was changed."
                )
            )
    except BaseException:
        archive.close()
        raise
    return cast(zipfile.ZipFile, archive)


def _opens_any(archive: Any) -> bool:
    """Whether the passphrase opens the manifest or the database entry. Each entry has its own
    salt and check value: a passphrase refused by both is wrong; one refused by only one of
    them is right, and that entry is damaged (which reading it reports)."""
    names = set(archive.namelist())
    tried = [name for name in (MANIFEST_NAME, DATABASE_ENTRY) if name in names]
    if not tried:
        return True  # not one of our backups: the checks that follow say so
    for name in tried:
        try:
            archive.open(name).close()
            return True
        except RuntimeError:  # "Bad password for file"
            continue
        except BAD_ZIP:
            return True  # the passphrase was accepted; the entry is damaged
    return False


def open_writer(path: Path, passphrase: str | None) -> zipfile.ZipFile:
    """A new archive at `path` (never over an existing file), encrypted with AES-256 when a
    passphrase is given."""
    if passphrase is None:
        return zipfile.ZipFile(path, "x", allowZip64=True)
    archive = FastAESZipFile(
        path,
        "x",
        allowZip64=True,
        encryption=pyzipper.WZ_AES,
        encryption_kwargs={"nbits": 256},
    )
    archive.setpassword(passphrase.encode("utf-8"))
    return cast(zipfile.ZipFile, archive)


def new_info(
    archive: zipfile.ZipFile, name: str, date_time: tuple[int, int, int, int, int, int]
) -> zipfile.ZipInfo:
    """An entry description of the kind `archive` writes."""
    if isinstance(archive, zipfile.ZipFile):
        return zipfile.ZipInfo(name, date_time=date_time)
    return cast(zipfile.ZipInfo, pyzipper.zipfile_aes.AESZipInfo(name, date_time=date_time))
