"""Backing up and restoring through the Settings page in a real Chromium: back up, delete a
patient, restore the backup; the patient and the images are back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.backup.legacy import import_marker
from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def test_back_up_delete_a_patient_restore_and_everything_is_back(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Restored Patient"})
    crown = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Crown"}
    )
    add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [
            Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60))),
            Upload("side.png", image_bytes("PNG", (320, 240), (60, 80, 200))),
        ],
        treatment_id=crown.id,
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")

    page.click("#open-settings")
    expect(page.locator("#backup-last")).to_contain_text("No backup with images")
    expect(page.locator("#backup-folder-note")).to_be_visible()  # a browser: no folder dialog
    page.click("#backup-now")
    result = page.locator("#backup-result")
    expect(result).to_contain_text("Backup written and verified", timeout=30_000)
    expect(result).to_contain_text("1 patient, 1 treatment, 2 images")
    expect(page.locator("#backup-list li")).to_have_count(1)
    expect(page.locator("#backup-last")).to_contain_text("Last good backup")
    screenshot(page, "backup-settings")
    (archive,) = settings.backups_dir.glob("*.zip")
    with page.expect_download() as download:
        page.click("#backup-download")
    assert download.value.suggested_filename == archive.name

    page.click("#close-settings")
    page.click("#patient-list li[data-patient-id]")
    page.click("#delete-patient")
    page.click("#confirm-ok")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(0)
    assert not (settings.images_dir / patient.id).exists()

    page.click("#open-settings")
    with page.expect_file_chooser() as chooser:
        page.click("#restore-choose")
    chooser.value.set_files(str(archive))
    preview = page.locator("#restore-preview")
    expect(preview).to_be_visible(timeout=30_000)
    expect(preview).to_contain_text("1 patient, 1 treatment, 2 images")
    expect(preview).to_contain_text("safety backup")
    screenshot(page, "restore-preview")
    page.click("#restore-confirm")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#restore-done")).to_be_visible(timeout=30_000)

    page.wait_for_selector("#patient-list li[data-patient-id]", timeout=15_000)
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-name")).to_have_text("Restored Patient")
    expect(page.locator("#tooth-chart [data-tooth='8'] .badge text")).to_have_text("2")
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    page.wait_for_function(
        "[...document.querySelectorAll('#image-grid .image-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert len(list((settings.images_dir / patient.id).rglob("*.*"))) == 2


def test_the_main_screen_warns_when_no_backup_was_made(page, session):
    patients.create_patient(session, {"full_name": "Unprotected"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    banner = page.locator("#backup-banner")
    expect(banner).to_contain_text("No backup has been made yet", timeout=10_000)
    page.click("#backup-banner-open")
    expect(page.locator("#settings-view")).to_be_visible()
    page.click("#backup-now")
    expect(page.locator("#backup-result")).to_contain_text("verified", timeout=30_000)
    expect(banner).to_be_hidden()


def test_the_main_screen_says_when_an_import_of_the_earlier_app_was_cut_off(
    page, runtime, session, settings
):
    patients.create_patient(session, {"full_name": "Half Imported"})
    safety = settings.backups_dir / "safety-before-restore-backup-20261201-101500.zip"
    import_marker.mark_started(runtime.sessions, settings.data_dir / "clinic-2024.zip", safety)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    banner = page.locator("#backup-banner")
    expect(banner).to_contain_text("The import of clinic-2024.zip", timeout=10_000)
    expect(banner).to_contain_text("restore the same backup again to complete it")
    expect(banner).to_contain_text(safety.name)
    screenshot(page, "import-cut-off-banner")
    page.click("#backup-banner-open")
    expect(page.locator("#settings-view")).to_be_visible()


def test_what_the_start_recovered_is_shown_until_dismissed(page, runtime):
    runtime.notices.append(
        "An interrupted restore of /backups/clinic.zip was undone: the data is back as it was "
        "before the restore."
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    banner = page.locator("#notice-banner")
    expect(banner).to_contain_text("An interrupted restore of /backups/clinic.zip was undone")
    screenshot(page, "start-notice-banner")
    page.click("#notice-banner-dismiss")
    expect(banner).to_be_hidden()
    assert runtime.notices == []
    with page.expect_response(lambda response: response.url.endswith("/api/status")):
        page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(banner).to_be_hidden()
