"""The About section of the Settings page: the version the window title and `--version` show,
and where the data lives."""

from __future__ import annotations

import pytest

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
