"""The "Whole mouth / general" tile: a panoramic x-ray or a portrait has a home beside the teeth,
with the same upload, viewer, count and move behaviour as a tooth, and no treatments."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from backend.models import Image
from tests.e2e.conftest import screenshot
from tests.e2e.test_ui_flow import add_patient, choose_files, tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def test_whole_mouth_images_upload_view_count_and_move(page, tmp_path, runtime):
    add_patient(page, "Samira Khoury")
    tile = page.locator("#general-tile")
    expect(tile.locator("#general-count")).to_have_text("0")
    tile.click()
    expect(tile).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#tooth-title")).to_have_text(
        "Whole mouth / general · images of no one tooth"
    )
    expect(page.locator("#treatments")).to_be_hidden()  # treatments belong to teeth
    expect(page.locator("#upload-treatment")).to_be_hidden()
    expect(page.locator("#image-grid")).to_contain_text("No images of the whole mouth yet.")

    page.select_option("#upload-type", "xray")
    choose_files(page, tmp_path, {"panoramic.png": image_bytes("PNG", (1600, 800), (90, 90, 90))})
    expect(page.locator("#upload-tray")).to_contain_text("Samira Khoury · the whole mouth")
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
    expect(tile.locator("#general-count")).to_have_text("1")
    with runtime.sessions() as session:
        [stored] = session.scalars(select(Image)).all()
        assert stored.tooth is None and "/general/xray/" in stored.relative_path
    screenshot(page, "general-tile")

    page.locator("#image-grid .image-card .thumb").first.click()
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    page.keyboard.press("Escape")

    card = page.locator("#image-grid .image-card").first
    card.get_by_role("button", name="Edit details").click()
    expect(page.locator("#image-form [name=tooth]")).to_have_value("general")
    page.select_option("#image-form [name=tooth]", "30")
    page.click("#image-form button[value=save]")
    expect(page.locator("#toast-area, body")).to_contain_text("Moved to tooth 30, X-ray.")
    expect(page.locator("#image-grid .image-card")).to_have_count(0)
    expect(tile.locator("#general-count")).to_have_text("0")
    expect(tooth(page, "30").locator(".badge text")).to_have_text("1")

    tooth(page, "30").click()  # and back from a tooth to the whole mouth
    expect(tile).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#treatments")).to_be_visible()
    card = page.locator("#image-grid .image-card").first
    card.get_by_role("button", name="Edit details").click()
    page.select_option("#image-form [name=tooth]", "general")
    page.click("#image-form button[value=save]")
    expect(page.locator("body")).to_contain_text("Moved to the whole mouth, X-ray.")
    expect(tile.locator("#general-count")).to_have_text("1")
    tile.click()
    page.check("#show-primary")
    page.uncheck("#show-primary")  # the primary teeth going does not close the whole mouth
    expect(page.locator("#tooth-panel")).to_be_visible()
    expect(page.locator("#tooth-title")).to_contain_text("Whole mouth")
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
