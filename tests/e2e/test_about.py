"""The About section of the Settings page: the version the window title and `--version` show,
and where the data lives."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend import __version__
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser


def test_about_shows_version_and_data_folder(page, settings):
    page.click("#open-settings")
    page.wait_for_selector("#settings-view:not([hidden])")
    page.wait_for_function("document.querySelector('#about-version').textContent.length > 0")
    assert page.text_content("#about-version") == __version__
    assert page.text_content("#about-data-dir") == str(settings.data_dir)
    page.locator("#about-section").scroll_into_view_if_needed()
    screenshot(page, "settings-about")


def test_the_server_section_says_what_this_pc_uses(page, settings):
    page.click("#open-settings")
    expect(page.locator("#server-current")).to_have_text(
        f"This PC keeps its own database in {settings.data_dir}."
    )


def test_saving_an_empty_server_address_on_a_server_pc_asks_first(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    server_url = "postgresql+psycopg://clinic:***@server:5432/dental"

    def as_a_server_pc(route):
        facts = route.fetch().json()
        facts.update(
            db_url=server_url,
            images_root="/mnt/clinic/images",
            images_dir="/mnt/clinic/images/dental_images",
        )
        route.fulfill(json=facts)

    saved = []
    page.route("**/api/settings", as_a_server_pc)
    page.on("request", lambda r: saved.append(r) if r.method == "PUT" else None)
    page.goto(live_server.launch_url)
    page.wait_for_selector("body[data-ready='true']")
    page.click("#open-settings")
    expect(page.locator("#server-current")).to_contain_text(f"the clinic server {server_url}")
    expect(page.locator("#server-form [name=images_root]")).to_have_value("/mnt/clinic/images")
    page.click("#save-server")  # the address field is empty
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("stop using the clinic server")
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    assert saved == []  # nothing was saved
    context.close()
