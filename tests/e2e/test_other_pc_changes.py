"""Changes made by another reception PC show up on this one without a click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images, update_image
from tests.helpers import hold_store_lock_elsewhere, image_bytes

pytestmark = pytest.mark.browser


def test_the_open_chart_refreshes_when_another_pc_adds_an_image(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Shared Patient"})
    page.reload()
    page.click("#patient-list li[data-patient-id]")
    badge = page.locator("#tooth-chart [data-tooth='12'] .badge text")
    expect(badge).to_have_count(0)
    add_images(
        session, store, patient.id, "12", "xray", [Upload("other-pc.png", image_bytes("PNG"))]
    )
    expect(badge).to_have_text("1", timeout=15_000)


def test_the_open_tooth_shows_a_description_another_pc_wrote(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Shared Patient"})
    stored = add_images(
        session, store, patient.id, "12", "xray", [Upload("scan.png", image_bytes("PNG"))]
    )
    page.reload()
    page.click("#patient-list li[data-patient-id]")
    page.click("#tooth-chart [data-tooth='12']")
    description = page.locator("#image-grid .image-card .desc")
    expect(description).to_have_text("scan.png")
    update_image(session, store, stored[0].image.id, {"description": "edited at reception 2"})
    expect(description).to_have_text("edited at reception 2", timeout=15_000)


def test_a_restore_on_another_pc_shows_a_banner(page, runtime):
    hold_store_lock_elsewhere(runtime, "restore", "RECEPTION-2")
    banner = page.locator("#lock-banner")
    expect(banner).to_contain_text("being restored on RECEPTION-2", timeout=15_000)
    expect(banner).to_have_class("banner restoring")
