"""Finding images across patients in a real Chromium: by words of the description (Arabic
letter forms folded), type, tooth or whole mouth, and a range of days; a result opens in the
viewer and "Open" goes to its patient's tooth. In English and in Arabic, at the three screen
sizes a clinic has."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def seed(session, store) -> None:
    layla = patients.create_patient(session, {"full_name": "ليلى حداد", "phone": "0790000001"})
    omar = patients.create_patient(session, {"full_name": "Omar Saleh", "phone": "0790000002"})
    add_images(
        session,
        store,
        layla.id,
        "8",
        "before",
        [Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60)))],
        description="كسر في التاج",
        taken_date="2025-03-10",
    )
    add_images(
        session,
        store,
        layla.id,
        "general",
        "xray",
        [Upload("pano.png", image_bytes("PNG", (400, 200), (90, 90, 90)))],
        description="Panoramic before the crown",
        taken_date="2025-06-01",
    )
    add_images(
        session,
        store,
        omar.id,
        "8",
        "after",
        [Upload("crown.png", image_bytes("PNG", (320, 240), (60, 80, 200)))],
        description="Crown fitted",
        taken_date="2026-01-15",
    )


def hits(page):
    return page.locator("#image-search-results .image-card")


@pytest.mark.parametrize(("language", "width", "height"), [("en", 1366, 768), ("ar", 1024, 768)])
def test_images_are_found_across_patients_and_open_where_they_are(
    page, session, store, language, width, height
):
    seed(session, store)
    page.set_viewport_size({"width": width, "height": height})
    use(page, language, "light")

    page.click("#open-image-search")
    expect(page.locator("#images-view")).to_be_visible()
    expect(page.locator("#image-search-q")).to_be_focused()
    expect(hits(page)).to_have_count(3)  # newest first, every patient
    expect(hits(page).first).to_contain_text("Omar Saleh")
    page.wait_for_function(  # the thumbnails are really shown
        "[...document.querySelectorAll('#image-search-results img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )

    page.fill("#image-search-q", "كسر")
    expect(hits(page)).to_have_count(1)
    expect(hits(page).first).to_contain_text("ليلى حداد")
    page.fill("#image-search-q", "crown")  # two descriptions, any case
    expect(hits(page)).to_have_count(2)
    page.select_option("#image-search-type", "xray")
    expect(hits(page)).to_have_count(1)
    expect(hits(page).first).to_contain_text("Panoramic")
    if language == "en":
        expect(hits(page).first).to_contain_text("Whole mouth")
    page.select_option("#image-search-type", "")
    page.select_option("#image-search-tooth", "8")
    expect(hits(page)).to_have_count(1)
    expect(hits(page).first).to_contain_text("Omar Saleh")
    page.fill("#image-search-q", "")
    expect(hits(page)).to_have_count(2)
    page.fill("#image-search-from", "2025-01-01")
    page.fill("#image-search-to", "2025-12-31")
    expect(hits(page)).to_have_count(1)
    expect(hits(page).first).to_contain_text("ليلى حداد")
    page.fill("#image-search-to", "2024-12-31")  # the range turned around: said, not crashed
    expect(page.locator("#image-search-status")).to_have_class("warning")
    page.fill("#image-search-to", "")
    page.fill("#image-search-from", "")
    page.select_option("#image-search-tooth", "")
    expect(hits(page)).to_have_count(3)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, overflow
    screenshot(page, f"image-search-{language}-{width}")

    hits(page).nth(1).locator("button.thumb").click()  # the viewer pages through the results
    viewer = page.locator("#viewer-dialog")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-title")).to_contain_text("(2/3)")
    page.keyboard.press("Escape")

    hits(page).nth(2).locator("button[data-open]").click()
    expect(page.locator("#patient-view")).to_be_visible()
    expect(page.locator("#patient-name")).to_have_text("ليلى حداد")
    expect(page.locator("#tooth-panel")).to_be_visible()
    expect(page.locator("#tooth-panel .image-card")).to_have_count(1)
    expect(page.locator("#tooth-panel .image-card")).to_contain_text("كسر في التاج")


def test_a_search_with_no_match_says_what_to_try(page, session, store):
    seed(session, store)
    page.click("#open-image-search")
    page.keyboard.type("implant")
    expect(hits(page)).to_have_count(0)
    expect(page.locator("#image-search-status")).to_contain_text("No image matches")
    page.click("#close-image-search")
    expect(page.locator("#images-view")).to_be_hidden()
