"""Smaller defects of the chart and tooth panel, each pinned by what a person sees."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.slow_answers import settle
from tests.e2e.test_ui_fixes import open_patient
from tests.e2e.test_ui_flow import tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def test_unticking_primary_teeth_closes_the_open_primary_tooth(page, session):
    patients.create_patient(session, {"full_name": "Young Patient"})
    open_patient(page)
    page.check("#show-primary")
    tooth(page, "E").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth E ·")
    page.uncheck("#show-primary")
    expect(tooth(page, "E")).to_have_count(0)
    expect(page.locator("#tooth-panel")).to_be_hidden()  # no panel of a tooth not drawn
    expect(page.locator("#tooth-hint")).to_be_visible()
    # a permanent tooth stays open when the primary teeth go
    page.check("#show-primary")
    tooth(page, "8").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 8 ·")
    page.uncheck("#show-primary")
    expect(page.locator("#tooth-panel")).to_be_visible()
    expect(tooth(page, "8")).to_have_class("tooth selected")


def test_pasting_a_pdf_says_which_files_can_be_added(page, session):
    patients.create_patient(session, {"full_name": "Paste Person"})
    open_patient(page, "3")
    settle(page)
    page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            const pdf = new File(['%PDF-1.4 letter'], 'referral.pdf', { type: 'application/pdf' });
            transfer.items.add(pdf);
            const init = { clipboardData: transfer, bubbles: true };
            document.dispatchEvent(new ClipboardEvent('paste', init));
        }"""
    )
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Only images can be added to a tooth")
    for name in ("JPEG", "PNG", "TIFF"):  # the server's own list of formats
        expect(toast).to_contain_text(name)
    expect(page.locator("#upload-tray .upload-batch")).to_have_count(0)


def test_a_missing_file_offers_check_and_repair(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Missing File"})
    [result] = add_images(
        session, store, patient.id, "14", "xray", [Upload("gone.png", image_bytes("PNG"))]
    )
    (settings.data_dir / result.image.relative_path).unlink()
    store.remove_thumbnail(result.image.id)
    open_patient(page, "14")
    repair = page.locator("#image-grid .missing button.repair")
    expect(repair).to_have_text("Check and repair")
    repair.click()
    expect(page.locator("#settings-view")).to_be_visible()  # not the viewer
    expect(page.locator("#viewer-dialog")).to_be_hidden()
    expect(page.locator("#check-result")).to_contain_text("Checked 1 image records", timeout=30_000)


def test_text_fields_follow_the_direction_of_what_is_typed(page, session):
    page.click("#new-patient")
    fields = page.locator("#patient-form input:not([type]), #patient-form textarea")
    assert fields.count() >= 5
    for i in range(fields.count()):
        expect(fields.nth(i)).to_have_attribute("dir", "auto")
    expect(page.locator("#patient-search")).to_have_attribute("dir", "auto")
    page.fill("#patient-form [name=full_name]", "أحمد الخطيب")
    page.click("#patient-form button[value=save]")
    expect(page.locator("#patient-name")).to_have_text("أحمد الخطيب")
    name = page.locator("#patient-list li[data-patient-id] .name")
    expect(name).to_have_attribute("dir", "auto")
    assert name.evaluate("e => getComputedStyle(e).direction") == "rtl"
