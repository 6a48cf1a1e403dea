"""Encrypted backup sets: with a passphrase every image file, database and manifest of the set
is AES-256-GCM encrypted (nothing of a patient readable on the disk that goes home), each
backup stays incremental and restorable on its own, a wrong passphrase and a changed, cut or
swapped file are refused with clear words, and a new passphrase starts a new set."""

from __future__ import annotations

import io
import json
import secrets
import shutil

import pytest

from backend.backup import backup_set as bs
from backend.backup import set_crypto
from backend.backup.archives import list_archives
from backend.backup.errors import BackupInvalid
from backend.backup.passphrase import PassphraseNeeded, WrongPassphrase
from backend.backup.restore import restore_backup
from backend.backup.set_create import create_set_backup
from backend.backup.set_prune import prune_set
from backend.backup.verify import verify_archive
from backend.usecases import patients, trash
from tests.backend.test_backup_set import add_patient_with_images, stored_files
from tests.backup_data import files, populate, state_of

SECRET = "olive tree by the sea 42"


@pytest.fixture
def db_url():
    return None  # the format is the engine's business nowhere here


def key_for(secret: str = SECRET) -> set_crypto.SetKey:
    return set_crypto.new_encryption(secret)[1]


# -- the file format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, set_crypto.CHUNK - 1, set_crypto.CHUNK, set_crypto.CHUNK + 1, 3 * set_crypto.CHUNK],
)
def test_a_file_comes_back_whole_and_its_size_on_disk_is_known(size):
    key = key_for()
    data = secrets.token_bytes(size)
    sealed = io.BytesIO()
    writer = set_crypto.EncryptingWriter(sealed, key, "file")
    for start in range(0, size, 300_001):  # writes of any size
        writer.write(data[start : start + 300_001])
    writer.close()

    assert len(sealed.getvalue()) == set_crypto.stored_size(size)
    assert set_crypto.plain_size(set_crypto.stored_size(size)) == size
    sealed.seek(0)
    assert b"".join(set_crypto.decrypted_chunks(sealed, key, "file")) == data


def sealed_chunks(data: bytes, key, role: str = "file") -> bytes:
    out = io.BytesIO()
    set_crypto.encrypt_bytes(data, key, role, out)
    return out.getvalue()


@pytest.mark.parametrize(
    "change",
    ["flip a byte", "cut the last chunk", "cut at a chunk's end", "swap two chunks", "other role"],
)
def test_a_changed_cut_or_reordered_file_does_not_decrypt(change):
    key = key_for()
    data = secrets.token_bytes(2 * set_crypto.CHUNK + 10)
    sealed = bytearray(sealed_chunks(data, key))
    head, step = set_crypto.HEADER_BYTES, set_crypto.CHUNK + set_crypto.TAG_BYTES
    role = "file"
    if change == "flip a byte":
        sealed[head + step + 5] ^= 1
    elif change == "cut the last chunk":
        del sealed[head + 2 * step :]
    elif change == "cut at a chunk's end":
        del sealed[-5:]
    elif change == "swap two chunks":
        first, second = sealed[head : head + step], sealed[head + step : head + 2 * step]
        sealed[head : head + 2 * step] = second + first
    else:
        role = "database.sqlite"

    with pytest.raises(set_crypto.Undecryptable):
        b"".join(set_crypto.decrypted_chunks(io.BytesIO(bytes(sealed)), key, role))


def test_every_file_has_its_own_key_so_no_nonce_repeats_under_one_key():
    key = key_for()
    data = b"the same photo bytes" * 1000
    one, other = sealed_chunks(data, key), sealed_chunks(data, key)
    head = set_crypto.HEADER_BYTES
    assert one[:8] == other[:8] == set_crypto.MAGIC
    assert one[8:head] != other[8:head]  # a fresh 32-byte salt each
    assert one[head:] != other[head:]  # so another key: the same chunk nonce encrypts apart
    swapped = other[:head] + one[head:]  # a body under another file's salt
    with pytest.raises(set_crypto.Undecryptable):
        b"".join(set_crypto.decrypted_chunks(io.BytesIO(swapped), key, "file"))


def test_hkdf_gives_rfc_5869s_answer():
    okm = set_crypto.hkdf_sha256(
        bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), length=42
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


@pytest.mark.skipif(
    not set_crypto._openssl_loads(),
    reason="cryptography does not load here (Windows Python under Wine): pycryptodomex only",
)
def test_openssl_and_pycryptodomex_read_each_others_files(monkeypatch):
    """The Windows build encrypts with pycryptodomex (it cannot load OpenSSL's binding under
    Wine): a set made on either opens on the other."""
    data = secrets.token_bytes(set_crypto.CHUNK + 77)
    made = {}
    for implementation in (set_crypto._OpenSslGcm, set_crypto._CryptodomeGcm):
        monkeypatch.setattr(set_crypto, "GCM", implementation)
        made[implementation] = sealed_chunks(data, set_crypto.SetKey(b"k" * 32))
    for implementation in (set_crypto._OpenSslGcm, set_crypto._CryptodomeGcm):
        monkeypatch.setattr(set_crypto, "GCM", implementation)
        for sealed in made.values():
            opened = set_crypto.decrypted_chunks(
                io.BytesIO(sealed), set_crypto.SetKey(b"k" * 32), "file"
            )
            assert b"".join(opened) == data
        broken = bytearray(made[set_crypto._OpenSslGcm])
        broken[-1] ^= 1
        with pytest.raises(set_crypto.Undecryptable):
            b"".join(
                set_crypto.decrypted_chunks(
                    io.BytesIO(bytes(broken)), set_crypto.SetKey(b"k" * 32), "file"
                )
            )


def test_a_wrong_passphrase_is_told_from_a_damaged_file():
    encryption, _key = set_crypto.new_encryption(SECRET)
    with pytest.raises(WrongPassphrase):
        set_crypto.unlock(encryption, "another passphrase entirely")
    with pytest.raises(PassphraseNeeded):
        set_crypto.unlock(encryption, None)
    assert isinstance(set_crypto.unlock(encryption, SECRET), set_crypto.SetKey)


def test_a_hostile_header_cannot_make_the_key_derivation_eat_the_memory():
    encryption, _key = set_crypto.new_encryption(SECRET)
    encryption["kdf"]["n"] = 2**30
    with pytest.raises(ValueError):
        set_crypto.check_scheme(encryption)


# -- encrypted sets -----------------------------------------------------------------------------


def test_nothing_of_a_patient_is_readable_in_an_encrypted_set(runtime, tmp_path):
    populate(runtime)
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "سارة المنصوري"})
    result = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    set_dir = result.path.parent.parent

    header = json.loads((set_dir / "set.json").read_text(encoding="utf-8"))
    assert header["encryption"]["scheme"] == "aes-256-gcm-chunked"
    assert SECRET not in json.dumps(header)
    live = files(runtime.settings.images_dir)
    assert result.added_files == len(set(live.values())) == len(stored_files(set_dir))
    for stored in (set_dir / "files").glob("*/*"):
        raw = stored.read_bytes()
        assert raw.startswith(set_crypto.MAGIC)
        assert b"PNG" not in raw[:64] and b"JFIF" not in raw[:64]
    assert b"SQLite format 3" not in (result.path / "database.sqlite").read_bytes()
    manifest_raw = (result.path / "manifest.json").read_bytes()
    assert b"images/" not in manifest_raw
    assert "المنصوري".encode() not in manifest_raw
    for name in live:
        assert name.encode() not in manifest_raw  # no patient folder, no file name
    assert list_archives([tmp_path])[0]["encrypted"] is True


def test_an_encrypted_set_is_incremental_and_each_backup_restores_with_the_passphrase(
    runtime, tmp_path
):
    populate(runtime)
    first = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    at_first = state_of(runtime)
    add_patient_with_images(runtime, "Later", 2)
    second = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    assert second.path.parent == first.path.parent
    assert second.added_files == 2
    at_second = state_of(runtime)

    with pytest.raises(PassphraseNeeded):
        verify_archive(first.path)
    with pytest.raises(WrongPassphrase):
        verify_archive(first.path, passphrase="not the passphrase at all")
    whole = verify_archive(first.path.parent.parent, passphrase=SECRET)
    assert whole.ok, whole.problems
    assert whole.encrypted and all(b["ok"] for b in whole.as_dict()["backups"])

    with pytest.raises(PassphraseNeeded):
        restore_backup(runtime, first.path)
    assert state_of(runtime) == at_second
    restore_backup(runtime, first.path, passphrase=SECRET)
    assert state_of(runtime) == at_first
    restore_backup(runtime, second.path, passphrase=SECRET)
    assert state_of(runtime) == at_second


def test_a_changed_image_file_in_an_encrypted_set_is_named_and_never_restored(runtime, tmp_path):
    populate(runtime)
    result = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    victim = sorted((result.path.parent.parent / "files").glob("*/*"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Added after the backup"})
    before = state_of(runtime)

    report = verify_archive(result.path, passphrase=SECRET)
    assert not report.ok
    assert any("does not decrypt" in problem for problem in report.problems)
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, result.path, passphrase=SECRET)
    assert state_of(runtime) == before


def test_a_file_swapped_for_another_of_the_set_is_found(runtime, tmp_path):
    populate(runtime)
    result = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    one, other = sorted((result.path.parent.parent / "files").glob("*/*"))[:2]
    shutil.copyfile(other, one)  # authentic bytes, but not the file this name is

    report = verify_archive(result.path, passphrase=SECRET)
    assert not report.ok
    assert any("checksum" in p or "size" in p for p in report.problems), report.problems


def test_a_manifest_that_does_not_decrypt_is_a_clear_problem(runtime, tmp_path):
    populate(runtime, patients_count=1)
    result = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    manifest = result.path / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:-3])

    report = verify_archive(result.path, passphrase=SECRET)
    assert not report.ok
    assert any("manifest.json does not decrypt" in p for p in report.problems)


def test_a_new_passphrase_or_none_starts_a_new_set_and_leaves_the_old_one_readable(
    runtime, tmp_path
):
    populate(runtime, patients_count=1)
    plain = create_set_backup(runtime, tmp_path)
    first = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    again = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    changed = create_set_backup(runtime, tmp_path, passphrase="a brand new passphrase")
    plain_again = create_set_backup(runtime, tmp_path)

    sets = {r.path.parent.parent for r in (plain, first, again, changed, plain_again)}
    assert len(sets) == 3
    assert plain_again.path.parent == plain.path.parent
    assert again.path.parent == first.path.parent and again.added_files == 0
    assert changed.path.parent != first.path.parent
    assert verify_archive(first.path, passphrase=SECRET).ok
    assert verify_archive(changed.path, passphrase="a brand new passphrase").ok
    assert verify_archive(plain.path).ok


def test_pruning_an_encrypted_set_removes_only_files_no_remaining_backup_names(runtime, tmp_path):
    populate(runtime, patients_count=1)
    create_set_backup(runtime, tmp_path, passphrase=SECRET)
    add_patient_with_images(runtime, "Gone later", 2)
    second = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    set_dir = second.path.parent.parent
    with runtime.sessions() as session:
        (gone,) = [p for p in patients.search_patients(session) if p.full_name == "Gone later"]
        patients.delete_patient(session, runtime.store, gone.id)
        trash.purge(session, runtime.store, everything=True)
    third = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    held = stored_files(set_dir)

    # Without the key no manifest can be read: old backups go, but no file is removed.
    assert len(prune_set(set_dir, 2)) == 1
    assert stored_files(set_dir) == held
    assert prune_set(set_dir, 1, bs.set_key(set_dir, SECRET)) == [second.path.name]
    assert len(stored_files(set_dir)) == len(held) - 2
    assert verify_archive(set_dir, passphrase=SECRET).ok
    assert bs.complete_backups(set_dir) == [third.path]
