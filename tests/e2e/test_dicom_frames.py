"""A multi-frame DICOM file (a CBCT export) in the viewer: one frame at a time, stepped with the
frame bar's buttons, its slider, the keyboard and Shift + wheel, in English and in Arabic."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from backend.usecases import images
from tests.dicom_data import dicom_bytes
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import patch_settings, use
from tests.e2e.test_ui_flow import add_patient, drop_file, tooth

pytestmark = pytest.mark.browser

# Each frame one flat grey; the window (centre 128, width 256) shows the stored value as it is.
GREYS = (20, 70, 120, 170, 220)

# The grey of the middle of what the viewer's <img> holds (filters and zoom are not drawn).
SHOWN_GREY = """() => {
    const img = document.querySelector('#viewer-image');
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    return context.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data[0];
}"""

SHOWING = """(n) => {
    const img = document.querySelector('#viewer-image');
    return img.complete && img.naturalWidth > 0 && !img.hidden
        && new URL(img.src).pathname.endsWith('/frames/' + n) && img.dataset.frame === String(n);
}"""


def cbct_bytes() -> bytes:
    pixels = np.stack([np.full((48, 64), grey, dtype=np.uint8) for grey in GREYS])
    return dicom_bytes(pixels=pixels, bits=8, modality="CT", WindowCenter=128, WindowWidth=256)


def open_cbct(page) -> None:
    add_patient(page, "Layla Haddad")
    tooth(page, "8").click()
    page.select_option("#upload-type", "xray")
    drop_file(page, "cbct.dcm", cbct_bytes(), "")
    expect(page.locator("#upload-tray li.ok")).to_have_count(1)
    drop_file(page, "one.dcm", dicom_bytes(study_date="20230101"), "")
    expect(page.locator("#upload-tray li.ok")).to_contain_text("one.dcm")
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    page.locator("#image-grid .image-card", has_text="cbct.dcm").locator(".thumb").click()
    expect(page.locator("#viewer-dialog")).to_be_visible()


def expect_frame(page, number: int, label: str | re.Pattern[str]) -> None:
    expect(page.locator("#viewer-frame-label")).to_have_text(label)
    expect(page.locator("#viewer-frame-range")).to_have_value(str(number))
    page.wait_for_function(SHOWING, arg=number)
    assert page.evaluate(SHOWN_GREY) == pytest.approx(GREYS[number - 1], abs=3)


def test_a_cbct_export_is_shown_frame_by_frame(page):
    open_cbct(page)
    bar = page.locator("#viewer-frames")
    expect(bar).to_be_visible()
    # it opens on the middle frame, as its thumbnail shows it
    expect_frame(page, 3, "Frame 3 of 5")
    page.click("#viewer-dialog [data-act=zoom-in]")
    zoom = page.get_attribute("#viewer-image", "data-zoom")

    page.click("#viewer-frames [data-frame-act=prev]")
    expect_frame(page, 2, "Frame 2 of 5")
    page.click("#viewer-frames [data-frame-act=prev]")
    expect_frame(page, 1, "Frame 1 of 5")
    expect(bar.locator("[data-frame-act=prev]")).to_be_disabled()
    # another frame of the same image keeps the zoom chosen
    assert page.get_attribute("#viewer-image", "data-zoom") == zoom

    page.keyboard.press(".")
    expect_frame(page, 2, "Frame 2 of 5")
    page.keyboard.press("PageDown")
    expect_frame(page, 3, "Frame 3 of 5")
    page.keyboard.press("End")
    expect_frame(page, 5, "Frame 5 of 5")
    expect(bar.locator("[data-frame-act=next]")).to_be_disabled()
    page.keyboard.press("PageUp")
    expect_frame(page, 4, "Frame 4 of 5")
    page.keyboard.press(",")
    expect_frame(page, 3, "Frame 3 of 5")

    # the slider: its keys, and a click at its left end, which is frame 1
    page.focus("#viewer-frame-range")
    page.keyboard.press("ArrowRight")
    expect_frame(page, 4, "Frame 4 of 5")
    slider = page.locator("#viewer-frame-range").bounding_box()
    page.mouse.click(slider["x"] + 2, slider["y"] + slider["height"] / 2)
    expect_frame(page, 1, "Frame 1 of 5")

    # Shift + wheel steps a frame per notch; the wheel alone still zooms
    page.hover("#viewer-stage")
    page.keyboard.down("Shift")
    page.mouse.wheel(0, 100)
    page.keyboard.up("Shift")
    expect_frame(page, 2, "Frame 2 of 5")
    assert page.get_attribute("#viewer-image", "data-zoom") == zoom
    screenshot(page, "viewer-frames-en")

    # the arrows still go to the tooth's other image: a single frame, no frame bar
    page.focus("#viewer-stage")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_contain_text("one.dcm")
    expect(bar).to_be_hidden()
    page.wait_for_function(
        "() => new URL(document.querySelector('#viewer-image').src).pathname.endsWith('/frames/1')"
    )
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-title")).to_contain_text("cbct.dcm")
    expect_frame(page, 3, "Frame 3 of 5")


def test_the_frames_play_as_a_loop_and_stop_where_the_user_steps_in(page):
    open_cbct(page)
    expect_frame(page, 3, "Frame 3 of 5")
    play = page.locator("#viewer-frame-play")
    expect(play).to_have_attribute("aria-pressed", "false")
    expect(play).to_have_attribute("title", "Play the frames (P)")

    play.click()
    expect(play).to_have_attribute("aria-pressed", "true")
    expect(play).to_have_attribute("title", "Pause (P)")
    # it runs past the last frame and round to the first, each frame shown on its way
    seen = page.evaluate(
        """() => new Promise((resolve) => {
            const img = document.querySelector('#viewer-image');
            const frames = [];
            const watch = new MutationObserver(() => {
                frames.push(Number(img.dataset.frame));
                if (frames.length === 6) { watch.disconnect(); resolve(frames); }
            });
            watch.observe(img, { attributes: true, attributeFilter: ['data-frame'] });
        })"""
    )
    start = seen[0]
    assert seen == [(start - 1 + k) % 5 + 1 for k in range(6)], seen
    screenshot(page, "viewer-frames-playing")

    # P pauses it (by the key's place, also on an Arabic layout), and plays it again
    page.focus("#viewer-stage")
    page.keyboard.press("p")
    expect(play).to_have_attribute("aria-pressed", "false")
    stopped = page.get_attribute("#viewer-image", "data-frame")
    page.wait_for_timeout(500)
    assert page.get_attribute("#viewer-image", "data-frame") == stopped
    page.keyboard.press("p")
    expect(play).to_have_attribute("aria-pressed", "true")

    # a frame chosen by hand stops the play there
    page.keyboard.press("Home")
    expect(play).to_have_attribute("aria-pressed", "false")
    expect_frame(page, 1, "Frame 1 of 5")
    page.wait_for_timeout(500)
    expect_frame(page, 1, "Frame 1 of 5")

    # closing the viewer stops it too: opened again, it is not playing
    play.click()
    expect(play).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer-dialog")).to_be_hidden()
    page.locator("#image-grid .image-card", has_text="cbct.dcm").locator(".thumb").click()
    expect(play).to_have_attribute("aria-pressed", "false")
    expect_frame(page, 3, "Frame 3 of 5")


def test_a_late_frame_does_not_replace_a_later_choice(page, monkeypatch):
    """The last frame chosen stays shown, however late the answer to an earlier choice comes."""
    open_cbct(page)
    expect_frame(page, 3, "Frame 3 of 5")
    made = images.rendition

    def slow_last_frame(session, store, image, number):
        if number == 5:
            time.sleep(1.5)
        return made(session, store, image, number)

    monkeypatch.setattr(images, "rendition", slow_last_frame)
    page.keyboard.press("End")
    page.keyboard.press("Home")
    expect_frame(page, 1, "Frame 1 of 5")
    page.wait_for_timeout(1_000)  # frame 5 has come by now
    expect_frame(page, 1, "Frame 1 of 5")

    # dragging through the frames asks for the latest only, and shows it
    page.evaluate(
        """() => {
            const range = document.querySelector('#viewer-frame-range');
            for (const value of ['2', '3', '4', '5', '4', '2']) {
                range.value = value;
                range.dispatchEvent(new Event('input', { bubbles: true }));
            }
        }"""
    )
    expect_frame(page, 2, "Frame 2 of 5")


def arabic(number: int) -> re.Pattern[str]:
    """The label of frame `number` of 5 in Arabic digits, whatever words the catalog has."""
    digit = "٠١٢٣٤٥٦٧٨٩"
    return re.compile(rf"^\D*{digit[number]}\D+{digit[5]}\D*$")


def test_the_frame_bar_reads_left_to_right_in_arabic(page):
    use(page, "ar", "dark")
    patch_settings(page, {"digits": "arabic"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    open_cbct(page)
    expect_frame(page, 3, arabic(3))

    prev, nxt = (page.locator(f"#viewer-frames [data-frame-act={a}]") for a in ("prev", "next"))
    assert prev.bounding_box()["x"] < nxt.bounding_box()["x"]
    nxt.click()
    expect_frame(page, 4, arabic(4))
    page.keyboard.press(",")
    page.keyboard.press(",")
    expect_frame(page, 2, arabic(2))
    slider = page.locator("#viewer-frame-range").bounding_box()
    page.mouse.click(slider["x"] + 2, slider["y"] + slider["height"] / 2)
    expect_frame(page, 1, arabic(1))
    page.mouse.click(slider["x"] + slider["width"] - 2, slider["y"] + slider["height"] / 2)
    expect_frame(page, 5, arabic(5))
    page.click("#viewer-frames [data-frame-act=prev]")
    expect_frame(page, 4, arabic(4))
    screenshot(page, "viewer-frames-ar")
