"""Encrypted backups: the passphrase is kept only as a verifier (and in the OS credential
store), a backup made with it is a WinZip AES-256 zip that 7-Zip opens, and verify and restore
ask for it: a wrong one and a tampered archive are refused with clear words, nothing changed."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import keyring
import pytest
import pyzipper
from keyring.backends import fail

from backend.backup import passphrase, service, state
from backend.backup.create import create_backup
from backend.backup.errors import BackupInvalid
from backend.backup.passphrase import PassphraseNeeded, WrongPassphrase
from backend.backup.restore import preview_restore, restore_backup
from backend.backup.verify import verify_archive
from backend.config import KEYRING_SERVICE
from backend.errors import ValidationError
from backend.jobs import Progress
from backend.models import AppState
from backend.usecases import patients
from tests.backup_data import files, populate, state_of

SECRET = "olive tree by the sea 42"


@pytest.fixture
def db_url():
    return None  # the format is the engine's business nowhere here; the API tests run both


@pytest.fixture
def no_keyring():
    """A PC without a credential store, as a Linux server without a desktop session."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def set_secret(runtime, secret: str = SECRET) -> bool:
    with runtime.sessions() as session:
        return passphrase.set_passphrase(session, secret, secret)


def encrypted_backup(runtime, secret: str = SECRET) -> Path:
    return create_backup(runtime, runtime.settings.backups_dir, passphrase=secret).path


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def data_offset(path: Path, name: str) -> int:
    """Where the entry's stored bytes (the AES salt first) begin in the file."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = path.read_bytes()
    name_length, extra_length = struct.unpack_from("<HH", raw, info.header_offset + 26)
    return info.header_offset + 30 + name_length + extra_length


# -- the passphrase itself ---------------------------------------------------------------------


def test_the_verifier_recognises_the_passphrase_and_does_not_hold_it():
    verifier = passphrase.make_verifier(SECRET)
    assert SECRET not in verifier and SECRET.encode().hex() not in verifier
    data = json.loads(verifier)
    assert data["kdf"] == "scrypt" and data["n"] >= 2**15 and len(bytes.fromhex(data["salt"])) == 16
    assert passphrase.matches(verifier, SECRET)
    assert not passphrase.matches(verifier, SECRET + " ")
    assert passphrase.make_verifier(SECRET) != verifier  # a fresh salt each time


def test_derived_keys_depend_on_passphrase_and_salt_and_hostile_parameters_are_refused():
    params = passphrase.KdfParams.fresh()
    key = passphrase.derive_key(SECRET, params)
    assert len(key) == 32 and key == passphrase.derive_key(SECRET, params)
    assert key != passphrase.derive_key(SECRET, passphrase.KdfParams.fresh())
    assert key != passphrase.derive_key("another phrase", params)
    again = passphrase.KdfParams.from_dict(params.as_dict())
    assert again == params
    with pytest.raises(ValueError):
        passphrase.KdfParams.from_dict({**params.as_dict(), "n": 2**30})  # gigabytes of memory


def test_setting_the_passphrase_keeps_only_a_verifier_in_the_database(runtime, _memory_keyring):
    assert set_secret(runtime) is True
    with runtime.sessions() as session:
        values = [row.value for row in session.query(AppState).all()]
        assert passphrase.status(session) == {
            "encrypted": True,
            "kept_here": True,
            "store_usable": True,
        }
    assert not any(SECRET in value for value in values)
    database = Path(str(runtime.engine.url.database))
    runtime.engine.dispose()
    for suffix in ("", "-wal"):
        if Path(f"{database}{suffix}").exists():
            assert SECRET.encode() not in Path(f"{database}{suffix}").read_bytes()
    kept = {key: value for key, value in _memory_keyring.entries.items() if value == SECRET}
    assert [service_name for service_name, _user in kept] == [KEYRING_SERVICE]


def test_a_new_passphrase_must_be_typed_twice_alike_long_enough_and_replace_the_current(runtime):
    with runtime.sessions() as session:
        with pytest.raises(ValidationError) as short:
            passphrase.set_passphrase(session, "short", "short")
        assert short.value.field == "passphrase"
        with pytest.raises(ValidationError) as differ:
            passphrase.set_passphrase(session, SECRET, SECRET + "x")
        assert differ.value.field == "confirm"
        assert passphrase.stored_verifier(session) is None
        passphrase.set_passphrase(session, SECRET, SECRET)
        with pytest.raises(PassphraseNeeded):
            passphrase.set_passphrase(session, "a brand new phrase", "a brand new phrase")
        with pytest.raises(WrongPassphrase):
            passphrase.clear_passphrase(session, "not the phrase at all")
        passphrase.set_passphrase(session, "a brand new phrase", "a brand new phrase", SECRET)
        assert passphrase.for_backup(session, None) == "a brand new phrase"
        passphrase.clear_passphrase(session, "a brand new phrase")
        assert passphrase.for_backup(session, None) is None
        assert passphrase.status(session)["encrypted"] is False


def test_without_a_credential_store_a_backup_by_hand_asks_and_a_scheduled_one_cannot_run(
    runtime, no_keyring
):
    populate(runtime, patients_count=1)
    assert set_secret(runtime) is False  # nothing to keep it in: set all the same
    with runtime.sessions() as session:
        assert passphrase.status(session) == {
            "encrypted": True,
            "kept_here": False,
            "store_usable": False,
        }
        with pytest.raises(PassphraseNeeded):
            passphrase.for_backup(session, None)
        with pytest.raises(WrongPassphrase):
            passphrase.for_backup(session, "not the phrase at all")
    with pytest.raises(PassphraseNeeded) as scheduled:
        service.run_backup(runtime, Progress(), scheduled=True)
    assert "credential store" in scheduled.value.message
    with runtime.sessions() as session:
        assert "credential store" in state.last_error(session).details["message"]
    assert not list(runtime.settings.backups_dir.glob("*.zip"))

    made = service.run_backup(runtime, Progress(), secret=SECRET)
    assert made["encrypted"] is True
    assert verify_archive(Path(made["path"]), passphrase=SECRET).ok


def test_a_scheduled_backup_uses_the_passphrase_the_credential_store_keeps(runtime):
    populate(runtime, patients_count=1)
    set_secret(runtime)
    made = service.run_backup(runtime, Progress(), scheduled=True)
    assert made["encrypted"] is True
    path = Path(made["path"])
    with pytest.raises(PassphraseNeeded):
        verify_archive(path)
    assert verify_archive(path, passphrase=SECRET).ok


def test_a_pc_sharing_the_database_can_keep_the_passphrase_once_it_is_typed_there(
    runtime, _memory_keyring
):
    set_secret(runtime)
    _memory_keyring.entries.clear()  # another PC: same database, its own credential store
    with runtime.sessions() as session:
        assert passphrase.status(session)["kept_here"] is False
        with pytest.raises(WrongPassphrase):
            passphrase.remember_here(session, "not the phrase at all")
        assert passphrase.remember_here(session, SECRET) is True
        assert passphrase.for_backup(session, None, scheduled=True) == SECRET


# -- the archive -------------------------------------------------------------------------------


@pytest.mark.parametrize("openssl", [True, False], ids=["openssl", "without-cryptography"])
def test_the_openssl_keystream_is_winzips_little_endian_counter_mode(openssl, monkeypatch):
    """Also where `cryptography` cannot load (Wine): the same keystream from pycryptodomex."""
    import builtins

    from Cryptodome.Cipher import AES
    from Cryptodome.Util import Counter

    if not openssl:
        real_import = builtins.__import__

        def without_cryptography(name, *args, **kwargs):
            if name.startswith("cryptography"):
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", without_cryptography)

    from backend.backup.winzip_aes import RUN, CounterKeystream

    key = bytes(range(32))
    reference = AES.new(key, AES.MODE_CTR, counter=Counter.new(nbits=128, little_endian=True))
    ours = CounterKeystream(key)
    # odd lengths, block boundaries, and across a run of 65536 counters (the high bytes change)
    for length in (1, 15, 16, 17, 1000, RUN * 16 - 5, 1 << 20, 3_000_001, 0, 7):
        data = bytes((n * 7 + length) % 256 for n in range(length))
        assert ours.apply(data) == reference.encrypt(data), length


def test_archives_written_here_and_by_stock_pyzipper_read_each_other(tmp_path):
    from backend.backup.winzip_aes import FastAESZipFile

    data = bytes(range(256)) * 20_000
    for writer, reader in (
        (FastAESZipFile, pyzipper.AESZipFile),
        (pyzipper.AESZipFile, FastAESZipFile),
    ):
        path = tmp_path / f"{writer.__name__}.zip"
        with writer(path, "x", encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(SECRET.encode())
            archive.writestr("stored.jpg", data)
            archive.writestr("deflated.sqlite", data, compress_type=zipfile.ZIP_DEFLATED)
        with reader(path) as archive:
            archive.setpassword(SECRET.encode())
            assert archive.read("stored.jpg") == data
            assert archive.read("deflated.sqlite") == data
        with reader(path) as archive:
            archive.setpassword(b"not the phrase at all")
            with pytest.raises(RuntimeError, match="Bad password"):
                archive.read("stored.jpg")


def test_an_encrypted_backup_is_aes_256_throughout_and_shows_no_content(runtime):
    populate(runtime, patients_count=2)
    path = encrypted_backup(runtime)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert {info.compress_type for info in infos} == {99}  # WinZip AES
        assert all(info.flag_bits & 0x1 for info in infos)
        with pytest.raises((RuntimeError, NotImplementedError)):
            archive.read("manifest.json")
    with pyzipper.AESZipFile(path) as archive:
        assert {info.wz_aes_strength for info in archive.infolist()} == {3}  # 256-bit keys
        archive.setpassword(SECRET.encode())
        manifest = json.loads(archive.read("manifest.json"))
    assert b'"entries"' not in raw and b"SQLite format 3" not in raw
    for relative in files(runtime.settings.images_dir):
        content = (runtime.settings.images_dir / relative).read_bytes()
        assert content[:4096] not in raw
        assert manifest["entries"][f"dental_images/{relative}"]["sha256"] == (
            hashlib.sha256(content).hexdigest()
        )


@pytest.mark.skipif(shutil.which("7z") is None, reason="needs 7-Zip (Debian p7zip-full)")
def test_7zip_extracts_the_encrypted_backup_byte_for_byte_and_refuses_a_wrong_passphrase(
    runtime, tmp_path
):
    populate(runtime, patients_count=2)
    path = encrypted_backup(runtime)
    out = tmp_path / "extracted"
    done = subprocess.run(
        ["7z", "x", f"-p{SECRET}", f"-o{out}", "-y", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert files(out / "dental_images") == files(runtime.settings.images_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    database = (out / "database.sqlite").read_bytes()
    assert database.startswith(b"SQLite format 3")
    assert hashlib.sha256(database).hexdigest() == manifest["entries"]["database.sqlite"]["sha256"]
    wrong = subprocess.run(
        ["7z", "t", "-pnot the phrase at all", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert wrong.returncode != 0 and "Wrong password" in wrong.stdout + wrong.stderr


def test_verify_needs_the_right_passphrase(runtime):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    with pytest.raises(PassphraseNeeded) as missing:
        verify_archive(path)
    assert missing.value.field == "passphrase"
    with pytest.raises(WrongPassphrase) as wrong:
        verify_archive(path, passphrase="not the phrase at all")
    assert "The passphrase is wrong" in wrong.value.message
    report = verify_archive(path, passphrase=SECRET)
    assert report.ok, report.problems
    assert report.encrypted and report.as_dict()["encrypted"] is True


def test_a_flipped_byte_in_an_image_is_found_as_damage_not_as_a_wrong_passphrase(runtime):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    with zipfile.ZipFile(path) as archive:
        image = next(i for i in archive.infolist() if i.filename.endswith(".jpg"))
    flip_byte(path, data_offset(path, image.filename) + 18 + image.compress_size // 2)

    report = verify_archive(path, passphrase=SECRET)

    assert not report.ok
    assert any(
        image.filename in problem and "altered or damaged" in problem for problem in report.problems
    ), report.problems
    assert not any("passphrase is wrong" in problem for problem in report.problems)


def test_a_damaged_encryption_header_of_one_entry_is_damage_too(runtime):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    flip_byte(path, data_offset(path, "database.sqlite") + 17)  # its password check value

    report = verify_archive(path, passphrase=SECRET)

    assert any("database.sqlite" in p and "damaged" in p for p in report.problems), report.problems


def test_an_entry_hiding_more_than_it_declares_is_stopped_when_encrypted_too(runtime, tmp_path):
    path = tmp_path / "bomb.zip"
    hidden = b"\0" * (8 * 1024 * 1024)
    with pyzipper.AESZipFile(
        path, "w", compression=zipfile.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(SECRET.encode())
        archive.writestr("manifest.json", b"{}")
        archive.writestr("database.sqlite", hidden)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("database.sqlite")
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, info.header_offset + 22, 1000)  # the local header's size
    central = data.rindex(b"database.sqlite") - 46
    assert data[central : central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, central + 24, 1000)
    path.write_bytes(bytes(data))

    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(SECRET.encode())
        from backend.backup.archive_safety import UnsafeArchive, stream_member

        received = []
        with pytest.raises(UnsafeArchive) as refused:
            stream_member(archive, archive.getinfo("database.sqlite"), received.append)
    assert "more data than" in str(refused.value)
    assert sum(len(block) for block in received) <= 1000


def test_an_archive_mixing_encrypted_and_plain_entries_is_refused(runtime, tmp_path):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("dental_images/extra.jpg", b"not encrypted")
    report = verify_archive(path, passphrase=SECRET)
    assert any("encrypted and the others are not" in p for p in report.problems), report.problems


def test_plain_backups_stay_plain_and_need_no_passphrase(runtime):
    populate(runtime, patients_count=1)
    result = create_backup(runtime, runtime.settings.backups_dir)
    assert result.encrypted is False
    with zipfile.ZipFile(result.path) as archive:
        assert not any(info.flag_bits & 0x1 for info in archive.infolist())
        assert archive.testzip() is None
    assert verify_archive(result.path).ok
    assert verify_archive(result.path, passphrase="ignored for a plain backup").ok


# -- restore -----------------------------------------------------------------------------------


def test_restore_with_the_passphrase_brings_everything_back(runtime):
    populate(runtime, patients_count=2)
    before = state_of(runtime)
    path = encrypted_backup(runtime)
    with runtime.sessions() as session:
        for patient in patients.search_patients(session):
            patients.delete_patient(session, runtime.store, patient.id)
    assert state_of(runtime) != before

    preview = preview_restore(runtime, path, passphrase=SECRET)
    assert preview["backup"]["counts"]["patients"] == 2
    result = restore_backup(runtime, path, passphrase=SECRET)

    assert result["restored"]["patients"] == 2
    assert state_of(runtime) == before
    assert verify_archive(Path(result["safety_backup"])).ok  # the safety backup is plain


@pytest.mark.parametrize("given", [None, "not the phrase at all"])
def test_a_missing_or_wrong_passphrase_restores_nothing(runtime, given):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Added after the backup"})
    before = state_of(runtime)

    expected = PassphraseNeeded if given is None else WrongPassphrase
    with pytest.raises(expected):
        preview_restore(runtime, path, passphrase=given)
    with pytest.raises(expected):
        restore_backup(runtime, path, passphrase=given)

    assert state_of(runtime) == before
    assert not list(runtime.settings.backups_dir.glob("safety-before-restore-*.zip"))


def test_a_tampered_archive_restores_nothing_and_says_it_is_damaged(runtime):
    populate(runtime, patients_count=1)
    path = encrypted_backup(runtime)
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Added after the backup"})
    before = state_of(runtime)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("database.sqlite")
    flip_byte(path, data_offset(path, "database.sqlite") + 18 + info.compress_size // 3)

    with pytest.raises(BackupInvalid) as refused:
        restore_backup(runtime, path, passphrase=SECRET)

    assert "damaged" in refused.value.message and "Nothing was changed" in refused.value.message
    assert state_of(runtime) == before


def test_with_a_passphrase_a_scheduled_set_backup_goes_to_an_encrypted_set(runtime, tmp_path):
    """A passphrase never gives a plain backup: the schedule's set is an encrypted one."""
    populate(runtime, patients_count=1)
    assert set_secret(runtime)
    with runtime.sessions() as session:
        state.update_backup_settings(session, {"mode": state.SET_MODE, "folder": str(tmp_path)})
    summary = service.run_backup(runtime, Progress(), scheduled=True)
    written = Path(summary["path"])
    assert written.parent.name == "backups" and summary["encrypted"] is True
    header = json.loads((written.parent.parent / "set.json").read_text(encoding="utf-8"))
    assert header["encryption"]["scheme"] == "aes-256-gcm-chunked"
    assert not list(tmp_path.glob("*.zip"))
    assert b"SQLite format 3" not in (written / "database.sqlite").read_bytes()
