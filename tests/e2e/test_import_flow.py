"""Importing the earlier app's data from the Settings page, in a real Chromium: preview with
the detected numbering, import with progress and counts, then the patient's chart."""

from __future__ import annotations

import shutil
from pathlib import Path

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
    choice = page.locator("#import-reading fieldset[data-generation='tooth_treatments']")
    expect(choice.locator("legend")).to_contain_text("FDI")
    expect(choice).to_contain_text("CHECK constraint")
    expect(choice.locator("select[data-choice='notation:tooth_treatments']")).to_have_value("fdi")
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


SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "legacy-samples"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the earlier app's sample data is not there")
def test_the_upgraded_clinic_is_read_per_table_and_its_program_folder_is_named(page, tmp_path):
    """The clinic that ran the early, then the later versions: each table generation shows its
    own numbering, the early chart its mirrored lower arch; the person's choice counts again,
    and the program folder typed in is searched for the later images."""
    case = tmp_path / "upgrade"
    shutil.copytree(SAMPLES / "upgrade", case)
    page.click("#open-settings")
    page.fill("#import-source", str(case / "userData"))
    page.fill("#import-images-from", str(case / "install"))
    page.click("#import-preview")
    early = page.locator("#import-reading fieldset[data-generation='dental_treatments']")
    later = page.locator("#import-reading fieldset[data-generation='tooth_treatments']")
    expect(early.locator("select[data-choice='notation:dental_treatments']")).to_have_value(
        "universal"
    )
    expect(later.locator("select[data-choice='notation:tooth_treatments']")).to_have_value("fdi")
    expect(early.locator("select[data-choice='early_layout']")).to_have_value("mirrored")
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("dental_treatments=universal (lower arch mirrored)")
    expect(counts).to_contain_text(str(case / "install"))
    expect(counts).to_contain_text("Images missing0")
    early.scroll_into_view_if_needed()
    screenshot(page, "import-per-table")
    early.locator("select[data-choice='early_layout']").select_option("standard")
    expect(counts).to_contain_text("dental_treatments=universal, tooth_treatments=fdi")
    early.locator("select[data-choice='early_layout']").select_option("mirrored")
    expect(counts).to_contain_text("(lower arch mirrored)")
    page.click("#import-start")
    expect(page.locator("#migration-message")).to_contain_text("imported", timeout=60_000)
    expect(page.locator("#patient-count")).to_have_text("Patients (24)")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the earlier app's sample data is not there")
def test_the_restore_preview_of_the_upgraded_clinics_backup_takes_a_choice_per_table(
    page, tmp_path, runtime
):
    """Its backup, restored from the Settings page with the early chart read as standard: the
    choice reaches the restore (the result names the reading used)."""
    archive = tmp_path / "upgrade-backup.zip"
    shutil.copyfile(next((SAMPLES / "upgrade" / "backups").glob("*.zip")), archive)
    page.click("#open-settings")
    with page.expect_file_chooser() as chooser:
        page.click("#restore-choose")
    chooser.value.set_files(str(archive))
    preview = page.locator("#restore-preview")
    expect(preview).to_be_visible(timeout=60_000)
    expect(preview).to_contain_text("dental_treatments=universal (lower arch mirrored)")
    box = page.locator("#restore-reading")
    expect(box.locator("fieldset")).to_have_count(2)
    box.locator("select[data-choice='early_layout']").select_option("standard")
    with page.expect_response(lambda r: r.url.endswith("/api/restore")) as sent:
        page.click("#restore-confirm")
        page.click("#confirm-ok")
    body = sent.value.request.post_data_json
    assert body["early_layout"] == "standard"
    assert body["table_notation"] == {"dental_treatments": "universal", "tooth_treatments": "fdi"}
    expect(page.locator("#restore-done")).to_be_visible(timeout=60_000)
    last = runtime.jobs.get(sent.value.json()["id"])
    assert last.result["notation"] == "dental_treatments=universal, tooth_treatments=fdi"
