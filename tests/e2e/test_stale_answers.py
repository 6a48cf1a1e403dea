"""A dentist must never see (or delete) images under the wrong tooth: answers that arrive late
and out of order never reach the screen, and uploads stay bound to the tooth they started on."""

from __future__ import annotations

import random
import re
import time

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.slow_answers import (
    assert_never_wrong,
    assert_shown_is_database,
    set_rules,
    settle,
    shown,
    slow_down,
    truth,
)
from tests.e2e.test_ui_flow import drop_file, tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

SOAK_SECONDS = 120  # two minutes of random clicks, switches and uploads


def seed_clinic(session, store) -> dict[str, str]:
    """Three patients with images on a few teeth, each tooth its own set: name → id."""
    plan = {
        "Amal Nasser": {"11": ["before", "after"], "10": [], "8": ["xray"], "30": ["clinical"]},
        "Badr Issa": {"11": ["xray", "xray", "before"], "10": ["after"], "19": ["other"]},
        "Carmen Ruiz": {"3": ["before"], "14": ["after", "xray"]},
    }
    ids = {}
    for n, (name, teeth) in enumerate(plan.items()):
        patient = patients.create_patient(session, {"full_name": name})
        ids[name] = patient.id
        for code, kinds in teeth.items():
            for i, kind in enumerate(kinds):
                colour = (40 * n + 30, 20 * i + 60, int(code) * 7 % 255)
                add_images(
                    session,
                    store,
                    patient.id,
                    code,
                    kind,
                    [
                        Upload(
                            f"{name.split()[0]}-{code}-{i}.png",
                            image_bytes("PNG", (64, 48), colour),
                        )
                    ],
                )
    return ids


SCREEN = {"width": 1366, "height": 768}


def open_patient(page, name: str) -> None:
    page.locator("#patient-list li[data-patient-id]", has_text=name).click()


def test_late_answer_of_the_previous_tooth_never_shows(page, runtime, session, store):
    ids = seed_clinic(session, store)
    page.set_viewport_size(SCREEN)
    # tooth 11's list answers 1.5 s late, tooth 10's at once: the late one must be dropped
    slow_down(page, [{"pattern": r"/teeth/11/images", "min": 1500, "max": 1500}])
    open_patient(page, "Amal Nasser")
    expect(page.locator("#patient-name")).to_have_text("Amal Nasser")
    settle(page)
    tooth(page, "11").click()
    tooth(page, "10").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 10 ·")
    # while tooth 11's answer is still on its way: nothing of tooth 11 under the title "Tooth 10"
    view = assert_never_wrong(page, runtime, ids)
    assert view["cards"] == []
    screenshot(page, "stale-answer-waiting")
    settle(page)
    view = assert_shown_is_database(page, runtime, ids)
    assert view["title"].startswith("Tooth 10 ·") and view["tabs"]["all"] == "0"
    expect(page.locator("#image-grid .empty")).to_contain_text("No images of tooth 10 yet")
    expect(tooth(page, "11").locator(".badge text")).to_have_text("2")
    screenshot(page, "stale-answer-dropped")

    # the same across patients: Amal's chart answers late, Badr was asked for last
    set_rules(
        page, [{"pattern": rf"/patients/{ids['Amal Nasser']}(/chart)?$", "min": 1200, "max": 1200}]
    )
    open_patient(page, "Carmen Ruiz")
    open_patient(page, "Amal Nasser")
    open_patient(page, "Badr Issa")
    settle(page)
    view = assert_shown_is_database(page, runtime, ids)
    assert view["patientName"] == "Badr Issa" and not view["panelOpen"]
    assert view["badges"]["11"] == "3" and view["badges"]["8"] == "0"


def test_uploads_stay_bound_to_their_patient_and_tooth(page, runtime, session, store, tmp_path):
    ids = seed_clinic(session, store)
    page.set_viewport_size(SCREEN)
    # the upload waits 8 s before it is sent: time to go elsewhere meanwhile, even on a busy CI
    slow_down(page, [{"pattern": r"^upload .*/teeth/8/images", "min": 8000, "max": 8000}])
    open_patient(page, "Amal Nasser")
    settle(page)
    tooth(page, "8").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 8 ·")
    page.select_option("#upload-type", "after")
    drop_file(page, "late.png", image_bytes("PNG", (80, 60), (10, 200, 90)), "image/png")
    batch = page.locator("#upload-tray .upload-batch")
    expect(batch).to_have_count(1)
    expect(batch.locator(".batch-title")).to_have_text("Amal Nasser · tooth 8 · After")
    # switch tooth, then to a patient with no tooth open, while the upload is on its way
    tooth(page, "30").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 30 ·")
    expect(batch).to_have_class(re.compile(r"\brunning\b"))
    screenshot(page, "upload-tray-running")
    open_patient(page, "Carmen Ruiz")
    expect(page.locator("#patient-name")).to_have_text("Carmen Ruiz")
    expect(batch).to_have_class(re.compile(r"\brunning\b"))  # still in sight on Carmen's page
    expect(batch.locator("li.ok")).to_have_count(1, timeout=30_000)
    toast = page.locator("#toast")
    expect(toast).to_have_text("1 image stored for Amal Nasser, tooth 8.")
    expect(toast).not_to_contain_text("null")
    screenshot(page, "upload-tray-done")
    settle(page)
    amal = truth(runtime, ids["Amal Nasser"])
    assert len(amal.images) == 5
    assert list(amal.of_tooth("8").values()).count("after") == 1  # where it started: Amal, 8
    assert len(truth(runtime, ids["Carmen Ruiz"]).images) == 3
    # Carmen's page shows Carmen's chart; the list's counts are the database's (Amal's went up)
    view = assert_shown_is_database(page, runtime, ids)
    assert view["patientName"] == "Carmen Ruiz" and not view["panelOpen"]
    expect(
        page.locator(f"#patient-list li[data-patient-id='{ids['Amal Nasser']}'] .count")
    ).to_have_text("5")
    open_patient(page, "Amal Nasser")
    settle(page)
    expect(tooth(page, "8").locator(".badge text")).to_have_text("2")
    assert_shown_is_database(page, runtime, ids)


def test_an_oversized_file_is_refused_before_it_is_sent(page, runtime, session, store):
    ids = seed_clinic(session, store)
    limit = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="dental-token"]').content;
            const r = await fetch('api/settings', { headers: { 'X-Dental-Token': token } });
            return (await r.json()).upload.max_bytes;
        }"""
    )
    page.reload()  # the patients made above
    open_patient(page, "Carmen Ruiz")
    settle(page)
    tooth(page, "3").click()
    settle(page)
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    page.evaluate(
        """(size) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(size)], 'huge scan.tif', { type: 'image/tiff' });
            transfer.items.add(file);
            const zone = document.querySelector('#drop-zone');
            zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true }));
        }""",
        limit + 1,
    )
    failed = page.locator("#upload-tray li.failed")
    expect(failed).to_contain_text("huge scan.tif")
    expect(failed).to_contain_text("the limit is 64.0 MB")
    page.wait_for_timeout(300)
    assert [u for u in sent if "/images" in u] == []  # nothing was uploaded
    assert len(truth(runtime, ids["Carmen Ruiz"]).images) == 3


def test_soak_random_switches_and_uploads_against_slow_answers(page, runtime, session, store):
    """Fixed seed: random clicks on patients and teeth, quick double switches, uploads and
    searches, every API answer delayed 0-700 ms in random order; after every step (and in the
    middle of the fast ones) what is shown is what the database says."""
    ids = seed_clinic(session, store)
    names = list(ids)
    rng = random.Random(1402)
    slow_down(
        page,
        [
            {"pattern": r"/teeth/.*/images$", "min": 0, "max": 700},
            {"pattern": r"/treatments", "min": 0, "max": 400},
            {"pattern": r"/patients/[^/?]+(/chart)?$", "min": 0, "max": 700},
            {"pattern": r"/patients\?", "min": 0, "max": 500},
            {"pattern": r"^upload ", "min": 100, "max": 900},
        ],
        seed=1402,
    )
    teeth = ["3", "8", "10", "11", "14", "19", "30"]
    open_patient(page, names[0])
    settle(page)
    steps = {"patient": 0, "tooth": 0, "double": 0, "upload": 0, "search": 0, "tab": 0}
    deadline = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        action = rng.choices(list(steps), weights=[3, 5, 4, 2, 1, 2])[0]
        steps[action] += 1
        if action == "patient":
            open_patient(page, rng.choice(names))
        elif action in ("tooth", "double"):
            if shown(page)["loading"]:
                settle(page)
            for code in rng.sample(teeth, 2 if action == "double" else 1):
                tooth(page, code).click()
                page.wait_for_timeout(rng.randint(0, 250))
                assert_never_wrong(page, runtime, ids)
        elif action == "upload":
            if not shown(page)["panelOpen"]:
                continue
            page.select_option("#upload-type", rng.choice(["before", "after", "xray"]))
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            drop_file(
                page,
                f"soak-{sum(steps.values())}.png",
                image_bytes("PNG", (40, 30), colour),
                "image/png",
            )
            if rng.random() < 0.5:  # go elsewhere while it is on its way
                tooth(page, rng.choice(teeth)).click()
        elif action == "search":
            name = rng.choice(names)
            page.fill("#patient-search", name.split()[0][:3])
            settle(page)
            open_patient(page, name)
            page.fill("#patient-search", "")
        elif action == "tab" and shown(page)["panelOpen"]:
            tab = rng.choice(["all", "before", "xray", "timeline"])
            page.click(f"#type-tabs [data-tab={tab}]")
        assert_never_wrong(page, runtime, ids)
        settle(page)
        assert_never_wrong(page, runtime, ids)
        assert_shown_is_database(page, runtime, ids)
    assert steps["upload"] >= 3 and steps["double"] >= 5, steps
    screenshot(page, "soak-end")


def test_a_settings_list_shows_the_answer_to_its_latest_filter(program_log, page):
    # the log's answer for "ready" comes 1.5 s late; the filter typed after it answers at once
    slow_down(page, [{"pattern": r"api/logs\?.*q=ready", "min": 1500, "max": 1500}])
    page.click("#open-settings")
    settle(page)
    rows = page.locator("#log-entries tr")
    page.fill("#log-filter", "ready")
    page.wait_for_timeout(400)  # past the filter's pause: the slow question is on its way
    page.fill("#log-filter", "no such text anywhere")
    expect(rows).to_have_text(["No log entries match."])
    settle(page)
    page.wait_for_timeout(300)
    expect(rows).to_have_text(["No log entries match."])  # the late "ready" answer was dropped
    assert page.evaluate("window.__slow.delayed") >= 1
    page.fill("#log-filter", "ui ready")  # and the entries are there to be found
    expect(rows.first).to_contain_text("ui ready after")
