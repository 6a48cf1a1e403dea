"""Details of the tooth panel, the viewer, settings and the chart, as a user meets them in a real
Chromium against the real server: paste upload, treatments, the timeline, the viewer's view-only
controls, the log and storage panels, the demo data, and the chart on big and small screens."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

STATUS_RGB = {
    "planned": "rgb(245, 158, 11)",
    "in_progress": "rgb(59, 130, 246)",
    "completed": "rgb(34, 197, 94)",
    "cancelled": "rgb(156, 163, 175)",
}


# ---------------------------------------------------------------------------------------------
# helpers


def add_patient(page, name: str) -> None:
    page.click("#new-patient")
    page.fill("#patient-form [name=full_name]", name)
    page.click("#patient-form button[value=save]")
    expect(page.locator("#patient-name")).to_have_text(name)


def open_patient(page, name: str) -> None:
    """Reload (to see data made behind the page's back) and open the patient from the list."""
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.locator("#patient-list li[data-patient-id]", has_text=name).click()
    expect(page.locator("#patient-name")).to_have_text(name)


def tooth(page, code: str):
    return page.locator(f"#tooth-chart [data-tooth='{code}']")


def open_tooth(page, code: str) -> None:
    tooth(page, code).click()
    expect(page.locator("#tooth-panel")).to_be_visible()


def patterned_png(size=(320, 200)) -> bytes:
    """A PNG whose halves differ, so flips and inversions would show if they touched the file."""
    picture = Image.new("RGB", size, (230, 230, 230))
    for x in range(size[0] // 2):
        for y in range(size[1]):
            picture.putpixel((x, y), (30, 60, 200))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def store_images(session, store, patient_id, code, kind, uploads, taken_date=None, note=None):
    results = add_images(
        session,
        store,
        patient_id,
        code,
        kind,
        [Upload(name, data) for name, data in uploads],
        taken_date=taken_date,
        description=note,
    )
    assert all(r.image is not None for r in results), [r.error for r in results]
    return [r.image for r in results]


def file_digest(page, url: str) -> dict:
    """GET the full-size file as the page would, bypassing the HTTP cache."""
    return page.evaluate(
        """async (url) => {
            const response = await fetch(url, { cache: "no-store" });
            const bytes = await response.arrayBuffer();
            const hash = await crypto.subtle.digest("SHA-256", bytes);
            const hex = [...new Uint8Array(hash)]
                .map((b) => b.toString(16).padStart(2, "0"))
                .join("");
            return { status: response.status, size: bytes.byteLength, sha256: hex };
        }""",
        url,
    )


def viewer_state(page) -> dict:
    return page.evaluate(
        """() => {
            const img = document.querySelector('#viewer-image');
            const m = getComputedStyle(img).transform.match(/matrix\\(([^)]+)\\)/);
            const [a, b, c, d, e, f] = m ? m[1].split(',').map(Number) : [1, 0, 0, 1, 0, 0];
            const t = img.style.transform.match(/translate\\(([-\\d.e]+)px, ([-\\d.e]+)px\\)/);
            return {
                transform: img.style.transform,
                filter: img.style.filter,
                computedFilter: getComputedStyle(img).filter,
                a, b, c, d,
                x: t ? Number(t[1]) : null,
                y: t ? Number(t[2]) : null,
                zoom: Number(img.dataset.zoom),
                title: document.querySelector('#viewer-title').textContent,
                brightness: document.querySelector('#viewer-brightness').value,
                contrast: document.querySelector('#viewer-contrast').value,
            };
        }"""
    )


def format_bytes(size: int) -> str:
    """ui.js formatBytes, for the expected text."""
    units = ["B", "KB", "MB", "GB", "TB"]
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.{0 if unit == 0 else 1}f} {units[unit]}"


def chart_geometry(page) -> list[dict]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#tooth-chart [data-tooth]')].map((g) => {
            const crown = g.querySelector('.crown').getBoundingClientRect();
            const label = g.querySelector('.tooth-label');
            const lb = label.getBoundingClientRect();
            const cx = crown.left + crown.width / 2;
            const cy = crown.top + crown.height / 2;
            const hit = document.elementFromPoint(cx, cy);
            const scale = label.getScreenCTM().a;
            const size = parseFloat(getComputedStyle(label).fontSize);
            return {
                code: g.dataset.tooth,
                crown: { left: crown.left, top: crown.top, right: crown.right, bottom: crown.bottom,
                         width: crown.width, height: crown.height },
                label: { left: lb.left, top: lb.top, right: lb.right, bottom: lb.bottom,
                         text: label.textContent },
                hit: hit?.closest('[data-tooth]')?.dataset.tooth ?? null,
                fontSize: size,
                renderedFontSize: size * scale,
            };
        })"""
    )


def assert_chart_fits(page, width: int, height: int) -> list[dict]:
    teeth = chart_geometry(page)
    assert sorted(int(t["code"]) for t in teeth) == list(range(1, 33))
    svg = page.locator("#tooth-chart").bounding_box()
    for t in teeth:
        c = t["crown"]
        assert c["width"] > 10 and c["height"] > 10, t
        assert c["left"] >= 0 and c["right"] <= width and c["top"] >= 0 and c["bottom"] <= height, (
            f"tooth {t['code']} is off screen at {width}x{height}: {c}"
        )
        assert svg["x"] - 1 <= c["left"] and c["right"] <= svg["x"] + svg["width"] + 1, t
        assert t["hit"] == t["code"], f"tooth {t['code']} is covered at its centre by {t['hit']}"
        lb = t["label"]
        assert c["left"] <= lb["left"] and lb["right"] <= c["right"], f"label outside tooth: {t}"
    for i, first in enumerate(teeth):
        for second in teeth[i + 1 :]:
            a, b = first["crown"], second["crown"]
            overlap_x = min(a["right"], b["right"]) - max(a["left"], b["left"])
            overlap_y = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, (
                f"teeth {first['code']} and {second['code']} overlap at {width}x{height}"
            )
    return teeth


# ---------------------------------------------------------------------------------------------
# 1. paste upload


def test_pasting_an_image_uploads_it_to_the_open_tooth(page, session):
    add_patient(page, "Paste Patient")
    open_tooth(page, "8")
    page.select_option("#upload-type", "xray")
    # Ctrl+V of a screenshot: Chromium hands the page a File called "image.png".
    page.evaluate(
        """async () => {
            const canvas = document.createElement('canvas');
            canvas.width = 120;
            canvas.height = 80;
            const g = canvas.getContext('2d');
            g.fillStyle = '#c0392b';
            g.fillRect(0, 0, 120, 80);
            g.fillStyle = '#ffffff';
            g.fillRect(10, 10, 40, 30);
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], 'image.png', { type: 'image/png' }));
            const init = { clipboardData: transfer, bubbles: true, cancelable: true };
            const event = new ClipboardEvent('paste', init);
            document.body.dispatchEvent(event);
        }"""
    )
    row = page.locator("#upload-tray li.ok")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Stored")
    expect(row.locator(".name")).to_have_text(re.compile(r"^pasted-\d+-0\.png$"))
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
    expect(page.locator("#image-grid .image-card img")).to_have_js_property("complete", True)
    assert page.eval_on_selector("#image-grid .image-card img", "i => i.naturalWidth") > 0
    expect(page.locator("#image-grid .image-card .chip")).to_have_text("X-ray")
    expect(tooth(page, "8").locator(".badge text")).to_have_text("1")
    expect(page.locator("#type-tabs [data-tab=xray] .count")).to_have_text("1")
    expect(page.locator("#type-tabs [data-tab=all] .count")).to_have_text("1")
    expect(page.locator("#patient-facts")).to_contain_text("1 image")
    expect(page.locator("#toast")).to_contain_text("1 image stored")

    stored = page.evaluate(
        """async () => {
            const item = document.querySelector('#patient-list li[data-patient-id]');
            const token = document.querySelector('meta[name="dental-token"]').content;
            const url = `api/patients/${item.dataset.patientId}/teeth/8/images`;
            const r = await fetch(url, { headers: { 'X-Dental-Token': token } });
            return (await r.json()).images;
        }"""
    )
    assert len(stored) == 1
    assert stored[0]["format"] == "PNG" and (stored[0]["width"], stored[0]["height"]) == (120, 80)
    assert stored[0]["image_type"] == "xray"
    assert stored[0]["original_name"].startswith("pasted-")
    screenshot(page, "paste-upload")

    # A paste while a dialog is open (typing in a form) must not upload anything.
    page.click("#add-treatment")
    expect(page.locator("#treatment-dialog")).to_be_visible()
    page.evaluate(
        """() => {
            const canvas = document.createElement('canvas');
            canvas.width = canvas.height = 20;
            return new Promise((resolve) => canvas.toBlob((blob) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([blob], 'image.png', { type: 'image/png' }));
                const init = { clipboardData: transfer, bubbles: true };
                document.dispatchEvent(new ClipboardEvent('paste', init));
                resolve();
            }, 'image/png'));
        }"""
    )
    page.click("#treatment-form button[value=cancel]")
    page.wait_for_timeout(500)
    expect(page.locator("#upload-tray li")).to_have_count(1)
    expect(tooth(page, "8").locator(".badge text")).to_have_text("1")


# ---------------------------------------------------------------------------------------------
# 2. treatments


def test_add_edit_and_delete_a_treatment_of_a_tooth(page):
    add_patient(page, "Treatment Patient")
    open_tooth(page, "14")
    expect(page.locator("#treatment-list")).to_contain_text("No treatments recorded")
    expect(tooth(page, "14").locator(".crown")).to_have_attribute("fill", "#ffffff")

    page.click("#add-treatment")
    dialog = page.locator("#treatment-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#treatment-dialog-title")).to_have_text("New treatment · tooth 14")
    expect(page.locator("#delete-treatment")).to_be_hidden()
    form = "#treatment-form"
    page.fill(f"{form} [name=treatment_type]", "Root canal")
    page.select_option(f"{form} [name=status]", "in_progress")
    page.fill(f"{form} [name=color]", "#ff0000")
    page.fill(f"{form} [name=cost]", "250")
    page.fill(f"{form} [name=start_date]", "2024-03-01")
    page.fill(f"{form} [name=notes]", "Two canals, temporary filling")
    page.click(f"{form} button[value=save]")
    expect(dialog).to_be_hidden()

    items = page.locator("#treatment-list li")
    expect(items).to_have_count(1)
    item = items.first
    expect(item.locator("strong")).to_have_text("Root canal")
    expect(item.locator(".status")).to_have_text("In progress")
    expect(item).to_contain_text("Mar 1, 2024")
    expect(item.locator(".notes")).to_have_text("Two canals, temporary filling")
    expect(item.locator(".swatch")).to_have_css("background-color", "rgb(255, 0, 0)")
    expect(item.locator(".dot")).to_have_css("background-color", STATUS_RGB["in_progress"])
    expect(tooth(page, "14")).to_have_class(re.compile(r"\bstatus-in_progress\b"))
    expect(tooth(page, "14").locator(".crown")).to_have_css("fill", STATUS_RGB["in_progress"])
    expect(tooth(page, "14")).to_have_attribute("aria-label", re.compile("In progress"))
    expect(page.locator("#upload-treatment option")).to_have_text(
        ["— none —", "Root canal (In progress)"]
    )
    tooth(page, "14").hover()
    expect(page.locator("#chart-tooltip")).to_contain_text("Root canal — In progress")

    # edit: the form comes back filled in with what was saved
    item.get_by_role("button", name="Edit treatment Root canal").click()
    expect(dialog).to_be_visible()
    expect(page.locator("#treatment-dialog-title")).to_have_text("Edit treatment")
    expect(page.locator(f"{form} [name=treatment_type]")).to_have_value("Root canal")
    expect(page.locator(f"{form} [name=status]")).to_have_value("in_progress")
    expect(page.locator(f"{form} [name=color]")).to_have_value("#ff0000")
    expect(page.locator(f"{form} [name=start_date]")).to_have_value("2024-03-01")
    expect(page.locator(f"{form} [name=notes]")).to_have_value("Two canals, temporary filling")
    expect(page.locator("#delete-treatment")).to_be_visible()
    page.select_option(f"{form} [name=status]", "completed")
    page.fill(f"{form} [name=completion_date]", "2024-04-15")
    page.fill(f"{form} [name=color]", "#00aa00")
    page.click(f"{form} button[value=save]")
    expect(dialog).to_be_hidden()
    expect(items).to_have_count(1)
    expect(item.locator(".status")).to_have_text("Completed")
    expect(item).to_contain_text("Mar 1, 2024 → Apr 15, 2024")
    expect(item.locator(".swatch")).to_have_css("background-color", "rgb(0, 170, 0)")
    expect(tooth(page, "14")).to_have_class(re.compile(r"\bstatus-completed\b"))
    expect(tooth(page, "14").locator(".crown")).to_have_css("fill", STATUS_RGB["completed"])

    # delete, but change one's mind at the confirmation: nothing is removed
    item.get_by_role("button", name="Edit treatment Root canal").click()
    page.click("#delete-treatment")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-title")).to_have_text("Delete this treatment?")
    expect(page.locator("#confirm-text")).to_contain_text("Root canal will be removed")
    page.click("#confirm-dialog button[value=cancel]")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    # (going back to the edit form, or closing it, are both fair: leave it without saving)
    if page.locator("#treatment-dialog").is_visible():
        page.click("#treatment-form button[value=cancel]")
    expect(dialog).to_be_hidden()
    expect(items).to_have_count(1)
    expect(item.locator("strong")).to_have_text("Root canal")

    # a second treatment added afterwards is a new one, and the first is left as it was
    page.click("#add-treatment")
    expect(page.locator("#treatment-dialog-title")).to_have_text("New treatment · tooth 14")
    page.fill(f"{form} [name=treatment_type]", "Crown")
    page.select_option(f"{form} [name=status]", "planned")
    page.click(f"{form} button[value=save]")
    expect(dialog).to_be_hidden()
    expect(items).to_have_count(2)
    names = sorted(page.locator("#treatment-list li strong").all_text_contents())
    assert names == ["Crown", "Root canal"], names
    # in progress/planned outrank completed for the tooth's colour
    expect(tooth(page, "14").locator(".crown")).to_have_css("fill", STATUS_RGB["planned"])

    # delete for real
    page.locator("#treatment-list li", has_text="Root canal").get_by_role(
        "button", name="Edit treatment Root canal"
    ).click()
    page.click("#delete-treatment")
    page.click("#confirm-ok")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(items).to_have_count(1)
    expect(page.locator("#treatment-list li strong")).to_have_text("Crown")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    open_tooth(page, "14")
    expect(page.locator("#treatment-list li strong")).to_have_text(["Crown"])
    expect(tooth(page, "14").locator(".crown")).to_have_css("fill", STATUS_RGB["planned"])


# ---------------------------------------------------------------------------------------------
# 3. timeline


def test_timeline_lists_every_type_in_date_order(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Timeline Patient"})
    plan = [
        ("before", "2023-01-15", "before crown"),
        ("xray", "2022-11-03", "first x-ray"),
        ("after", "2023-06-20", "crown fitted"),
        ("clinical", "2023-01-02", "gum check"),
        ("xray", "2023-06-01", "control x-ray"),
        ("other", None, "scan today"),
    ]
    for index, (kind, taken, note) in enumerate(plan):
        store_images(
            session,
            store,
            patient.id,
            "19",
            kind,
            [(f"{kind}-{index}.png", image_bytes("PNG", (80, 60), (index * 40, 90, 120)))],
            taken_date=taken,
            note=note,
        )
    open_patient(page, "Timeline Patient")
    expect(tooth(page, "19").locator(".badge text")).to_have_text("6")
    open_tooth(page, "19")
    page.click("#type-tabs [data-tab=timeline]")
    expect(page.locator("#type-tabs [data-tab=timeline]")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#image-grid")).to_be_hidden()
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible()
    cards = timeline.locator(".image-card")
    expect(cards).to_have_count(6)
    expect(cards.locator(".desc")).to_have_text(
        ["first x-ray", "gum check", "before crown", "control x-ray", "crown fitted", "scan today"]
    )
    expect(cards.locator(".chip")).to_have_text(
        ["X-ray", "Clinical", "Before", "X-ray", "After", "Other"]
    )
    this_month = date.today().strftime("%B %Y")
    expect(timeline.locator(".timeline-month h4")).to_have_text(
        ["November 2022", "January 2023", "June 2023", this_month]
    )
    expect(timeline.locator(".timeline-month").nth(1).locator(".image-card")).to_have_count(2)
    screenshot(page, "timeline")

    # the viewer walks the timeline in the same order
    cards.nth(2).locator(".thumb").click()
    expect(page.locator("#viewer-title")).to_contain_text("before crown")
    expect(page.locator("#viewer-title")).to_contain_text("(3/6)")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_contain_text("control x-ray")
    page.keyboard.press("Escape")

    # a type tab filters; the timeline still shows all types when chosen again
    page.click("#type-tabs [data-tab=xray]")
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    page.click("#type-tabs [data-tab=timeline]")
    expect(cards).to_have_count(6)


# ---------------------------------------------------------------------------------------------
# 4. viewer controls


def test_viewer_controls_change_only_the_view_never_the_file(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Viewer Patient"})
    first_bytes = patterned_png()
    second_bytes = image_bytes("JPEG", (640, 480), (200, 90, 60))
    [first] = store_images(
        session,
        store,
        patient.id,
        "3",
        "xray",
        [("pano.png", first_bytes)],
        taken_date="2024-01-10",
        note="first view",
    )
    [second] = store_images(
        session,
        store,
        patient.id,
        "3",
        "before",
        [("front.jpg", second_bytes)],
        taken_date="2024-02-10",
        note="second view",
    )
    open_patient(page, "Viewer Patient")
    open_tooth(page, "3")
    before = {
        first.id: file_digest(page, f"images/{first.id}/file"),
        second.id: file_digest(page, f"images/{second.id}/file"),
    }
    assert before[first.id] == {
        "status": 200,
        "size": len(first_bytes),
        "sha256": hashlib.sha256(first_bytes).hexdigest(),
    }

    page.locator("#image-grid .image-card", has_text="second view").locator(".thumb").click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    expect(page.locator("#viewer-title")).to_contain_text("(2/2)")
    start = viewer_state(page)
    assert start["a"] > 0 and start["d"] > 0
    assert start["filter"] == "brightness(100%) contrast(100%)"

    # flip by keys h / v, and back by the buttons
    page.keyboard.press("h")
    state = viewer_state(page)
    assert state["a"] == pytest.approx(-start["a"]) and state["d"] == pytest.approx(start["d"])
    page.keyboard.press("v")
    state = viewer_state(page)
    assert state["a"] == pytest.approx(-start["a"]) and state["d"] == pytest.approx(-start["d"])
    page.click("#viewer-dialog [data-act=flip-h]")
    page.click("#viewer-dialog [data-act=flip-v]")
    state = viewer_state(page)
    assert state["a"] == pytest.approx(start["a"]) and state["d"] == pytest.approx(start["d"])
    page.click("#viewer-dialog [data-act=flip-v]")
    assert viewer_state(page)["d"] == pytest.approx(-start["d"])

    # invert by button, then back by key i
    page.click("#viewer-dialog [data-act=invert]")
    assert viewer_state(page)["filter"].endswith("invert(1)")
    assert "invert(1)" in viewer_state(page)["computedFilter"]
    page.keyboard.press("i")
    assert "invert" not in viewer_state(page)["filter"]
    page.click("#viewer-dialog [data-act=invert]")

    # brightness and contrast sliders
    page.fill("#viewer-brightness", "150")
    page.fill("#viewer-contrast", "60")
    state = viewer_state(page)
    assert state["filter"] == "brightness(150%) contrast(60%) invert(1)"
    assert state["computedFilter"] == "brightness(1.5) contrast(0.6) invert(1)"
    screenshot(page, "viewer-adjusted")

    # wheel zoom around the pointer: the point under it stays put
    page.click("#viewer-dialog [data-act=fit]")
    fitted = viewer_state(page)
    assert (fitted["x"], fitted["y"]) == (0, 0)
    stage = page.locator("#viewer-stage").bounding_box()
    cx = stage["x"] + stage["width"] / 2
    cy = stage["y"] + stage["height"] / 2
    page.mouse.move(cx + 100, cy + 50)
    page.mouse.wheel(0, -120)
    page.wait_for_function(
        f"Number(document.querySelector('#viewer-image').dataset.zoom) > {fitted['zoom']}"
    )
    zoomed = viewer_state(page)
    assert zoomed["zoom"] == pytest.approx(fitted["zoom"] * 1.25, rel=0.01)
    assert zoomed["x"] == pytest.approx(100 - 100 * 1.25, abs=1)
    assert zoomed["y"] == pytest.approx(50 - 50 * 1.25, abs=1)
    expect(page.locator("#viewer-zoom")).to_have_text(f"{round(zoomed['zoom'] * 100)}%")
    page.mouse.wheel(0, 120)
    page.wait_for_function(
        f"Number(document.querySelector('#viewer-image').dataset.zoom) < {zoomed['zoom']}"
    )
    assert viewer_state(page)["zoom"] == pytest.approx(fitted["zoom"], rel=0.01)

    # drag to pan
    state = viewer_state(page)
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy + 40, steps=6)
    page.mouse.up()
    panned = viewer_state(page)
    assert panned["x"] == pytest.approx(state["x"] + 80, abs=1)
    assert panned["y"] == pytest.approx(state["y"] + 40, abs=1)
    assert panned["zoom"] == pytest.approx(state["zoom"])
    expect(page.locator("#viewer-stage")).not_to_have_class(re.compile("panning"))

    # ← goes to the previous image, with a fresh view
    page.locator("#viewer-dialog [data-act=fit]").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-title")).to_contain_text("(1/2)")
    expect(page.locator("#viewer-title")).to_contain_text("first view")
    page.wait_for_function(
        "(id) => document.querySelector('#viewer-image').src.includes(id)", arg=first.id
    )
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth === 320")
    fresh = viewer_state(page)
    assert fresh["a"] > 0 and fresh["d"] > 0
    assert fresh["filter"] == "brightness(100%) contrast(100%)"
    assert (fresh["brightness"], fresh["contrast"]) == ("100", "100")
    assert (fresh["x"], fresh["y"]) == (0, 0)
    expect(page.locator("#viewer-dialog")).to_have_class(re.compile(r"\bxray\b"))
    page.keyboard.press("Escape")
    expect(page.locator("#viewer-dialog")).to_be_hidden()

    # the files were only looked at
    for image, data in ((first, first_bytes), (second, second_bytes)):
        assert file_digest(page, f"images/{image.id}/file") == before[image.id]
        assert (settings.data_dir / image.relative_path).read_bytes() == data


# ---------------------------------------------------------------------------------------------
# 5. settings: log and storage


def test_settings_log_filters_and_storage_report(page, session, store, settings, program_log):
    patient = patients.create_patient(session, {"full_name": "Log Patient"})
    good = image_bytes("PNG", (200, 150), (10, 200, 30))
    also_good = image_bytes("JPEG", (300, 200), (200, 10, 30))
    results = add_images(
        session,
        store,
        patient.id,
        "12",
        "before",
        [
            Upload("good.png", good),
            Upload("broken.jpg", b"not an image"),
            Upload("b.jpg", also_good),
        ],
    )
    assert [r.image is not None for r in results] == [True, False, True]
    assert program_log.is_file()

    page.click("#open-settings")
    expect(page.locator("#settings-view")).to_be_visible()
    rows = page.locator("#log-entries tr")
    expect(rows.filter(has_text="image stored")).to_have_count(2)
    expect(rows.filter(has_text="upload refused: broken.jpg")).to_have_count(1)
    expect(rows.filter(has_text="patient created")).to_have_count(1)
    first_time = rows.first.locator("td.time").text_content()
    assert re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$", first_time), first_time
    # newest first
    texts = rows.locator("pre").all_text_contents()
    assert texts.index(next(t for t in texts if "upload refused" in t)) < texts.index(
        next(t for t in texts if "patient created" in t)
    )
    expect(rows.filter(has_text="upload refused")).to_have_class("level-warning")

    # level filter
    page.select_option("#log-level", "WARNING")
    expect(rows.filter(has_text="image stored")).to_have_count(0)
    expect(rows.filter(has_text="upload refused: broken.jpg")).to_have_count(1)
    levels = rows.locator("td:nth-child(2)").all_text_contents()
    assert levels and set(levels) <= {"WARNING", "ERROR", "CRITICAL"}, levels
    page.select_option("#log-level", "ERROR")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("No log entries match.")
    page.select_option("#log-level", "INFO")
    expect(rows.filter(has_text="image stored")).to_have_count(2)

    # text filter (any case)
    page.fill("#log-filter", "IMAGE STORED")
    expect(rows).to_have_count(2)
    for text in rows.locator("pre").all_text_contents():
        assert "image stored" in text
    page.fill("#log-filter", "broken.jpg")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("upload refused: broken.jpg")
    page.select_option("#log-level", "ERROR")
    expect(rows).to_contain_text("No log entries match.")
    page.select_option("#log-level", "INFO")
    page.fill("#log-filter", "zzz-nothing-like-this")
    expect(rows).to_contain_text("No log entries match.")
    page.fill("#log-filter", "")
    expect(rows.filter(has_text="image stored")).to_have_count(2)

    # a new action shows after Refresh
    patients.create_patient(session, {"full_name": "Late Arrival"})
    page.click("#refresh-log")
    expect(rows.filter(has_text="patient created")).to_have_count(2)

    # storage: the two stored images, their sizes, thumbnails, free space
    report = page.locator("#storage-report")
    total = len(good) + len(also_good)
    expect(report.locator("dt")).to_have_text(["Images", "Trash", "Thumbnails", "Free space"])
    expect(report.locator("dd").nth(0)).to_have_text(f"2 records · 2 files · {format_bytes(total)}")
    expect(report.locator("dd").nth(1)).to_have_text(f"0 files · {format_bytes(0)}")  # none deleted
    thumbs = sum(
        p.stat().st_size for p in settings.data_dir.rglob("*") if "thumb" in str(p) and p.is_file()
    )
    expect(report.locator("dd").nth(2)).to_have_text(format_bytes(thumbs))
    expect(report.locator("dd").nth(3)).to_have_text(
        re.compile(r"^[\d.]+ [KMGT]?B of [\d.]+ [KMGT]?B$")
    )
    page.locator(".log-table").scroll_into_view_if_needed()
    screenshot(page, "settings-log")


# ---------------------------------------------------------------------------------------------
# 6. demo data


def test_demo_button_fills_an_empty_installation(page):
    expect(page.locator("#welcome-view")).to_be_visible()
    expect(page.locator("#patient-list")).to_contain_text("No patients yet.")
    demo = page.locator("#load-demo")
    expect(demo).to_be_visible()
    demo.click()
    expect(page.locator("#toast")).to_contain_text("Demo data loaded")
    people = page.locator("#patient-list li[data-patient-id]")
    expect(people).to_have_count(4)
    for name in ("Sarah Mitchell", "أحمد خليل", "Daniel Okafor", "María González"):
        expect(people.filter(has_text=name)).to_have_count(1)
    expect(page.locator("#patient-count")).to_have_text("Patients (4)")
    expect(demo).to_be_hidden()
    counts = [int(c) for c in people.locator(".count").all_text_contents()]
    assert sum(counts) > 0, counts

    people.filter(has_text="Sarah Mitchell").click()
    expect(page.locator("#patient-name")).to_have_text("Sarah Mitchell")
    badges = page.locator("#tooth-chart .badge text")
    expect(badges.first).to_be_visible()
    shown = sum(int(t) for t in badges.all_text_contents())
    listed = int(people.filter(has_text="Sarah Mitchell").locator(".count").text_content())
    assert shown == listed > 0
    expect(page.locator("#patient-facts")).to_contain_text(f"{listed} image")
    assert page.locator("#tooth-chart .tooth[class*='status-']").count() > 0
    page.locator("#tooth-chart .tooth:has(.badge)").first.click()
    expect(page.locator("#image-grid .image-card").first).to_be_visible()
    expect(page.locator("#image-grid .image-card img").first).to_have_js_property("complete", True)
    assert page.eval_on_selector("#image-grid .image-card img", "i => i.naturalWidth") > 0
    screenshot(page, "demo-chart")

    # a second click (from another tab, say) must be refused, not duplicate the patients
    answer = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="dental-token"]').content;
            const init = { method: 'POST', headers: { 'X-Dental-Token': token } };
            const r = await fetch('api/demo', init);
            return r.status;
        }"""
    )
    assert answer == 409


# ---------------------------------------------------------------------------------------------
# 7. the chart on a 4K screen and a small laptop


def test_chart_at_4k_shows_32_separate_readable_teeth(page):
    page.set_viewport_size({"width": 3840, "height": 2160})
    add_patient(page, "Big Screen")
    teeth = assert_chart_fits(page, 3840, 2160)
    for t in teeth:
        assert t["fontSize"] >= 12, t
        assert t["renderedFontSize"] >= 12, t
    svg = page.locator("#tooth-chart").bounding_box()
    # a 4K screen should get a big chart, not a strip in the middle
    assert svg["width"] >= 1500, svg
    screenshot(page, "chart-4k")

    page.select_option("#notation", "palmer")
    expect(tooth(page, "1").locator(".tooth-label")).to_have_text("UR8")
    assert_chart_fits(page, 3840, 2160)


def test_chart_at_1280x800_fits_all_teeth_without_overlap(page):
    add_patient(page, "Small Screen")
    teeth = assert_chart_fits(page, 1280, 800)
    for t in teeth:
        assert t["renderedFontSize"] >= 12, t
    screenshot(page, "chart-1280")


def test_primary_teeth_labels_fit_their_teeth_at_1280x800(page):
    add_patient(page, "Child Patient")
    page.check("#show-primary")
    expect(page.locator("#tooth-chart [data-tooth]")).to_have_count(52)
    for notation, sample in (("universal", "A"), ("fdi", "55"), ("palmer", "URE")):
        page.select_option("#notation", notation)
        expect(tooth(page, "A").locator(".tooth-label")).to_have_text(sample)
        screenshot(page, f"chart-primary-{notation}")
        for t in chart_geometry(page):
            c = t["crown"]
            assert c["left"] >= 0 and c["right"] <= 1280, t
            assert t["hit"] == t["code"], t
            lb = t["label"]
            assert c["left"] - 1 <= lb["left"] and lb["right"] <= c["right"] + 1, (
                f"{notation}: label {lb['text']!r} spills out of tooth {t['code']}: "
                f"label {lb['left']:.1f}-{lb['right']:.1f}, tooth {c['left']:.1f}-{c['right']:.1f}"
            )
