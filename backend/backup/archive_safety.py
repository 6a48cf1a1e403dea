"""Is a zip archive safe to read and extract? Entry names, entry types, sizes and compression
ratios are checked before a single byte is extracted, and every byte read is counted against
the size the archive declared (a zip bomb cannot get past either)."""

from __future__ import annotations

import hashlib
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.storage import UnsafePath, resolve_under

MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK = MIB

_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_ALLOWED_TYPES = (0, stat.S_IFREG, stat.S_IFDIR)


@dataclass(frozen=True)
class ArchiveLimits:
    """What a real backup never exceeds. A deflated photo or database shrinks a few times at
    most; a ratio far beyond that, on a large entry, is a bomb."""

    max_entries: int = 2_000_000
    max_name_length: int = 1024
    max_part_bytes: int = 255
    max_entry_bytes: int = 64 * GIB
    max_total_bytes: int = 4096 * GIB
    max_ratio: float = 250.0
    ratio_floor_bytes: int = 4 * MIB


DEFAULT_LIMITS = ArchiveLimits()


class UnsafeArchive(Exception):
    """An entry that turned out hostile or damaged while it was being read."""


def name_problem(name: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> str | None:
    """Why an entry name may not be extracted (absolute, leaving its folder, reserved, too
    long...), or None when it is a plain relative path."""
    shown = name[:120]
    if not name:
        return "An entry has no name."
    if len(name) > limits.max_name_length:
        return f"The entry name {shown!r}... is too long."
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return f"The entry name {shown!r} holds control characters."
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return f"The entry {shown!r} has an absolute path."
    parts = re.split(r"[\\/]", name[:-1] if name.endswith("/") else name)
    if ".." in parts:
        return f"The entry {shown!r} points outside the archive's folder ('..')."
    for part in parts:
        if part in ("", "."):
            return f"The entry name {shown!r} has an empty or '.' part."
        if len(part.encode("utf-8")) > limits.max_part_bytes:
            return f"The entry name {shown!r} has a part longer than 255 bytes."
        if (
            ":" in part
            or part != part.rstrip(" .")
            or part.split(".")[0].upper() in (_WINDOWS_DEVICES)
        ):
            return f"The entry name {shown!r} is not a valid file name on Windows."
    return None


def entry_problem(info: zipfile.ZipInfo, limits: ArchiveLimits = DEFAULT_LIMITS) -> str | None:
    """Why one entry is refused: its name, its type (links, devices), encryption, size or
    compression ratio. None when it is fine."""
    problem = name_problem(info.filename, limits)
    if problem:
        return problem
    name = info.filename[:120]
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return f"The entry {name!r} is a symbolic link; links are never extracted."
    if kind not in _ALLOWED_TYPES:
        return f"The entry {name!r} is a device, pipe or socket, not a file."
    if info.flag_bits & 0x1:
        return f"The entry {name!r} is encrypted."
    if info.file_size > limits.max_entry_bytes:
        return f"The entry {name!r} declares {info.file_size} bytes, more than any backup holds."
    if info.file_size >= limits.ratio_floor_bytes and (
        info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        return (
            f"The entry {name!r} expands {ratio:.0f} times ({info.compress_size} bytes to "
            f"{info.file_size}): that is a zip bomb, not a backup."
        )
    return None


def archive_problems(
    archive: zipfile.ZipFile, archive_size: int, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[str]:
    """Every reason the archive as a whole may not be extracted, from its central directory
    alone (nothing is decompressed here)."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        return [f"The archive has {len(infos)} entries, more than any backup holds."]
    problems = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        problem = entry_problem(info, limits)
        if problem:
            problems.append(problem)
            continue
        key = unicodedata.normalize("NFC", info.filename.replace("\\", "/")).casefold()
        if key in seen:
            problems.append(f"The entry {info.filename[:120]!r} appears twice.")
        seen.add(key)
        total += info.file_size
    if total > limits.max_total_bytes:
        problems.append(f"The archive declares {total} bytes in all, more than any backup holds.")
    elif total >= limits.ratio_floor_bytes and total > limits.max_ratio * max(archive_size, 1):
        problems.append(
            f"The archive would expand from {archive_size} to {total} bytes: that is a zip "
            "bomb, not a backup."
        )
    return problems


def stream_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    sink: Callable[[bytes], object],
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Read one entry in 1 MB blocks into `sink`, hashing as it goes; never more bytes than the
    entry declares. Returns (size, sha256). Raises UnsafeArchive when the entry is damaged or
    holds more than it declares."""
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(info) as source:
            while block := source.read(CHUNK):
                size += len(block)
                if size > info.file_size:
                    raise UnsafeArchive(
                        f"The entry {info.filename[:120]!r} holds more data than it declares."
                    )
                digest.update(block)
                sink(block)
                if on_bytes is not None:
                    on_bytes(len(block))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UnsafeArchive(f"The entry {info.filename[:120]!r} is damaged ({exc}).") from exc
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
    existing file). Returns (path, size, sha256); a failed entry leaves no file behind."""
    try:
        target = resolve_under(root, relative)
    except UnsafePath as exc:
        raise UnsafeArchive(str(exc)) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(target, "xb")  # noqa: SIM115 - closed below; removed only if ours
    except FileExistsError as exc:
        raise UnsafeArchive(f"The entry {info.filename[:120]!r} appears twice.") from exc
    try:
        with handle:
            size, digest = stream_member(archive, info, handle.write, on_bytes=on_bytes)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, size, digest
