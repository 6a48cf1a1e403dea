"""Importing the earlier app's data from the Settings page, in a real Chromium: preview with
the detected numbering, import with progress and counts, then the patient's chart."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.legacy_data import build_legacy

pytestmark = pytest.mark.browser


def test_import_from_the_settings_page_shows_the_patients_images_in_the_chart(page, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    page.click("#open-settings")
    page.fill("#import-source", str(tmp_path / "old"))
    page.click("#import-preview")
    expect(page.locator("#import-notation-detected")).to_have_text("FDI")
    expect(page.locator("#import-evidence")).to_contain_text("CHECK constraint")
    expect(page.locator("#import-notation")).to_have_value("fdi")
    expect(page.locator("#import-counts")).to_contain_text("Images missing")
    page.click("#import-start")
    expect(page.locator("#migration-message")).to_contain_text(
        f"{len(data.expected)} imported", timeout=30_000
    )
    expect(page.locator("#migration-counts")).to_contain_text(
        f"Done {len(data.expected)} · skipped 0 · missing {len(data.missing)}"
    )
    expect(page.locator("#migration-report-csv")).to_be_visible()
    # the imported patients are listed at once, without leaving the settings
    expect(page.locator("#patient-count")).to_have_text(f"Patients ({len(data.patients)})")
    screenshot(page, "import")
    with page.expect_download() as download:
        page.click("#migration-report-csv")
    assert download.value.suggested_filename == "import-report.csv"

    page.click("#close-settings")
    page.locator("#patient-list li", has_text="Layla Haddad").click()
    expect(page.locator("#patient-name")).to_have_text("Layla Haddad")
    front = page.locator("#tooth-chart [data-tooth='8']")
    expect(front.locator(".badge text")).to_have_text("1")
    expect(page.locator("#tooth-chart [data-tooth='A'] .badge text")).to_have_text("1")
    front.click()
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
    expect(page.locator("#image-grid .image-card img").first).to_have_js_property("complete", True)
