"""Choosing the incremental set for scheduled backups in Settings, in a real Chromium: the
choice is saved, the scheduled backups land in the set and are listed with what they added,
and one of them is restored from the list after its preview."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backend.backup import state
from backend.backup.service import run_backup
from backend.jobs import Progress
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def add_patient(session, store, name: str, count: int) -> None:
    patient = patients.create_patient(session, {"full_name": name})
    add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [
            Upload(f"p{n}.png", image_bytes("PNG", (120 + n, 90), (n * 50, 80, 60)))
            for n in range(count)
        ],
    )


def test_choose_the_incremental_set_and_restore_one_of_its_backups(
    page, session, store, runtime, tmp_path
):
    add_patient(session, store, "First Patient", 2)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#open-settings")
    form = page.locator("#backup-schedule")
    expect(form.locator("select[name=mode]")).to_have_value("set")  # the default
    form.locator("select[name=mode]").select_option("zip")
    form.locator("select[name=schedule]").select_option("daily")
    form.locator("input[name=folder]").fill(str(tmp_path))
    form.locator("button[type=submit]").click()
    expect(page.locator("#backup-schedule-result")).to_contain_text("Saved")
    with runtime.sessions() as s:
        assert state.read_backup_settings(s).mode == "zip"
    form.locator("select[name=mode]").select_option("set")
    form.locator("button[type=submit]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#backup-schedule-result")).to_contain_text("Saved")
    with runtime.sessions() as s:
        assert state.read_backup_settings(s).mode == "set"

    first = run_backup(runtime, Progress(), scheduled=True)
    add_patient(session, store, "Second Patient", 1)
    run_backup(runtime, Progress(), scheduled=True)
    assert first["kind"] == "set-backup"
    page.click("#close-settings")
    page.click("#open-settings")
    items = page.locator("#backup-list li", has_text="(incremental set)")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("added")
    page.locator("#backup-list").scroll_into_view_if_needed()
    screenshot(page, "backup-set-list-en")

    # two backups in one second are TIME and TIME-2: the first's name alone is in both
    older = page.locator(
        "#backup-list li", has_text=re.compile(re.escape(first["name"]) + r"(?![-\d])")
    )
    older.locator("button.restore-set-backup").click()
    preview = page.locator("#restore-preview")
    expect(preview).to_be_visible(timeout=30_000)
    expect(preview).to_contain_text("1 patient")
    expect(page.locator("#restore-cancel")).to_be_focused()
    page.click("#restore-confirm")
    page.click("#confirm-ok")
    expect(page.locator("#restore-done")).to_be_visible(timeout=30_000)
    with runtime.sessions() as s:
        assert [p.full_name for p in patients.search_patients(s)] == ["First Patient"]

    use(page, "ar", "dark")
    page.click("#open-settings")
    expect(page.locator("#backup-list li", has_text="(مجموعة تزايدية)")).to_have_count(2)
    expect(page.locator("#backup-schedule select[name=mode] option[value=set]")).to_have_text(
        "مجموعة تزايدية (موصى بها)"
    )
    page.locator("#backup-schedule").scroll_into_view_if_needed()
    screenshot(page, "backup-set-schedule-ar-dark")
    page.locator("#backup-list").scroll_into_view_if_needed()
    screenshot(page, "backup-set-list-ar-dark")
