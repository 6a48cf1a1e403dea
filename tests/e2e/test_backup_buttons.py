"""The backup section while a job runs and after it fails: one job at a time from the page, and
nothing says "running" once it has ended."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from tests.e2e.slow_answers import settle, slow_down

pytestmark = pytest.mark.browser

JOB_BUTTONS = ("#backup-now", "#backup-db-only", "#verify-backup", "#check-store", "#repair-store")


def test_job_buttons_are_off_while_a_backup_runs(page, session):
    patients.create_patient(session, {"full_name": "Backup Person"})
    # the job's progress answers slowly: the backup is seen running for a while
    slow_down(page, [{"pattern": r"api/jobs/", "min": 900, "max": 900}])
    page.click("#open-settings")
    settle(page)
    page.click("#backup-db-only")
    for selector in JOB_BUTTONS:
        expect(page.locator(selector)).to_be_disabled()
    expect(page.locator("#backup-job")).to_be_visible()
    expect(page.locator("#backup-result")).to_contain_text(
        "Backup written and verified", timeout=30_000
    )
    for selector in JOB_BUTTONS:
        expect(page.locator(selector)).to_be_enabled()
    expect(page.locator("#backup-job")).to_be_hidden()
    expect(page.locator("#lock-banner")).to_be_hidden()
    # the list says what the backup holds: the database, without the image files
    expect(
        page.locator("#backup-list li", has_text="(database only: no image files)")
    ).to_have_count(1)


def test_after_a_failed_backup_nothing_says_it_still_runs(page, session, settings):
    patients.create_patient(session, {"full_name": "Backup Person"})
    settings.backups_dir.parent.mkdir(parents=True, exist_ok=True)
    if settings.backups_dir.is_dir():
        settings.backups_dir.rmdir()
    settings.backups_dir.write_text("a file where the backup folder should be", encoding="utf-8")
    page.click("#open-settings")
    settle(page)
    page.click("#backup-now")
    result = page.locator("#backup-result .warning")
    expect(result).to_contain_text("✖", timeout=30_000)
    expect(page.locator("#backup-job")).to_be_hidden()
    expect(page.locator("#lock-banner")).to_be_hidden()
    for selector in JOB_BUTTONS:
        expect(page.locator(selector)).to_be_enabled()
