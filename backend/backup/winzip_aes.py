"""WinZip AES at the speed of OpenSSL. pyzipper writes and reads the format, with AES and
HMAC-SHA1 from pycryptodomex, which runs AES an order of magnitude slower than OpenSSL's
pipelined AES-NI and SHA-1 without the CPU's SHA instructions; that made an encrypted backup
take twice as long as a plain one. Here the same format (AppNote AE-1/AE-2: keys by PBKDF2-HMAC-
SHA1 over 1000 rounds, AES in CTR mode with a little-endian counter starting at 1, HMAC-SHA1
of the ciphertext cut to 10 bytes) runs on OpenSSL through `cryptography` and `hashlib`.
Where `cryptography`'s native part cannot be loaded (Wine, where the Windows build is made and
checked, cannot load it), AES-ECB comes from pycryptodomex instead: the same bytes, slower.

OpenSSL's CTR mode counts big-endian, WinZip little-endian, so the counter blocks are built
here and encrypted with AES-ECB, which is the definition of CTR mode: block n of keystream is
AES(key, counter n). The blocks of a run of 65536 counters share their 14 high bytes, so a run
is a constant table of the low two bytes XOR the run's high bytes repeated: no Python loop
over blocks."""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pyzipper
from Cryptodome.Cipher import AES
from Cryptodome.Util.strxor import strxor
from pyzipper import zipfile_aes

BLOCK = 16
RUN = 65536  # counters sharing their high bytes
_LOW_COUNTERS = b"".join(struct.pack("<H", n) + bytes(14) for n in range(RUN))
PBKDF2_ROUNDS = 1000
HMAC_BYTES = 10


def aes_ecb(key: bytes) -> Callable[[bytes], bytes]:
    """AES-ECB encryption under `key` of whole blocks: OpenSSL's when `cryptography` loads,
    else pycryptodomex's."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        encrypt: Callable[[bytes], bytes] = AES.new(key, AES.MODE_ECB).encrypt
        return encrypt
    update: Callable[[bytes], bytes] = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update
    return update


class CounterKeystream:
    """AES-CTR with WinZip's little-endian 128-bit counter, starting at 1: `apply(data)`
    encrypts or decrypts (the same XOR) the next bytes of the stream."""

    def __init__(self, key: bytes) -> None:
        self._ecb = aes_ecb(key)
        self._counter = 1
        self._spare = b""

    def _blocks(self, count: int) -> bytes:
        """Keystream for the next `count` counters."""
        parts = []
        while count:
            low = self._counter % RUN
            take = min(count, RUN - low)
            table = _counter_run(self._counter // RUN)[BLOCK * low : BLOCK * (low + take)]
            parts.append(self._ecb(table))
            self._counter += take
            count -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def apply(self, data: bytes) -> bytes:
        if not data:
            return b""
        needed = len(data) - len(self._spare)
        stream = self._spare
        if needed > 0:
            stream += self._blocks(-(-needed // BLOCK))
        self._spare = stream[len(data) :]
        return strxor(bytes(data), stream[: len(data)])

    encrypt = apply
    decrypt = apply


@lru_cache(maxsize=8)
def _counter_run(run: int) -> bytes:
    """The 65536 counter blocks of run `run` (counters run*65536 ...): the same for every key,
    so the first runs (the first megabytes of every entry) are built once. Bytes 2..7 of a
    counter come from the run; the rest are zero (an entry never reaches 2^64 blocks)."""
    if run == 0:
        return _LOW_COUNTERS
    pattern = b"\0\0" + struct.pack("<Q", run)[:6] + bytes(8)
    return strxor(_LOW_COUNTERS, pattern * RUN)


@lru_cache(maxsize=8192)
def derive(passphrase: bytes, salt: bytes, key_length: int) -> tuple[bytes, bytes, bytes]:
    """(AES key, HMAC key, 2-byte password check) of WinZip AES. Kept for the entries seen
    lately: PBKDF2 is most of the cost of a small entry, and the verification that follows a
    backup, and a restore after its check, derive the same keys again."""
    material = hashlib.pbkdf2_hmac(
        "sha1", passphrase, salt, PBKDF2_ROUNDS, dklen=2 * key_length + 2
    )
    return material[:key_length], material[key_length : 2 * key_length], material[2 * key_length :]


class FastEncrypter(zipfile_aes.AESZipEncrypter):  # type: ignore[misc]
    """pyzipper's encrypter (its AE-1/AE-2 choice and header), with OpenSSL doing the work:
    AES-256 only, a fresh random salt for every entry."""

    def __init__(self, pwd: bytes, nbits: int = 256) -> None:
        if not pwd or nbits != 256:
            raise RuntimeError("WinZip AES-256 encryption needs a password.")
        self.force_wz_aes_version = None
        self.conditionally_include_crc = None
        self.min_bytes_to_include_crc = None
        self.aes_strength = 3
        self.salt_length = zipfile_aes.WZ_SALT_LENGTHS[self.aes_strength]
        self.salt = os.urandom(self.salt_length)
        key_length = zipfile_aes.WZ_KEY_LENGTHS[self.aes_strength]
        key, mac_key, self.encpwdverify = derive(pwd, self.salt, key_length)
        self.encrypter = CounterKeystream(key)
        self.hmac = hmac.new(mac_key, digestmod="sha1")

    def flush(self) -> bytes:
        return self.hmac.digest()[:HMAC_BYTES]


class FastDecrypter(zipfile_aes.AESZipDecrypter):  # type: ignore[misc]
    """pyzipper's decrypter (password check, HMAC check), with OpenSSL doing the work."""

    def __init__(self, zinfo: Any, pwd: bytes, encryption_header: bytes) -> None:
        self.filename = zinfo.filename
        key_length = zipfile_aes.WZ_KEY_LENGTHS[zinfo.wz_aes_strength]
        salt_length = zipfile_aes.WZ_SALT_LENGTHS[zinfo.wz_aes_strength]
        key, mac_key, check = derive(pwd, encryption_header[:salt_length], key_length)
        if check != encryption_header[salt_length:]:
            raise RuntimeError(f"Bad password for file {zinfo.filename!r}")
        self.decypter = CounterKeystream(key)  # sic: pyzipper's name
        self.hmac = hmac.new(mac_key, digestmod="sha1")

    def check_hmac(self, hmac_check: bytes) -> None:
        if not hmac.compare_digest(self.hmac.digest()[:HMAC_BYTES], hmac_check):
            raise pyzipper.BadZipFile(f"Bad HMAC check for file {self.filename!r}")


class _FastExtFile(zipfile_aes.AESZipExtFile):  # type: ignore[misc]
    def setup_aeszipdecrypter(self) -> type[FastDecrypter]:
        super().setup_aeszipdecrypter()  # reads the header, adjusts the sizes
        return FastDecrypter


class _FastWriteFile(pyzipper.zipfile._ZipWriteFile):  # type: ignore[misc]
    """pyzipper's entry writer without its CRC-32 pass: an AE-2 entry (the only kind written
    here) stores no CRC, its HMAC covers the data."""

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self._encrypter is None or self._zinfo.wz_aes_version != zipfile_aes.WZ_AES_V2:
            return int(super().write(data))
        nbytes = len(data)
        self._file_size += nbytes
        if self._compressor:
            data = self._compressor.compress(data)
        data = self._encrypter.encrypt(data)
        self._compress_size += len(data)
        self._fileobj.write(data)
        return nbytes


class FastAESZipFile(pyzipper.AESZipFile):  # type: ignore[misc]
    """pyzipper.AESZipFile, encrypting and decrypting with OpenSSL."""

    zipextfile_cls = _FastExtFile
    zipwritefile_cls = _FastWriteFile

    def get_encrypter(self) -> FastEncrypter:
        return FastEncrypter(pwd=self.pwd, **(self.encryption_kwargs or {}))
