"""What a receptionist and a dentist do, in a real Chromium against the real server."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def add_patient(page, name: str, phone: str = "0791234567") -> None:
    page.click("#new-patient")
    page.fill("#patient-form [name=full_name]", name)
    page.fill("#patient-form [name=phone]", phone)
    page.click("#patient-form button[value=save]")
    expect(page.locator("#patient-name")).to_have_text(name)


def tooth(page, code: str):
    return page.locator(f"#tooth-chart [data-tooth='{code}']")


def choose_files(page, tmp_path, files: dict[str, bytes]) -> None:
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    with page.expect_file_chooser() as chooser:
        page.click("#choose-files")
    chooser.value.set_files(paths)


def drop_file(page, name: str, data: bytes, mime: str) -> None:
    page.evaluate(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const zone = document.querySelector('#drop-zone');
            const init = { dataTransfer: transfer, bubbles: true };
            zone.dispatchEvent(new DragEvent('dragover', init));
            zone.dispatchEvent(new DragEvent('drop', init));
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


def test_full_flow_from_new_patient_to_deleted_image(page, tmp_path):
    add_patient(page, "Layla Haddad")
    screenshot(page, "chart")
    tooth(page, "8").click()
    expect(page.locator("#tooth-title")).to_contain_text("Upper right central incisor")

    page.select_option("#upload-type", "before")
    choose_files(
        page,
        tmp_path,
        {
            "front.jpg": image_bytes("JPEG", (800, 600), (200, 80, 60)),
            "side.png": image_bytes("PNG", (640, 480), (60, 80, 200)),
        },
    )
    expect(page.locator("#upload-tray li.ok")).to_have_count(2)
    page.select_option("#upload-type", "after")
    drop_file(page, "healed.jpg", image_bytes("JPEG", (800, 600), (90, 200, 90)), "image/jpeg")
    # the list shows the latest upload only
    expect(page.locator("#upload-tray li")).to_have_count(1)
    expect(page.locator("#upload-tray li.ok")).to_contain_text("healed.jpg")

    expect(page.locator("#image-grid .image-card")).to_have_count(3)
    expect(page.locator("#image-grid .image-card img").first).to_have_js_property("complete", True)
    expect(tooth(page, "8").locator(".badge text")).to_have_text("3")
    expect(page.locator("#type-tabs [data-tab=before] .count")).to_have_text("2")
    expect(page.locator("#type-tabs [data-tab=after] .count")).to_have_text("1")
    screenshot(page, "tooth-panel")

    page.locator("#image-grid .image-card .thumb").first.click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    zoom_before = float(page.get_attribute("#viewer-image", "data-zoom"))
    page.click("#viewer-dialog [data-act=zoom-in]")
    page.keyboard.press("+")
    zoom_after = float(page.get_attribute("#viewer-image", "data-zoom"))
    assert zoom_after == pytest.approx(zoom_before * 1.25 * 1.25, rel=0.01)
    page.click("#viewer-dialog [data-act=rotate-right]")
    assert "rotate(90deg)" in page.get_attribute("#viewer-image", "style")
    screenshot(page, "viewer")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_contain_text("(2/3)")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer-dialog")).to_be_hidden()

    page.click("#open-compare")
    expect(page.locator("#compare-dialog")).to_be_visible()
    page.wait_for_function("document.querySelector('#compare-after-img').naturalWidth > 0")
    frame = page.locator("#compare-dialog .compare-frame").bounding_box()
    page.mouse.click(frame["x"] + frame["width"] * 0.25, frame["y"] + frame["height"] / 2)
    clip = page.eval_on_selector("#compare-after-clip", "e => e.style.clipPath")
    assert clip.startswith("inset(0px 0px 0px 2") or clip.startswith("inset(0 0 0 2")
    screenshot(page, "compare")
    page.check("#compare-dialog input[value=side]")
    expect(page.locator("#compare-stage")).to_have_class("compare-stage side-mode")
    page.click("#compare-close")

    card = page.locator("#image-grid .image-card").first
    card.get_by_role("button", name="Edit details").click()
    page.fill("#image-form [name=description]", "Before crown, front view")
    page.click("#image-form button[value=save]")
    expect(page.locator("#image-grid")).to_contain_text("Before crown, front view")

    card = page.locator("#image-grid .image-card", has_text="Before crown, front view")
    card.get_by_role("button", name="Edit details").click()
    page.select_option("#image-form [name=tooth]", "9")
    page.click("#image-form button[value=save]")
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    expect(tooth(page, "9").locator(".badge text")).to_have_text("1")
    expect(tooth(page, "8").locator(".badge text")).to_have_text("2")

    page.locator("#image-grid .image-card").first.get_by_role("button", name="Delete").click()
    page.click("#confirm-ok")
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
    expect(tooth(page, "8").locator(".badge text")).to_have_text("1")


def test_a_bad_file_shows_its_error_while_good_files_land(page, tmp_path):
    add_patient(page, "Omar Khalil")
    tooth(page, "30").click()
    choose_files(
        page,
        tmp_path,
        {
            "good.png": image_bytes("PNG"),
            "notes.jpg": b"this is not a picture",
            "also-good.jpg": image_bytes("JPEG"),
        },
    )
    expect(page.locator("#upload-tray li.ok")).to_have_count(2)
    failed = page.locator("#upload-tray li.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("notes.jpg")
    expect(failed).to_contain_text("Accepted: PNG, JPEG")
    expect(failed).not_to_contain_text("No file was stored")  # its own reason, not the request's
    expect(failed.locator("progress")).to_be_hidden()
    expect(page.locator("#image-grid .image-card")).to_have_count(2)


def test_keyboard_only_chart_navigation(page):
    add_patient(page, "Keyboard User")
    page.locator("#tooth-chart [tabindex='0']").focus()
    expect(page.locator("#tooth-chart [tabindex='0']")).to_have_attribute("data-tooth", "1")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.tooth")
    assert focused == "30"
    page.keyboard.press("Enter")
    expect(page.locator("#tooth-title")).to_contain_text("Lower right first molar")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.keyboard.press(" ")
    expect(page.locator("#tooth-title")).to_contain_text("Upper left third molar")


def test_notation_switch_relabels_teeth(page):
    add_patient(page, "Notation Check")
    expect(tooth(page, "1").locator(".tooth-label")).to_have_text("1")
    page.select_option("#notation", "fdi")
    expect(tooth(page, "1").locator(".tooth-label")).to_have_text("18")
    expect(tooth(page, "32").locator(".tooth-label")).to_have_text("48")
    page.select_option("#notation", "palmer")
    expect(tooth(page, "8").locator(".tooth-label")).to_have_text("UR1")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#notation")).to_have_value("palmer")


def test_patient_search_edit_and_delete_with_image_count(page, tmp_path):
    add_patient(page, "Sara Ahmad", "0790000001")
    add_patient(page, "Mona Saleh", "0790000002")
    page.fill("#patient-search", "0790000001")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(1)
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-name")).to_have_text("Sara Ahmad")
    page.click("#edit-patient")
    page.fill("#patient-form [name=serial_number]", "2")
    page.click("#patient-form button[value=save]")
    expect(page.locator("#patient-form .form-error")).to_contain_text("belongs to another patient")
    expect(page.locator("#patient-form [name=serial_number]")).to_have_class("invalid")
    page.fill("#patient-form [name=serial_number]", "1")
    page.fill("#patient-form [name=age]", "34")
    page.click("#patient-form button[value=save]")
    expect(page.locator("#patient-facts")).to_contain_text("34 years")
    tooth(page, "3").click()
    choose_files(page, tmp_path, {"x.png": image_bytes("PNG")})
    expect(page.locator("#upload-tray li.ok")).to_have_count(1)
    page.click("#delete-patient")
    expect(page.locator("#confirm-text")).to_contain_text("1 image")
    page.click("#confirm-ok")
    page.fill("#patient-search", "")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(1)


def test_a_missing_file_shows_a_placeholder_with_the_expected_path(page, session, store, settings):
    patient = patients.create_patient(session, {"full_name": "Missing File"})
    [result] = add_images(
        session, store, patient.id, "14", "xray", [Upload("gone.png", image_bytes("PNG"))]
    )
    (settings.data_dir / result.image.relative_path).unlink()
    store.remove_thumbnail(result.image.id)
    page.reload()
    page.click("#patient-list li[data-patient-id]")
    tooth(page, "14").click()
    placeholder = page.locator("#image-grid .missing")
    expect(placeholder).to_contain_text("File missing")
    expect(placeholder).to_contain_text(result.image.relative_path)
    page.locator("#image-grid .thumb").click()
    expect(page.locator("#viewer-missing")).to_contain_text("Expected at")
    expect(page.locator("#viewer-missing")).to_contain_text(result.image.relative_path)
