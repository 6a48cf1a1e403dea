"""Every main screen at the three screen sizes a clinic has (1024x768, 1366x768, 1920x1080), in
English and in Arabic, in a real Chromium: the tooth panel with its images, the viewer, compare,
Find images, the Inbox and Settings. Nothing runs off the side of the window, the controls a
person needs are on screen, and a screenshot of each is kept under
artifacts/screenshots/screen-<lang>-<width>x<height>-<screen>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

SCREENS = [(1024, 768), (1366, 768), (1920, 1080)]


def seed(session, store) -> None:
    patient = patients.create_patient(session, {"full_name": "ليلى حداد", "phone": "0790000001"})
    add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [
            Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60))),
            Upload("portrait.jpg", image_bytes("JPEG", (480, 640), (60, 160, 90))),
        ],
        description="Before the crown",
        taken_date="2025-03-10",
    )
    add_images(
        session,
        store,
        patient.id,
        "8",
        "after",
        [Upload("after.png", image_bytes("PNG", (640, 480), (60, 80, 200)))],
        description="Crown fitted",
        taken_date="2025-06-01",
    )


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the window"


def inside_window(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None, selector
    assert box["x"] >= -1 and box["x"] + box["width"] <= size["width"] + 1, (selector, box)
    assert box["y"] >= -1 and box["y"] + box["height"] <= size["height"] + 1, (selector, box)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_main_screen_fits_each_screen_size(page, session, store, language):
    seed(session, store)
    use(page, language, "light")
    for width, height in SCREENS:
        page.set_viewport_size({"width": width, "height": height})
        name = f"screen-{language}-{width}x{height}"

        page.click("#patient-list li[data-patient-id]")
        page.click("#tooth-chart [data-tooth='8']")
        cards = page.locator("#image-grid .image-card")
        expect(cards).to_have_count(3)
        page.wait_for_function(
            "[...document.querySelectorAll('#image-grid img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        no_sideways_scroll(page)
        inside_window(page, "#tooth-title")
        screenshot(page, f"{name}-tooth")

        cards.first.locator("button.thumb").click()
        expect(page.locator("#viewer-dialog")).to_be_visible()
        page.wait_for_function(
            "(() => { const i = document.querySelector('#viewer-dialog img');"
            " return i && i.complete && i.naturalWidth > 0; })()"
        )
        inside_window(page, "#viewer-dialog")
        inside_window(page, "#viewer-title")
        screenshot(page, f"{name}-viewer")
        page.keyboard.press("Escape")
        expect(page.locator("#viewer-dialog")).to_be_hidden()

        page.click("#open-compare")
        expect(page.locator("#compare-dialog")).to_be_visible()
        inside_window(page, "#compare-dialog")
        screenshot(page, f"{name}-compare")
        page.keyboard.press("Escape")
        expect(page.locator("#compare-dialog")).to_be_hidden()

        page.click("#open-image-search")
        expect(page.locator("#image-search-results .image-card")).to_have_count(3)
        no_sideways_scroll(page)
        screenshot(page, f"{name}-find-images")
        page.click("#close-image-search")

        page.click("#open-inbox")
        expect(page.locator("#inbox-view")).to_be_visible()
        no_sideways_scroll(page)
        screenshot(page, f"{name}-inbox")
        page.click("#close-inbox")

        page.click("#open-settings")
        expect(page.locator("#settings-view")).to_be_visible()
        no_sideways_scroll(page)
        inside_window(page, "#close-settings")
        screenshot(page, f"{name}-settings")
        page.click("#close-settings")
