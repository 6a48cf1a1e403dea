"""Is a zip archive safe to read and extract? Entry names, entry types and declared sizes are
checked before a single byte is extracted; the declared sizes must fit in the free space of the
disk they are unpacked to; and every byte read is counted against the size its entry declares,
so that reading stops at the first byte beyond it. A zip bomb either declares what it expands
to (and finds no room) or hides it (and is stopped where its declaration ends).

How well an entry compresses proves nothing: a black camera frame or a blank x-ray deflates a
thousand times and is an honest file, so no compression ratio is ever refused."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyzipper

from backend.backup.errors import NotEnoughSpace
from backend.fileio import free_bytes, human_size, is_safe_file_name
from backend.i18n import gettext, ngettext
from backend.storage import UnsafePath, resolve_under

MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK = MIB

_DRIVE = re.compile(r"^[A-Za-z]:")
_ALLOWED_TYPES = (0, stat.S_IFREG, stat.S_IFDIR)


@dataclass(frozen=True)
class ArchiveLimits:
    """What a real backup never exceeds, whatever its data: how many entries, how long their
    names, how large each entry and all of them together may declare to be."""

    max_entries: int = 2_000_000
    max_name_length: int = 1024
    max_part_bytes: int = 255
    max_entry_bytes: int = 64 * GIB
    max_total_bytes: int = 4096 * GIB


DEFAULT_LIMITS = ArchiveLimits()


class UnsafeArchive(Exception):
    """An entry that turned out hostile or damaged while it was being read."""


def name_problem(name: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> str | None:
    """Why an entry name may not be extracted (absolute, leaving its folder, reserved, too
    long...), or None when it is a plain relative path."""
    shown = repr(name[:120])
    if not name:
        return gettext("An entry has no name.")
    if len(name) > limits.max_name_length:
        return gettext("The entry name {name}... is too long.", name=shown)
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return gettext("The entry name {name} holds control characters.", name=shown)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return gettext("The entry {name} has an absolute path.", name=shown)
    parts = re.split(r"[\\/]", name[:-1] if name.endswith("/") else name)
    if ".." in parts:
        return gettext("The entry {name} points outside the archive's folder ('..').", name=shown)
    for part in parts:
        if part in ("", "."):
            return gettext("The entry name {name} has an empty or '.' part.", name=shown)
        if len(part.encode("utf-8")) > limits.max_part_bytes:
            return gettext(
                "The entry name {name} has a part longer than {limit} bytes.",
                name=shown,
                limit=limits.max_part_bytes,
            )
        if not is_safe_file_name(part):  # the one rule: Windows' characters and devices
            return gettext("The entry name {name} is not a valid file name on Windows.", name=shown)
    return None


def entry_problem(info: zipfile.ZipInfo, limits: ArchiveLimits = DEFAULT_LIMITS) -> str | None:
    """Why one entry is refused: its name, its type (links, devices), encryption or declared
    size. None when it is fine."""
    problem = name_problem(info.filename, limits)
    if problem:
        return problem
    name = repr(info.filename[:120])
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return gettext("The entry {name} is a symbolic link; links are never extracted.", name=name)
    if kind not in _ALLOWED_TYPES:
        return gettext("The entry {name} is a device, pipe or socket, not a file.", name=name)
    if info.flag_bits & 0x1 and getattr(info, "wz_aes_version", None) not in (1, 2):
        # only WinZip AES, read with the passphrase (backend.backup.encrypted_zip)
        return gettext("The entry {name} is encrypted.", name=name)
    if info.file_size > limits.max_entry_bytes:
        return gettext(
            "The entry {name} declares {size}, more than any backup holds.",
            name=name,
            size=human_size(info.file_size),
        )
    return None


def archive_problems(
    archive: zipfile.ZipFile, archive_size: int, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[str]:
    """Every reason the archive as a whole may not be extracted, from its central directory
    alone (nothing is decompressed here). `archive_size` is the size of the zip file."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        return [
            ngettext(
                "The archive has {n} entry, more than any backup holds.",
                "The archive has {n} entries, more than any backup holds.",
                len(infos),
            )
        ]
    problems = []
    encrypted = sum(1 for info in infos if info.flag_bits & 0x1)
    if 0 < encrypted < len(infos):
        problems.append(
            gettext(
                "{encrypted} of the archive's {count} entries are encrypted and the others are "
                "not: a backup encrypts all of them, so the archive was altered.",
                encrypted=encrypted,
                count=len(infos),
            )
        )
    seen: set[str] = set()
    total = 0
    compressed = 0
    for info in infos:
        problem = entry_problem(info, limits)
        if problem:
            problems.append(problem)
            continue
        key = unicodedata.normalize("NFC", info.filename.replace("\\", "/")).casefold()
        if key in seen:
            problems.append(
                gettext("The entry {filename} appears twice.", filename=repr(info.filename[:120]))
            )
        seen.add(key)
        total += info.file_size
        compressed += info.compress_size
    if total > limits.max_total_bytes:
        problems.append(
            gettext(
                "The archive declares {total} in all, more than any backup holds.",
                total=human_size(total),
            )
        )
    # The entries' compressed bytes are distinct parts of the file; entries claiming more than
    # the whole file share their data, which only a zip bomb does.
    if compressed > archive_size:
        problems.append(
            gettext(
                "The entries claim {compressed} of compressed data in an archive of "
                "{archive_size}: they overlap, as in a zip bomb, not a backup.",
                compressed=human_size(compressed),
                archive_size=human_size(archive_size),
            )
        )
    if not problems:  # the directory itself is sound: do the entries agree with it?
        problems += layout_problems(archive)
    return problems


_LOCAL = struct.Struct("<4s2xHH4xIIIHH")  # signature, flags, method, crc, sizes, name, extra
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_HAS_DESCRIPTOR = 0x08
_ZIP64_MARK = 0xFFFFFFFF


def layout_problems(archive: zipfile.ZipFile) -> list[str]:
    """What the central directory and the entries themselves disagree on: bytes before the
    first entry (something prepended to the zip), and an entry whose local header or data
    descriptor gives another checksum or size than the central directory, which other
    programs would trust instead (the same archive would then hold two different contents)."""
    infos = archive.infolist()
    if not infos:
        return []
    first = min(info.header_offset for info in infos)
    if first > 0:
        return [
            ngettext(
                "The file holds {n} byte before its zip archive begins: a backup starts with "
                "its archive, so something was put in front of it (or it is another kind of "
                "file with a zip attached). Use another backup.",
                "The file holds {n} bytes before its zip archive begins: a backup starts with "
                "its archive, so something was put in front of it (or it is another kind of "
                "file with a zip attached). Use another backup.",
                first,
            )
        ]
    handle = archive.fp
    assert handle is not None
    problems = []
    for info in infos:
        found = _stored_facts(handle, info)
        if found is not None and found != (info.CRC, info.compress_size, info.file_size):
            problems.append(
                gettext(
                    "The entry {name} gives another checksum or size in its own header than in "
                    "the archive's directory: the archive was altered or damaged.",
                    name=repr(info.filename[:120]),
                )
            )
    return problems


def _stored_facts(handle: IO[bytes], info: zipfile.ZipInfo) -> tuple[int, int, int] | None:
    """(CRC-32, compressed size, size) as the entry's local header, or its data descriptor
    when it has one, states them; None where they are left to the zip64 extra field."""
    handle.seek(info.header_offset)
    raw = handle.read(_LOCAL.size)
    if len(raw) < _LOCAL.size:
        return (-1, -1, -1)
    signature, flags, _method, crc, packed, size, name_length, extra_length = _LOCAL.unpack(raw)
    if signature != _LOCAL_SIGNATURE:
        return (-1, -1, -1)
    if not flags & _HAS_DESCRIPTOR:
        return None if _ZIP64_MARK in (packed, size) else (crc, packed, size)
    handle.seek(info.header_offset + _LOCAL.size + name_length + extra_length + info.compress_size)
    zip64 = max(info.compress_size, info.file_size) >= _ZIP64_MARK
    raw = handle.read(4 + (20 if zip64 else 12))
    if raw[:4] == _DESCRIPTOR_SIGNATURE:
        raw = raw[4:]
    layout = "<IQQ" if zip64 else "<III"
    needed = struct.calcsize(layout)
    if len(raw) < needed:
        return (-1, -1, -1)
    return struct.unpack(layout, raw[:needed])


def room_problem(plan: Iterable[tuple[zipfile.ZipInfo, Path]]) -> str | None:
    """Why the entries cannot be extracted where they go: the sizes they declare do not fit in
    the free space of the disk. `plan` pairs each entry with the folder it is unpacked in;
    entries bound for the same disk are added up. None when everything fits."""
    disks: dict[int, _Need] = {}
    for info, folder in plan:
        place = _existing(folder)
        disks.setdefault(os.stat(place).st_dev, _Need(place)).add(info)
    for need in disks.values():
        free = free_bytes(need.folder)
        if need.total > free:
            assert need.largest is not None
            return ngettext(
                "Unpacking it needs {total} on the disk holding {folder} ({n} file, {name}, "
                "declares {size}), and {free} is free.",
                "Unpacking it needs {total} on the disk holding {folder} ({n} files; the "
                "largest, {name}, declares {size}), and {free} is free.",
                need.count,
                total=human_size(need.total),
                folder=need.folder,
                name=repr(need.largest.filename[:120]),
                size=human_size(need.largest.file_size),
                free=human_size(free),
            )
    return None


def require_room(plan: Iterable[tuple[zipfile.ZipInfo, Path]]) -> None:
    """Refuse, before anything is extracted, entries whose declared sizes do not fit on the
    disk they go to (see room_problem): raises NotEnoughSpace naming the sizes."""
    problem = room_problem(plan)
    if problem:
        raise NotEnoughSpace(
            gettext(
                "{problem} Free up space there, then try again. Nothing was changed.",
                problem=problem,
            ),
            field="path",
        )


@dataclass
class _Need:
    """What the entries bound for one disk declare."""

    folder: Path
    total: int = 0
    count: int = 0
    largest: zipfile.ZipInfo | None = None

    def add(self, info: zipfile.ZipInfo) -> None:
        self.total += info.file_size
        self.count += 1
        if self.largest is None or info.file_size > self.largest.file_size:
            self.largest = info


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def stream_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    sink: Callable[[bytes], object],
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Read one entry in blocks of at most 1 MB into `sink`, hashing as it goes, counting every
    byte against the size the entry declares: reading stops at the first byte beyond it, which
    never reaches `sink`. Returns (size, sha256). Raises UnsafeArchive when the entry is
    damaged, or holds more or less than it declares."""
    declared = info.file_size
    name = info.filename[:120]
    # zipfile cuts an entry silently at its declared size (and checks the CRC-32 where it cuts);
    # allowed more, it hands over the first byte beyond, so a stream going on past its
    # declaration shows itself. It decompresses at most a few KB ahead of what is read, so the
    # allowance is never used up before that byte arrives, and nothing beyond it is read.
    opened = copy.copy(info)
    opened.file_size = declared + CHUNK
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(opened) as source:
            while block := source.read(min(CHUNK, declared - size + 1)):
                if size + len(block) > declared:
                    raise UnsafeArchive(
                        gettext(
                            "The entry {name} holds more data than the {declared} it declares "
                            "(reading stopped at byte {value}): that is a zip bomb or a damaged "
                            "archive, not a backup.",
                            name=repr(name),
                            declared=human_size(declared),
                            value=declared + 1,
                        )
                    )
                size += len(block)
                digest.update(block)
                sink(block)
                if on_bytes is not None:
                    on_bytes(len(block))
    except (zipfile.BadZipFile, pyzipper.BadZipFile) as exc:
        if "HMAC" in str(exc):  # an encrypted entry whose authentication code does not match
            raise UnsafeArchive(
                gettext(
                    "The entry {name} fails its authentication check: the encrypted archive was "
                    "altered or damaged.",
                    name=repr(name),
                )
            ) from exc
        raise UnsafeArchive(
            gettext("The entry {name} is damaged ({exc}).", name=repr(name), exc=exc)
        ) from exc
    except RuntimeError as exc:  # an encrypted entry refusing the passphrase the others took
        raise UnsafeArchive(
            gettext(
                "The entry {name} is damaged: its encryption header does not match the "
                "passphrase that opens the rest of the archive.",
                name=repr(name),
            )
        ) from exc
    except (zlib.error, EOFError, NotImplementedError) as exc:
        raise UnsafeArchive(
            gettext("The entry {name} is damaged ({exc}).", name=repr(name), exc=exc)
        ) from exc
    if size < declared:
        raise UnsafeArchive(
            gettext(
                "The entry {name} ends after {size} of the {declared} bytes it declares: the "
                "archive is damaged.",
                name=repr(name),
                size=size,
                declared=declared,
            )
        )
    return size, digest.hexdigest()


def extract_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    root: Path,
    relative: str,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[Path, int, str]:
    """Write one entry to `root/relative` (a new file; never outside `root`, never over an
    existing file, never more than the entry declares, and only when its declared size fits
    on the disk). Returns (path, size, sha256); a failed entry leaves no file behind."""
    try:
        target = resolve_under(root, relative)
    except UnsafePath as exc:
        raise UnsafeArchive(str(exc)) from exc
    require_room([(info, root)])
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(target, "xb")  # noqa: SIM115 - closed below; removed only if ours
    except FileExistsError as exc:
        raise UnsafeArchive(
            gettext("The entry {filename} appears twice.", filename=repr(info.filename[:120]))
        ) from exc
    try:
        with handle:
            size, digest = stream_member(archive, info, handle.write, on_bytes=on_bytes)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, size, digest
