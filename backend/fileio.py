"""Durable file writes, the one way every writer of the program touches the disk.

What is here, and why it is one module: a file is written under a temporary name, flushed,
and only then given its final name, which is never one that exists (`publish`); JSON and
configuration are replaced atomically (`write_json_atomic`, `write_text_atomic`); a new name
in a folder is chosen as `name`, `name-2`, `name-3`... judged without regard to case, because
NTFS and APFS treat `A.png` and `a.png` as one name (`free_name`); directories are synced where
the OS can (`fsync_dir`); and Windows' ways are handled in one place: a file another program
has open refuses a rename or a delete for a moment (`rename`, `replace`, `unlink` retry for up
to `RETRY_SECONDS`, then raise `FileInUse`), paths over 260 characters need the `\\\\?\\` prefix
(`long_path`), and some names are devices, not files (`safe_file_name`).

Text is always read and written as UTF-8: the Windows default (cp1252) cannot hold Arabic
names."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import ntpath
import os
import re
import secrets
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

IS_WINDOWS = os.name == "nt"
# Windows: os.rename fails when the target exists (also on a share: the server decides).
RENAME_REFUSES_EXISTING = IS_WINDOWS
# How long a rename or delete waits for another program (an antivirus, an indexer, a viewer)
# to let go of a file, and how often it tries meanwhile.
RETRY_SECONDS = 2.0
RETRY_PAUSE = 0.05
# Windows errors of a file held open by another process: ERROR_ACCESS_DENIED (5, also a file
# being deleted), ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33).
SHARING_VIOLATIONS = frozenset({5, 32, 33})
MAX_PATH = 260
MAX_NAME = 255
_RESERVED_STEMS = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{device}{digit}" for device in ("COM", "LPT") for digit in "0123456789¹²³"]
)
_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')

T = TypeVar("T")


class FileInUse(PermissionError):
    """A rename or delete that Windows refused for longer than `RETRY_SECONDS` because another
    program has the file open."""


# ----- Windows: sharing violations and long paths


def is_sharing_violation(exc: BaseException) -> bool:
    """Whether `exc` is Windows refusing a file that another process has open."""
    return isinstance(exc, PermissionError) and getattr(exc, "winerror", None) in (
        SHARING_VIOLATIONS
    )


def retrying(action: Callable[[], T], *, seconds: float | None = None) -> T:
    """`action()`, tried again for up to `seconds` (default `RETRY_SECONDS`) while it fails
    with a sharing violation; then `FileInUse`. Other errors are raised at once."""
    deadline = time.monotonic() + (RETRY_SECONDS if seconds is None else seconds)
    while True:
        try:
            return action()
        except PermissionError as exc:
            if not is_sharing_violation(exc):
                raise
            if time.monotonic() >= deadline:
                in_use = FileInUse(exc.errno, exc.strerror, exc.filename)
                # OSError declares winerror on Windows only (tests set it elsewhere), so the
                # ignore is needed on every other platform and unused on Windows.
                in_use.winerror = exc.winerror  # type: ignore[attr-defined, unused-ignore]
                raise in_use from exc
            time.sleep(RETRY_PAUSE)


def long_path(path: str | os.PathLike[str], *, windows: bool = IS_WINDOWS) -> Any:
    """`path` as the OS call should get it: on Windows an absolute path of `MAX_PATH` or more
    characters gets the `\\\\?\\` prefix (`\\\\?\\UNC\\` for a share), which lifts the limit
    where the system's long-path setting is off; anything else is returned as it was."""
    if not windows:
        return path
    text = os.fspath(path)
    if len(text) < MAX_PATH - 12 or text.startswith("\\\\?\\"):
        # 12: Windows also refuses a folder whose name leaves no room for an 8.3 file name.
        return path
    if not ntpath.isabs(text):
        return path  # a relative path cannot carry the prefix; it is resolved by the caller
    normal = ntpath.normpath(text.replace("/", "\\"))
    if normal.startswith("\\\\"):
        return "\\\\?\\UNC\\" + normal[2:]
    return "\\\\?\\" + normal


def short_form(path: str) -> str:
    """`path` without the `\\\\?\\` (or `\\\\?\\UNC\\`) prefix, so that two answers of
    `os.path.realpath` for places in one folder compare: Windows' realpath keeps the prefix when
    a part of the path appeared or vanished while it resolved (another writer at work)."""
    if path.startswith("\\\\?\\UNC\\"):
        return "\\\\" + path[8:]
    if path.startswith("\\\\?\\"):
        return path[4:]
    return path


def real_path(path: str | os.PathLike[str]) -> str:
    """`os.path.realpath(path)` in the short form (see `short_form`), also for paths over
    `MAX_PATH`: where the OS cannot give a long path's final name (Wine answers ERROR_MORE_DATA
    even with the `\\\\?\\` prefix), the nearest parent it can resolve is resolved and the
    rest joined to it as it is."""
    text = os.fspath(path)
    try:
        return short_form(os.path.realpath(long_path(text)))
    except OSError:
        parent, name = os.path.split(text)
        if not name or not parent or parent == text:
            raise
        return os.path.join(real_path(parent), name)


def rename(source: Path | str, target: Path | str) -> None:
    """`os.rename`, waiting out another program that holds the file (see `retrying`). It
    replaces an existing target on POSIX: use `publish` for a name that must be new."""
    retrying(lambda: os.rename(long_path(source), long_path(target)))


def replace(source: Path | str, target: Path | str) -> None:
    """`os.replace` (an atomic overwrite), waiting out another program holding either file."""
    retrying(lambda: os.replace(long_path(source), long_path(target)))


def unlink(path: Path | str, *, missing_ok: bool = True) -> bool:
    """Delete a file, waiting out another program holding it. False when it was not there."""

    def delete() -> bool:
        try:
            os.unlink(long_path(path))
        except FileNotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    return retrying(delete)


def discard(path: Path | str) -> bool:
    """`unlink` for a temporary file of our own, in cleanup: one that another program still
    holds after the wait (an antivirus scanning it) is logged and left, hidden and ignored,
    instead of turning a finished step into an error. False when it was not removed."""
    try:
        return unlink(path)
    except FileInUse:
        log.warning("%s is held by another program; it is left for later", path)
        return False


# ----- flushing


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to the disk."""
    with open(long_path(path), "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Make new, renamed and removed names in `folder` survive a power loss. Skipped on
    Windows (a directory cannot be opened there, and NTFS journals its names itself) and for a
    folder that is gone."""
    if IS_WINDOWS or not folder.is_dir():
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_all(paths: list[Path]) -> None:
    """Flush freshly written files to disk: one system-wide sync where the OS has it, else one
    fsync per file."""
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        fsync_file(path)


def sync_folders(folders: Iterable[Path]) -> None:
    """Make new and removed names in `folders` durable: one system-wide sync where there are
    many (far cheaper than hundreds of directory fsyncs on Linux), else each folder's own."""
    folders = set(folders)
    if len(folders) > 8 and sys.platform.startswith("linux"):  # Linux's sync() waits for the disk
        os.sync()
        return
    for folder in folders:
        fsync_dir(folder)


def write_flushed(path: Path, data: bytes) -> None:
    """Write `data` as a new file `path` (never over an existing one) and flush it; closed
    before it returns, so that Windows lets it be renamed."""
    with open(long_path(path), "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class BackgroundWrite:
    """`write_flushed(path, data)` running on its own thread, so that the disk work overlaps
    the caller's (checking the same bytes, hashing them): the write and the fsync release
    the GIL. `wait` returns once the file is flushed and closed, raising
    what the write raised; `discard` waits, then removes the file (unless the name was
    another's: the write never replaces a file)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self._error: BaseException | None = None
        self._ours = True
        self._thread = threading.Thread(
            target=self._run, args=(data,), name="file-write", daemon=True
        )
        self._thread.start()

    def _run(self, data: bytes) -> None:
        try:
            write_flushed(self.path, data)
        except FileExistsError as exc:
            self._ours = False  # someone else's file: discard() must leave it
            self._error = exc
        except BaseException as exc:  # handed to the caller by wait()
            self._error = exc

    def wait(self) -> Path:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.path

    def discard(self) -> None:
        self._thread.join()
        if self._ours:
            discard(self.path)


def copy_flushed(source: Path, target: Path) -> None:
    """A copy of `source` at `target`, flushed to disk (and closed) before it returns."""
    shutil.copyfile(long_path(source), long_path(target))
    fsync_file(target)


def temp_name(final: Path, suffix: str = ".part") -> Path:
    """A fresh hidden temporary name beside `final`, for the file that will become it."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}{suffix}")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so that a crash leaves either the old or the new
    content, never a part; the temporary file is closed before the rename (Windows)."""
    temp = temp_name(path)
    try:
        with open(long_path(temp), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        replace(temp, path)
    finally:
        discard(temp)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 2) -> None:
    """`write_text_atomic` of `data` as JSON; non-ASCII text (Arabic names) is kept as is."""
    write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False))


# ----- names


def name_key(name: str) -> str:
    """What two names that NTFS or APFS would take for the same one have in common."""
    return unicodedata.normalize("NFC", name).casefold()


def numbered_names(name: str) -> Iterator[str]:
    """`name`, then `stem-2.ext`, `stem-3.ext`... (`name-2`... for a name without a dot)."""
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    yield name
    for attempt in range(2, 10_000):
        yield f"{stem}-{attempt}{dot}{ext}"


def names_in(folder: Path) -> set[str]:
    """The names in `folder`, as `name_key`s (empty when the folder is not there)."""
    try:
        return {name_key(entry.name) for entry in os.scandir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def free_name(name: str, taken: Iterable[str]) -> str:
    """The first of `numbered_names(name)` that none of `taken` equals, ignoring case."""
    keys = {name_key(t) for t in taken}
    for candidate in numbered_names(name):
        if name_key(candidate) not in keys:
            return candidate
    raise FileExistsError(errno.EEXIST, f"no free name for {name}")


def safe_file_name(text: str, *, fallback: str = "file") -> str:
    """`text` made usable as one file name on Windows, macOS and Linux: characters Windows
    forbids (`<>:"/\\|?*`) and control characters become `_`; trailing dots and spaces (which
    Windows drops) go; a device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, also with ¹²³,
    CONIN$, CONOUT$; any case, with or without an extension) gets a leading `_`; the result is
    at most `MAX_NAME` characters, keeping the extension. Empty text gives `fallback`."""
    name = _FORBIDDEN_CHARS.sub("_", unicodedata.normalize("NFC", text or "")).strip(" ")
    name = name.rstrip(". ")
    if name in ("", "."):
        return fallback
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED_STEMS:
        name = "_" + name
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) < 16:
            name = stem[: MAX_NAME - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            name = name[:MAX_NAME].rstrip(". ")
    return name


def is_safe_file_name(name: str) -> bool:
    """Whether `name` is one usable file name on every OS as it is: no separator, drive or
    forbidden character, not `.` or `..`, no trailing dot or space, no device name."""
    return (
        bool(name)
        and name not in (".", "..")
        and len(name) <= MAX_NAME
        and not _FORBIDDEN_CHARS.search(name)
        and name == name.rstrip(". ")
        and name.split(".", 1)[0].rstrip(" ").upper() not in _RESERVED_STEMS
    )


# ----- publishing a finished file under a name that is new


def publish(temp: Path, final: Path, *, others_may_publish: bool = True) -> bool:
    """Give the finished, flushed and closed file `temp` the name `final` unless that name
    exists (False then, `temp` left as it was). An existing file is never overwritten, and a
    crash never leaves part of a file under `final`.

    1. A hard link: the file system itself refuses a taken name (also between PCs on one
       share), then `temp` is unlinked.
    2. No hard links here (FAT, exFAT, some shares): on Windows one `os.rename`, which refuses
       an existing target by itself.
    3. No hard links on macOS or Linux, where a rename replaces a target. With
       `others_may_publish` (folders several PCs write into) the name is first reserved by an
       exclusive create (`O_CREAT|O_EXCL`, decided by the file system or the file server), and
       the reservation, an empty file of our own, is then replaced by the finished file with an
       atomic `os.replace`. A crash between the two leaves an empty file under `final`: readers
       treat an empty file as none (no image is empty) and the store's upkeep removes it. A
       check-free create-and-copy into the reservation would be worse: a crash mid-copy would
       leave part of a file there, indistinguishable from a damaged one.
       Without `others_may_publish` (the caller holds the store lease, so no other job of the
       program writes into the folder) a plain check and rename: no placeholder is ever made,
       so a crash never leaves even an empty file under a final name (a backup archive)."""
    try:
        os.link(long_path(temp), long_path(final))
    except FileExistsError:
        return False
    except OSError:
        # EPERM/ENOTSUP/EXDEV and friends: no hard links on this file system (FAT, exFAT, some
        # shares) or across disks; any other trouble shows again in the rename.
        return _publish_without_links(temp, final, others_may_publish)
    discard(temp)  # published: a temporary name left behind only wastes a name
    return True


def _publish_without_links(temp: Path, final: Path, others_may_publish: bool) -> bool:
    if RENAME_REFUSES_EXISTING:
        try:
            rename(temp, final)
        except FileExistsError:
            return False
        return True
    if others_may_publish:
        try:
            fd = os.open(long_path(final), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        replace(temp, final)
        return True
    if os.path.lexists(final) or name_key(final.name) in names_in(final.parent):
        return False
    try:
        rename(temp, final)
    except FileExistsError:
        return False
    return True


def publish_new(temp: Path, folder: Path, name: str, *, others_may_publish: bool = False) -> Path:
    """Give the finished file `temp` the name `name` in `folder`, or `stem-2.ext`, `-3`...
    when that name is taken (ignoring case); returns the path it got. The folder is synced."""
    taken = names_in(folder)
    for candidate in numbered_names(safe_file_name(name)):
        if name_key(candidate) in taken:
            continue
        if publish(temp, folder / candidate, others_may_publish=others_may_publish):
            fsync_dir(folder)
            return folder / candidate
    raise FileExistsError(errno.EEXIST, f"no free name for {name} in {folder}")


def publish_dir(temp: Path, folder: Path, name: str) -> Path:
    """Give the finished folder `temp` the name `name` in `folder`, or `name-2`, `-3`... when
    that name is taken (ignoring case). For work under the store lease: the name is checked,
    then the folder renamed (a rename never replaces a folder holding files, and Windows never
    replaces one at all)."""
    taken = names_in(folder)
    for candidate in numbered_names(name):
        final = folder / candidate
        if name_key(candidate) in taken or os.path.lexists(final):
            continue
        try:
            rename(temp, final)
        except (FileExistsError, IsADirectoryError):
            continue
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            continue
        fsync_dir(folder)
        return final
    raise FileExistsError(errno.EEXIST, f"no free name for {name} in {folder}")


# ----- space, leftovers


def human_size(size: int) -> str:
    """`size` bytes for a person: "512 bytes", "3.4 MB", "1.2 GB"."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def folder_usage(folder: Path, *, skip: Iterable[str] = ()) -> tuple[int, int]:
    """(files, bytes) below `folder`, leaving out its subfolders named in `skip`; a file that
    vanishes meanwhile is not counted."""
    files = total = 0
    left_out = set(skip)
    for dirpath, dirs, names in os.walk(folder):
        if left_out and Path(dirpath) == folder:
            dirs[:] = [name for name in dirs if name not in left_out]
        for name in names:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            files += 1
    return files, total


def write_refused(folder: Path) -> OSError | None:
    """Why a new file cannot be written in the existing `folder` (a probe file is written and
    removed), or None when it can."""
    probe = folder / f".dental-images-write-test-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"")
        probe.unlink(missing_ok=True)  # a folder that keeps what it is given cannot be used
    except OSError as exc:
        return exc
    return None


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk holding `folder` (or its nearest existing parent)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def space_shortfall(folder: Path, needed: int, margin: int) -> tuple[bool, int]:
    """(whether `folder`'s disk lacks `needed` bytes plus `margin`, its free bytes), for the
    caller's own message (`human_size` makes the numbers readable)."""
    free = free_bytes(folder)
    return free < needed + margin, free


def remove_path(path: Path) -> None:
    """Delete a file or a whole folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(long_path(path), ignore_errors=False)
    else:
        unlink(path)


def remove_stale(folder: Path, pattern: str, older_than_s: float) -> int:
    """Delete leftovers of crashed runs (`pattern` in `folder`) not touched for a while; a live
    run keeps its files fresh. Returns how many were removed."""
    removed = 0
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    for path in folder.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                remove_path(path)
                removed += 1
        except OSError:
            continue
    return removed


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    with open(long_path(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
