"""The Inbox in the browser: an x-ray sent by dcmtk's storescu to the receiver (on loopback)
shows with its badge and thumbnail, suggested for the patient of its ID, and is assigned to
the whole mouth from the Inbox; Settings says the receiver listens. Screenshots in
English (light) and Arabic (dark)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from tests.dicom_data import dicom_bytes
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk's storescu is missing"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send(port: int, path) -> None:
    sent = subprocess.run(
        ["storescu", "-aet", "XRAY1", "-aec", "DENTAL", "127.0.0.1", str(port), str(path)],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert sent.returncode == 0, sent.stderr


@pytest.fixture
def listening(runtime):
    runtime.receiver.host = "127.0.0.1"
    port = free_port()
    status = runtime.receiver.change(
        {"enabled": True, "ae_title": "DENTAL", "port": port, "allowed_ae_titles": "XRAY1"}
    )
    assert status["listening"], status
    yield port
    runtime.receiver.stop()


@pytest.mark.parametrize(("language", "theme"), [("en", "light"), ("ar", "dark")])
def test_a_received_xray_is_assigned_from_the_inbox(
    page, session, listening, tmp_path, language, theme
):
    patient = patients.create_patient(
        session, {"full_name": "Layla Haddad", "serial_number": "P-1"}
    )
    path = tmp_path / "pano.dcm"
    path.write_bytes(dicom_bytes(patient_name="HADDAD^LAYLA", patient_id="P-1", modality="PX"))
    send(listening, path)
    use(page, language, theme)

    badge = page.locator("#inbox-badge")
    expect(badge).to_be_visible(timeout=10_000)  # the status poll brings the count
    expect(badge).to_have_text("1")  # Latin digits: this PC's default
    page.click("#open-inbox")
    card = page.locator(".inbox-card")
    expect(card).to_have_count(1)
    expect(card.locator("h3")).to_have_text("LAYLA HADDAD")
    expect(card.locator("select[name=patient_id]")).to_have_value(patient.id)
    thumb = card.locator("img.inbox-thumb")
    expect(thumb).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    screenshot(page, f"inbox-{language}-{theme}")

    card.locator("select[name=tooth]").select_option("general")
    card.locator("select[name=image_type]").select_option("xray")
    card.locator("button[type=submit]").click()
    expect(page.locator(".inbox-card")).to_have_count(0)
    expect(badge).to_be_hidden()
    with page.expect_response(lambda r: "/teeth/general/images" in r.url):
        page.click("#close-inbox")
        page.locator("#patient-list li[data-patient-id]").first.click()
        page.click("#general-tile")
    expect(page.locator("#general-count")).to_have_text("1")  # Latin digits: this PC's default

    page.click("#open-settings")
    status = page.locator("#receiver-status")
    expect(status).to_contain_text(str(listening) if language == "en" else "DENTAL")
    page.locator("#receiver-section").scroll_into_view_if_needed()
    screenshot(page, f"receiver-settings-{language}-{theme}")
