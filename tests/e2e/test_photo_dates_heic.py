"""A phone's HEIC photo and an EXIF-dated JPEG, uploaded through the page: both shown in the
viewer (pixels actually loaded), each saying where its date came from, in English and Arabic;
a date set for the batch wins over the photos' own."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import use
from tests.e2e.test_ui_flow import add_patient, choose_files, tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def dated(fmt: str, when: str, size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: when, 0x9011: "+04:00"}  # DateTimeOriginal, OffsetTimeOriginal
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt, quality=85, exif=exif.tobytes())
    return out.getvalue()


def shown_width(page) -> int:
    page.wait_for_function(
        "() => { const i = document.querySelector('#viewer-image');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    return page.eval_on_selector("#viewer-image", "i => i.naturalWidth")


def test_heic_and_exif_dated_photos_show_with_their_date_source(page, tmp_path):
    add_patient(page, "Mariam Saleh")
    tooth(page, "8").click()
    choose_files(
        page,
        tmp_path,
        {
            "IMG_0001.HEIC": dated("HEIF", "2024:05:06 10:11:12", (640, 480), (30, 140, 200)),
            "front.jpg": dated("JPEG", "2023:07:14 09:30:00", (400, 300), (200, 80, 60)),
            "scan.png": image_bytes("PNG", (300, 200), (90, 90, 90)),
        },
    )
    expect(page.locator("#upload-tray li.ok")).to_have_count(3)
    cards = page.locator("#image-grid .image-card")
    expect(cards).to_have_count(3)
    # every thumbnail, the HEIC's included, actually decoded by the browser
    page.wait_for_function(
        "() => [...document.querySelectorAll('#image-grid .image-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # oldest first by the date taken: the JPEG (2023), the HEIC (2024), the PNG (today)
    expect(cards.nth(0)).to_contain_text("front.jpg")
    expect(cards.nth(1)).to_contain_text("IMG_0001.HEIC")
    expect(cards.nth(2)).to_contain_text("scan.png")

    cards.nth(1).locator(".thumb").click()
    assert shown_width(page) == 640  # the JPEG rendition of the HEIC, at full size
    source = page.locator("#viewer-date-source")
    expect(source).to_contain_text("Date taken from the photo's EXIF")
    expect(source).to_contain_text("2024")
    expect(page.locator("#viewer-file-facts")).to_contain_text("IMG_0001.HEIC")
    screenshot(page, "viewer-date-source-heic-en")

    page.click("#viewer-dialog [data-act=prev]")
    assert shown_width(page) == 400
    expect(source).to_contain_text("Date taken from the photo's EXIF")
    expect(source).to_contain_text("2023")
    page.click("#viewer-dialog [data-act=prev]")  # wraps round to the last: the PNG
    assert shown_width(page) == 300
    expect(source).to_contain_text("Date of upload: the file had none")
    page.click("#viewer-dialog [data-act=close]")

    cards.nth(1).get_by_role("button", name="Edit details").click()
    expect(page.locator("#image-date-source")).to_contain_text("Date taken from the photo's EXIF")
    screenshot(page, "image-details-date-source-en")
    page.click("#image-form button[value=cancel]")

    # a date set for the batch wins over the photo's own
    tooth(page, "9").click()
    expect(page.locator("#upload-taken-date")).to_have_value("")
    page.fill("#upload-taken-date", "2025-02-03")
    page.locator("#drop-zone").evaluate("e => e.scrollIntoView({ block: 'center' })")
    screenshot(page, "upload-batch-date-en")
    choose_files(
        page, tmp_path, {"later.jpg": dated("JPEG", "2023:01:01 08:00:00", (320, 240), (1, 2, 3))}
    )
    expect(page.locator("#upload-tray li.ok")).to_have_count(1)
    page.locator("#image-grid .image-card .thumb").first.click()
    assert shown_width(page) == 320
    expect(source).to_contain_text("Date set by hand")
    expect(source).to_contain_text("2025")
    page.click("#viewer-dialog [data-act=close]")

    use(page, "ar", "light")
    page.click("#patient-list li[data-patient-id]")
    tooth(page, "8").click()
    expect(cards).to_have_count(3)
    cards.nth(1).locator(".thumb").click()
    assert shown_width(page) == 640
    expect(source).to_contain_text("التاريخ مأخوذ من بيانات EXIF في الصورة")
    screenshot(page, "viewer-date-source-heic-ar")
    page.click("#viewer-dialog [data-act=next]")
    assert shown_width(page) == 300
    expect(source).to_contain_text("تاريخ الرفع: لم يكن في الملف تاريخ")
    page.click("#viewer-dialog [data-act=close]")
    cards.nth(1).locator(".card-actions button", has_text="تعديل").click()  # Edit
    expect(page.locator("#image-date-source")).to_contain_text("بيانات EXIF")
    screenshot(page, "image-details-date-source-ar")
    page.click("#image-form button[value=cancel]")
    use(page, "ar", "dark")
    page.click("#patient-list li[data-patient-id]")
    tooth(page, "9").click()
    page.fill("#upload-taken-date", "2025-02-03")
    page.locator("#drop-zone").evaluate("e => e.scrollIntoView({ block: 'center' })")
    screenshot(page, "upload-batch-date-ar-dark")
