"""Encryption of a backup set: every file with patient data in it (the image files, each
backup's database and manifest) is AES-256-GCM encrypted in chunks. scrypt derives the set's
key from the backup passphrase and the set's own salt; the parameters are in set.json (the
passphrase is never stored; a check value there tells a wrong passphrase from a damaged file).

An encrypted file is `MAGIC`, a random 32-byte salt, then the plain bytes in chunks of `CHUNK`
bytes, each followed by its 16-byte tag. Each file has its own AES-256 key, derived from the
set's key and the file's salt with HKDF-SHA256 (its info naming the file's role): a set gains
files for years, and one key with random nonces over all of them would risk a repeated nonce.
A chunk's nonce is the chunk's number and a last-chunk flag (the STREAM construction), and its
associated data names the file's role, so chunks cannot be reordered, dropped, cut off at the
end or moved to another file without the tag saying so. Sizes and the checksums that name the
image files stay visible; contents, patient names and the database do not.

AES-GCM is OpenSSL's (through `cryptography`) where it loads, else pycryptodomex's (the Windows
build, made under Wine, cannot load `cryptography`): the same bytes either way."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol

from Cryptodome.Cipher import AES

from backend.backup.passphrase import KdfParams, PassphraseNeeded, WrongPassphrase, derive_key
from backend.i18n import gettext

SCHEME = "aes-256-gcm-chunked"
MAGIC = b"DISETv1\n"
SALT_BYTES = 32
HEADER_BYTES = len(MAGIC) + SALT_BYTES
CHUNK = 1024 * 1024
TAG_BYTES = 16
_CHECK_TEXT = b"Dental Images backup set key"
_CHECK_ROLE = b"set.json"
_MAX_CHUNKS = 2**32 - 1


class Undecryptable(Exception):
    """An encrypted file that is not whole: changed, cut short or not one of this set's."""


class _BadTag(Exception):
    """A chunk (or the key check) whose GCM tag does not match."""


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes: ...


class _OpenSslGcm:
    """AES-256-GCM by OpenSSL: ciphertext followed by its 16-byte tag."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        return self._aead.encrypt(nonce, data, associated)

    def decrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(nonce, data, associated)
        except InvalidTag as exc:
            raise _BadTag from exc


class _CryptodomeGcm:
    """The same AES-256-GCM by pycryptodomex."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
        cipher.update(associated)
        sealed, tag = cipher.encrypt_and_digest(data)
        return bytes(sealed) + bytes(tag)

    def decrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        if len(data) < TAG_BYTES:
            raise _BadTag
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
        cipher.update(associated)
        try:
            return bytes(cipher.decrypt_and_verify(data[:-TAG_BYTES], data[-TAG_BYTES:]))
        except ValueError as exc:  # "MAC check failed"
            raise _BadTag from exc


def _openssl_loads() -> bool:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: F401
    except ImportError:
        return False
    return True


GCM: type[_OpenSslGcm] | type[_CryptodomeGcm] = _OpenSslGcm if _openssl_loads() else _CryptodomeGcm


def hkdf_sha256(secret: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF with SHA-256 (RFC 5869): extract with `salt`, expand with `info`."""
    pseudo_random = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(pseudo_random, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


@dataclass(frozen=True, repr=False)
class SetKey:
    """The key of one encrypted set (from which each file's own key is derived)."""

    secret: bytes

    @property
    def aead(self) -> Aead:
        return GCM(self.secret)

    def for_file(self, salt: bytes, role: bytes) -> Aead:
        """The key of the file with this salt and role."""
        return GCM(hkdf_sha256(self.secret, salt, b"dental-images file " + role))


def new_encryption(passphrase: str) -> tuple[dict[str, Any], SetKey]:
    """The `encryption` part of a new set's set.json, and its key."""
    params = KdfParams.fresh()
    key = SetKey(derive_key(passphrase, params))
    nonce = secrets.token_bytes(12)
    check = nonce + key.aead.encrypt(nonce, _CHECK_TEXT, _CHECK_ROLE)
    return {"scheme": SCHEME, "kdf": params.as_dict(), "check": check.hex()}, key


def check_scheme(encryption: Any) -> None:
    """ValueError unless `encryption` (from set.json) names this scheme with sane parameters."""
    if not isinstance(encryption, Mapping) or encryption.get("scheme") != SCHEME:
        raise ValueError("unknown encryption scheme")
    kdf = encryption.get("kdf")
    if not isinstance(kdf, Mapping):
        raise ValueError("no key derivation")
    KdfParams.from_dict(kdf)
    if not isinstance(encryption.get("check"), str) or len(encryption["check"]) > 256:
        raise ValueError("no key check")


def unlock(encryption: Mapping[str, Any], passphrase: str | None) -> SetKey:
    """The set's key from the passphrase: PassphraseNeeded without one, WrongPassphrase when
    it does not open the set. `encryption` must have passed check_scheme."""
    if not passphrase:
        raise PassphraseNeeded(
            gettext("This backup set is encrypted: type its passphrase to open it.")
        )
    params = KdfParams.from_dict(encryption["kdf"])
    key = SetKey(derive_key(passphrase, params))
    try:
        check = bytes.fromhex(encryption["check"])
        opened = key.aead.decrypt(check[:12], check[12:], _CHECK_ROLE)
    except (ValueError, _BadTag) as exc:
        raise WrongPassphrase(
            gettext(
                "The passphrase is wrong: it does not open this backup set. Nothing was changed."
            )
        ) from exc
    if not hmac.compare_digest(opened, _CHECK_TEXT):
        raise WrongPassphrase()
    return key


def stored_size(plain_size: int) -> int:
    """The size on disk of an encrypted file of `plain_size` plain bytes."""
    return HEADER_BYTES + plain_size + _chunks(plain_size) * TAG_BYTES


def plain_size(size_on_disk: int) -> int | None:
    """The plain size of an encrypted file of this size on disk; None when no file is."""
    body = size_on_disk - HEADER_BYTES
    if body < TAG_BYTES:
        return None
    chunks = -(-body // (CHUNK + TAG_BYTES))
    plain = body - chunks * TAG_BYTES
    return plain if plain >= 0 and stored_size(plain) == size_on_disk else None


def _chunks(plain_size: int) -> int:
    return max(1, -(-plain_size // CHUNK))


def _nonce(number: int, last: bool) -> bytes:
    if number > _MAX_CHUNKS:
        raise ValueError("file too large for one encrypted stream")
    return bytes(7) + struct.pack(">I?", number, last)


class EncryptingWriter:
    """Writes the encrypted form of the bytes given to `write` into `handle`; `close` writes
    the last chunk (and must be called once everything is written)."""

    def __init__(self, handle: IO[bytes], key: SetKey, role: str) -> None:
        self._handle = handle
        self._role = role.encode("utf-8")
        salt = secrets.token_bytes(SALT_BYTES)
        self._aead = key.for_file(salt, self._role)
        self._pending = bytearray()
        self._number = 0
        handle.write(MAGIC + salt)

    def write(self, data: bytes) -> int:
        self._pending += data
        while len(self._pending) > CHUNK:  # the chunk after it exists: this one is not last
            self._emit(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        nonce = _nonce(self._number, last)
        self._handle.write(self._aead.encrypt(nonce, chunk, self._role))
        self._number += 1


def encrypt_bytes(data: bytes, key: SetKey, role: str, handle: IO[bytes]) -> None:
    """Write `data` encrypted into `handle`."""
    writer = EncryptingWriter(handle, key, role)
    writer.write(data)
    writer.close()


def decrypted_chunks(handle: IO[bytes], key: SetKey, role: str) -> Iterator[bytes]:
    """The plain bytes of the encrypted file read from `handle`, chunk by chunk, each
    authenticated before it is given; Undecryptable at the first that is not."""
    head = handle.read(HEADER_BYTES)
    if len(head) != HEADER_BYTES or not head.startswith(MAGIC):
        raise Undecryptable("not an encrypted file of a backup set")
    associated = role.encode("utf-8")
    aead = key.for_file(head[len(MAGIC) :], associated)
    size = CHUNK + TAG_BYTES
    current = handle.read(size)
    number = 0
    while True:
        following = handle.read(size) if len(current) == size else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(number, last), current, associated)
        except (_BadTag, ValueError) as exc:
            raise Undecryptable("changed, cut short or not this set's") from exc
        if last:
            return
        current = following
        number += 1


def decrypt_bytes(handle: IO[bytes], key: SetKey, role: str, limit: int) -> bytes:
    """The whole plain content of a small encrypted file (at most `limit` bytes)."""
    parts: list[bytes] = []
    total = 0
    for chunk in decrypted_chunks(handle, key, role):
        total += len(chunk)
        if total > limit:
            raise Undecryptable("larger than any such file")
        parts.append(chunk)
    return b"".join(parts)
