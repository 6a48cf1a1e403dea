"""Restoring one patient through the Settings page in a real Chromium: a backup of two
patients, one deleted and the other changed since; the deleted one is found in the backup,
previewed and restored, the other keeps today's change. In English (light) and in Arabic
(dark)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.backup.create import create_backup
from backend.backup.set_create import create_set_backup
from backend.usecases import patients, trash, treatments
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "theme"), [("en", "light"), ("ar", "dark")])
def test_one_deleted_patient_is_found_in_a_backup_previewed_and_restored(
    page, session, store, runtime, language, theme
):
    kept = patients.create_patient(session, {"full_name": "Omar Kept", "phone": "0790000001"})
    lost = patients.create_patient(session, {"full_name": "ليلى حداد", "phone": "0790000002"})
    crown = treatments.create_treatment(session, lost.id, {"tooth": "8", "treatment_type": "Crown"})
    add_images(
        session,
        store,
        lost.id,
        "8",
        "before",
        [
            Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60))),
            Upload("side.png", image_bytes("PNG", (320, 240), (60, 80, 200))),
        ],
        treatment_id=crown.id,
    )
    add_images(session, store, lost.id, "3", "xray", [Upload("pa.png", image_bytes("PNG"))])
    create_backup(runtime, runtime.settings.backups_dir)
    patients.delete_patient(session, store, lost.id)
    trash.purge(session, store, everything=True)  # gone for good, not in the trash
    patients.update_patient(session, kept.id, {"full_name": "Omar Changed Today"})
    use(page, language, theme)

    page.click("#open-settings")
    page.click("#patient-restore-choose")
    expect(page.locator("#patient-restore-backup option")).to_have_count(1)
    page.click("#patient-restore-open")
    search = page.locator("#patient-restore-search")
    expect(search).to_be_focused(timeout=30_000)
    expect(page.locator("#patient-restore-list button")).to_have_count(2)
    search.fill("ليلي")  # the patient search's folding: ى and ي are one letter
    expect(page.locator("#patient-restore-list button")).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.locator("#patient-restore-list button")).to_be_focused()
    page.keyboard.press("Enter")
    preview = page.locator("#patient-restore-preview")
    expect(preview).to_be_visible(timeout=30_000)
    expect(page.locator("#patient-restore-name")).to_have_text("ليلى حداد")
    expect(page.locator("#patient-restore-places tbody tr")).to_have_count(2)
    if language == "en":
        expect(preview).to_contain_text("3 images come back")
        expect(preview).to_contain_text("added here since the backup are kept")
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
    page.locator("#patient-restore").scroll_into_view_if_needed()
    screenshot(page, f"patient-restore-preview-{language}-{theme}")
    page.click("#patient-restore-confirm")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#patient-restore-done")).to_be_visible(timeout=30_000)
    screenshot(page, f"patient-restore-done-{language}-{theme}")

    page.click("#close-settings")
    names = page.locator("#patient-list li[data-patient-id]")
    expect(names).to_have_count(2)
    expect(page.locator("#patient-list")).to_contain_text("Omar Changed Today")
    page.locator("#patient-list li[data-patient-id]", has_text="ليلى").click()
    expect(page.locator("#tooth-chart [data-tooth='8'] .badge text")).to_have_text("2")


def test_one_patient_comes_back_from_an_encrypted_backup_set_after_its_passphrase(
    page, session, store, runtime
):
    secret = "olive tree by the sea 42"
    lost = patients.create_patient(session, {"full_name": "Set Patient", "phone": "0790000003"})
    add_images(session, store, lost.id, "8", "after", [Upload("a.png", image_bytes("PNG"))])
    made = create_set_backup(runtime, runtime.settings.backups_dir, passphrase=secret)
    patients.delete_patient(session, store, lost.id)
    trash.purge(session, store, everything=True)
    use(page, "en", "light")

    page.click("#open-settings")
    page.click("#patient-restore-choose")
    option = page.locator("#patient-restore-backup option", has_text=made.path.name)
    expect(option).to_have_count(1)
    page.select_option("#patient-restore-backup", str(made.path))
    page.click("#patient-restore-open")
    ask = page.locator("#passphrase-ask-dialog")
    expect(ask).to_be_visible(timeout=30_000)
    ask.locator("input[name=passphrase]").fill("not the phrase at all")
    ask.locator("input[name=passphrase]").press("Enter")
    expect(ask.locator(".form-error")).to_contain_text("The passphrase is wrong", timeout=30_000)
    ask.locator("input[name=passphrase]").fill(secret)
    ask.locator("button[value=save]").click()
    expect(page.locator("#patient-restore-search")).to_be_focused(timeout=30_000)
    expect(page.locator("#patient-restore-opened")).to_contain_text("backup-set")
    page.locator("#patient-restore-list button", has_text="Set Patient").click()
    expect(page.locator("#patient-restore-preview")).to_be_visible(timeout=30_000)
    page.click("#patient-restore-confirm")
    page.click("#confirm-ok")
    expect(page.locator("#patient-restore-done")).to_be_visible(timeout=30_000)
    screenshot(page, "patient-restore-encrypted-set-en")
    page.click("#close-settings")
    expect(page.locator("#patient-list")).to_contain_text("Set Patient")
