"""The backup passphrase in a real Chromium: set it in Settings (typed twice, the loss
understood), back up, delete a patient, restore the encrypted backup: the page asks for the
passphrase, says when it is wrong, and restores with the right one. The dialogs in English and
Arabic, and the printable recovery sheet."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import expect

from backend import i18n
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

SECRET = "olive tree by the sea 42"


@pytest.fixture(autouse=True)
def _process_language():
    """Choosing Arabic sets the language of background jobs for the whole process (the live
    server runs in the test's): the tests after these keep theirs."""
    before = i18n.process_locale()
    yield
    i18n.set_process_locale(before)


def set_passphrase_in_settings(page) -> None:
    page.click("#passphrase-set")
    dialog = page.locator("#passphrase-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("A lost passphrase means a lost backup")
    dialog.locator("input[name=passphrase]").fill(SECRET)
    dialog.locator("input[name=confirm]").fill(SECRET + "x")
    dialog.locator("input[name=understood]").check()
    dialog.locator("button[value=save]").click()
    expect(dialog.locator(".form-error")).to_contain_text("The two passphrases differ")
    dialog.locator("input[name=confirm]").fill(SECRET)
    dialog.locator("button[value=save]").click()
    expect(dialog).to_be_hidden()


def test_set_the_passphrase_back_up_and_restore_with_it(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Encrypted Patient"})
    add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60)))],
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#open-settings")
    expect(page.locator("#passphrase-state")).to_contain_text("Backups are not encrypted")

    set_passphrase_in_settings(page)

    expect(page.locator("#passphrase-state")).to_contain_text("Backups are encrypted (AES-256)")
    expect(page.locator("#passphrase-result")).to_contain_text("Print the recovery sheet")
    expect(page.locator("#passphrase-set")).to_have_text("Change the passphrase…")
    page.click("#backup-now")
    expect(page.locator("#backup-result")).to_contain_text(
        "Backup written and verified", timeout=30_000
    )
    (archive,) = settings.backups_dir.glob("*.zip")
    with zipfile.ZipFile(archive) as opened:
        assert all(info.flag_bits & 0x1 for info in opened.infolist())

    page.click("#close-settings")
    page.click("#patient-list li[data-patient-id]")
    page.click("#delete-patient")
    page.click("#confirm-ok")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(0)

    page.click("#open-settings")
    with page.expect_file_chooser() as chooser:
        page.click("#restore-choose")
    chooser.value.set_files(str(archive))
    ask = page.locator("#passphrase-ask-dialog")
    expect(ask).to_be_visible(timeout=30_000)
    expect(ask).to_contain_text("This backup is encrypted")
    ask.locator("input[name=passphrase]").fill("not the phrase at all")
    ask.locator("input[name=passphrase]").press("Enter")  # keyboard: Enter continues
    expect(ask.locator(".form-error")).to_contain_text("The passphrase is wrong", timeout=30_000)
    screenshot(page, "backup-passphrase-wrong-en")
    ask.locator("input[name=passphrase]").fill(SECRET)
    ask.locator("button[value=save]").click()
    preview = page.locator("#restore-preview")
    expect(preview).to_be_visible(timeout=30_000)
    expect(preview).to_contain_text("1 patient")
    page.click("#restore-confirm")
    page.click("#confirm-ok")
    expect(page.locator("#restore-done")).to_be_visible(timeout=30_000)

    page.wait_for_selector("#patient-list li[data-patient-id]", timeout=15_000)
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-name")).to_have_text("Encrypted Patient")
    assert len(list((settings.images_dir / patient.id).rglob("*.jpg"))) == 1


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_passphrase_dialog_and_the_recovery_sheet(page, language, settings):
    use(page, language, "light")
    page.click("#open-settings")
    page.locator("#passphrase-set").scroll_into_view_if_needed()
    screenshot(page, f"backup-encryption-section-off-{language}")
    page.click("#passphrase-set")
    dialog = page.locator("#passphrase-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=passphrase]").fill(SECRET)
    dialog.locator("input[name=confirm]").fill(SECRET)
    screenshot(page, f"backup-passphrase-dialog-{language}")
    dialog.locator("button[value=save]").click()  # not yet understood: the box is required
    expect(dialog).to_be_visible()
    dialog.locator("input[name=understood]").check()
    dialog.locator("button[value=save]").click()
    expect(dialog).to_be_hidden()
    page.locator("#passphrase-state").scroll_into_view_if_needed()
    screenshot(page, f"backup-encryption-section-on-{language}")

    with page.context.expect_page() as opened:
        page.click("#recovery-sheet")
    sheet = opened.value
    sheet.wait_for_load_state()
    expect(sheet.locator("#recovery-sheet")).to_contain_text("7z x")
    expect(sheet.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
    assert SECRET not in sheet.content()
    screenshot(sheet, f"backup-recovery-sheet-{language}")
