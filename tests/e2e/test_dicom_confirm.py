"""A DICOM x-ray naming another patient: the panel asks, and stores it only when confirmed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dicom_data import dicom_bytes
from tests.e2e.test_ui_flow import add_patient, drop_file, tooth

pytestmark = pytest.mark.browser


def test_another_patients_xray_is_asked_about_then_stored_or_not(page):
    add_patient(page, "Layla Haddad")
    tooth(page, "8").click()
    page.select_option("#upload-type", "xray")

    drop_file(page, "john.dcm", dicom_bytes(patient_name="DOE^JOHN", patient_id="X-1"), "")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("JOHN DOE (ID X-1)")
    page.click("#confirm-dialog button[value=cancel]")
    expect(page.locator("#upload-tray li.failed")).to_contain_text("another patient")

    drop_file(page, "john2.dcm", dicom_bytes(patient_name="DOE^JOHN", patient_id="X-1"), "")
    expect(page.locator("#confirm-ok")).to_have_text("Store it here")
    page.click("#confirm-ok")
    expect(page.locator("#upload-tray li.ok")).to_have_count(1)
    expect(page.locator("#tooth-panel img").first).to_be_visible()
