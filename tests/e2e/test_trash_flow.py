"""The trash in a real Chromium: delete an image (the confirmation says it goes to the trash),
the tooth's count drops, restore it from Settings → Trash, and it is back and shows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import images, patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def badge(page):
    return page.locator("#tooth-chart [data-tooth='8'] .badge text")


def test_delete_an_image_then_restore_it_from_the_trash(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Trash Patient"})
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
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.locator("#patient-list li[data-patient-id]", has_text="Trash Patient").click()
    expect(badge(page)).to_have_text("2")
    page.locator("#tooth-chart [data-tooth='8']").click()
    cards = page.locator("#image-grid .image-card")
    expect(cards).to_have_count(2)

    cards.filter(has_text="side").get_by_role("button", name="Delete").click()
    expect(page.locator("#confirm-text")).to_contain_text("goes to the trash")
    expect(page.locator("#confirm-text")).to_contain_text("for 30 days")
    page.click("#confirm-ok")
    expect(cards).to_have_count(1)
    expect(badge(page)).to_have_text("1")
    assert not list((settings.images_dir / patient.id).rglob("side*"))
    assert len(list((settings.images_dir / ".trash" / patient.id).rglob("side*"))) == 1

    page.click("#open-settings")
    row = page.locator("#trash-entries tr[data-kind='image']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("side.png")
    expect(row).to_contain_text("Trash Patient")
    page.wait_for_function(
        "document.querySelector('#trash-entries img.trash-thumb')?.naturalWidth > 0"
    )
    page.locator("#trash-section").scroll_into_view_if_needed()
    page.locator("#trash-section").screenshot(path=str(screenshot_path("trash-en")))
    row.get_by_role("button", name="Restore side.png").click()
    expect(page.locator("#trash-entries")).to_contain_text("The trash is empty.")

    page.click("#close-settings")
    page.locator("#patient-list li[data-patient-id]", has_text="Trash Patient").click()
    expect(badge(page)).to_have_text("2")
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(cards).to_have_count(2)
    page.wait_for_function(
        "[...document.querySelectorAll('#image-grid .image-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert len(list((settings.images_dir / patient.id).rglob("side*"))) == 1


def screenshot_path(name: str):
    """Where the screenshot of one part of the page goes (beside the full-page ones)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_the_trash_screen_in_arabic(page, session, store):
    patient = patients.create_patient(session, {"full_name": "ليلى حداد"})
    [_kept, dropped] = add_images(
        session,
        store,
        patient.id,
        "8",
        "xray",
        [
            Upload("bitewing.png", image_bytes("PNG", (320, 240), (60, 80, 200))),
            Upload("panoramic.png", image_bytes("PNG", (320, 240), (160, 80, 20))),
        ],
    )
    images.delete_image(session, store, dropped.image.id)
    other = patients.create_patient(session, {"full_name": "عمر خليل"})
    add_images(session, store, other.id, "3", "before", [Upload("a.png", image_bytes("PNG"))])
    patients.delete_patient(session, store, other.id)
    use(page, "ar", "light")
    page.click("#open-settings")
    expect(page.locator("#trash-entries tr[data-kind]")).to_have_count(2)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#trash-title")).to_have_text("سلة المحذوفات")
    page.locator("#trash-section").scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('#trash-entries img.trash-thumb')?.naturalWidth > 0"
    )
    page.locator("#trash-section").screenshot(path=str(screenshot_path("trash-ar")))
    use(page, "en", "dark")
    page.click("#open-settings")
    expect(page.locator("#trash-entries tr[data-kind]")).to_have_count(2)
    page.locator("#trash-section").scroll_into_view_if_needed()
    page.locator("#trash-section").screenshot(path=str(screenshot_path("trash-en-dark")))
    use(page, "system", "system")
