"""Form dialogs in a real Chromium while the server answers slowly: Escape or Cancel pressed
while a save is on its way wait for it, so what was saved is what the page then shows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from tests.e2e.slow_answers import settle, slow_down

pytestmark = pytest.mark.browser


def test_escape_during_a_slow_save_waits_for_it_and_the_page_shows_what_was_saved(page, session):
    patients.create_patient(session, {"full_name": "Omar Before"})
    slow_down(page, [{"pattern": r"/patients/[^/?]+$", "min": 1500, "max": 1500}])
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-name")).to_have_text("Omar Before", timeout=15_000)
    settle(page)
    page.click("#edit-patient")
    dialog = page.locator("#patient-dialog")
    expect(dialog).to_be_visible()
    page.fill("#patient-form input[name=full_name]", "Omar After")
    page.click("#patient-form button[value=save]")
    page.keyboard.press("Escape")  # the save is still on its way
    page.wait_for_timeout(300)
    expect(dialog).to_be_visible()
    page.click("#patient-form button[value=cancel]")  # Cancel waits too
    expect(dialog).to_be_visible()
    expect(dialog).to_be_hidden(timeout=15_000)  # closed by the save's answer
    expect(page.locator("#patient-name")).to_have_text("Omar After", timeout=15_000)
    expect(page.locator("#patient-list")).to_contain_text("Omar After")
