"""Export as DICOM in the browser: the whole-mouth panel's images are ticked in the dialog and
saved to a folder, each reported; Settings keeps the clinic's DICOM node and refuses a bad AE
title. Screenshots in English (light) and Arabic (dark, right to left)."""

from __future__ import annotations

import pydicom
import pytest
from playwright.sync_api import expect

from backend.usecases import images, patients
from tests.dicom_data import dicom_bytes
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "theme"), [("en", "light"), ("ar", "dark")])
def test_the_whole_mouth_images_are_saved_as_dicom(page, session, store, tmp_path, language, theme):
    patient = patients.create_patient(session, {"full_name": "Layla Haddad"})
    uploads = [
        images.Upload("pano.dcm", dicom_bytes(patient_name="HADDAD^LAYLA", modality="PX")),
        images.Upload("portrait.jpg", image_bytes("JPEG", (80, 60))),
    ]
    results = images.add_images(session, store, patient.id, "general", "xray", uploads)
    assert all(r.image is not None for r in results)
    folder = tmp_path / "referral"
    folder.mkdir()
    use(page, language, theme)

    page.locator("#patient-list li[data-patient-id]").first.click()
    page.click("#general-tile")
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    page.click("#export-dicom")
    dialog = page.locator("#dicom-export-dialog")
    expect(dialog).to_be_visible()
    boxes = dialog.locator('input[name="image"]')
    expect(boxes).to_have_count(2)
    expect(dialog.locator('input[name="to"][value="node"]')).to_be_disabled()  # none is set
    dialog.locator('input[name="folder"]').fill(str(folder))
    dialog.locator("#dicom-export-start").press("Enter")  # keyboard only
    # A job, and the first export of a run loads the DICOM libraries: slow on a busy machine.
    expect(dialog.locator("#dicom-export-result li.ok-text")).to_have_count(2, timeout=90_000)
    screenshot(page, f"dicom-export-{language}-{theme}")
    written = sorted(folder.iterdir())
    assert len(written) == 2
    assert {pydicom.dcmread(p).Modality for p in written} == {"PX", "OT"}
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.click("#open-settings")
    form = page.locator("#dicom-node-form")
    form.locator('input[name="ae_title"]').fill("BAD\\AE")
    form.locator('input[name="host"]').fill("192.0.2.10")
    form.locator('input[name="port"]').fill("104")
    form.locator("button[type=submit]").click()
    expect(page.locator("#dicom-node-status")).to_have_class("warning")
    form.locator('input[name="ae_title"]').fill("PACS")
    form.locator('input[name="name"]').fill("Clinic PACS")
    form.locator("button[type=submit]").click()
    expect(page.locator("#dicom-node-status")).to_contain_text("Clinic PACS")
    page.locator("#dicom-node-section").scroll_into_view_if_needed()
    screenshot(page, f"dicom-node-settings-{language}-{theme}")
