"""Compare, as a dentist uses it: both pickers list every image of the tooth with its date and
type, the slider fits both images to one frame (the empty border of one never shows the other),
and zoom and pan move both images alike, side by side and in the slider."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_chart_drawing import open_chart
from tests.e2e.test_ui_fixes import open_patient
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

RED = (220, 30, 30)
BLUE = (30, 60, 220)
VIEWER_BG = (0x0B, 0x12, 0x20)


def add(session, store, patient_id, kind, name, size, colour, taken):
    upload = Upload(name, image_bytes("PNG", size, colour))
    [result] = add_images(session, store, patient_id, "8", kind, [upload], taken_date=taken)
    assert result.image is not None, result
    return result.image


@pytest.fixture
def tooth_with_three_images(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Compare Me"})
    images = [
        add(session, store, patient.id, "before", "wide-before.png", (400, 300), RED, "2024-01-10"),
        add(
            session, store, patient.id, "xray", "check.png", (400, 300), (90, 90, 90), "2024-03-02"
        ),
        add(session, store, patient.id, "after", "tall-after.png", (300, 400), BLUE, "2024-06-20"),
    ]
    open_patient(page, "8")
    page.click("#open-compare")
    expect(page.locator("#compare-dialog")).to_be_visible()
    for side in ("before", "after"):
        page.wait_for_function(f"document.querySelector('#compare-{side}-img').naturalWidth > 0")
    return images


def colour_at(page, x: float, y: float) -> tuple[int, int, int]:
    shot = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    return Image.open(io.BytesIO(shot)).convert("RGB").getpixel((0, 0))


def near(colour, expected, tolerance=24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def test_both_pickers_list_every_image_of_the_tooth_with_date_and_type(
    page, tooth_with_three_images
):
    before, xray, after = tooth_with_three_images
    for side in ("before", "after"):
        options = page.locator(f"#compare-{side} option")
        expect(options).to_have_count(3)
        values = options.evaluate_all("os => os.map((o) => o.value)")
        assert values == [before.id, xray.id, after.id]  # in the order they were taken
        labels = options.all_text_contents()
        assert "Before" in labels[0] and "X-ray" in labels[1] and "After" in labels[2], labels
        assert all("2024" in label for label in labels), labels
    assert page.input_value("#compare-before") == before.id
    assert page.input_value("#compare-after") == after.id
    page.select_option("#compare-before", xray.id)  # two x-rays, or an x-ray and a photo
    page.wait_for_function(
        f"document.querySelector('#compare-before-img').dataset.imageId === '{xray.id}'"
    )


def test_the_slider_fits_both_images_to_one_frame_and_never_shows_one_through_the_other(
    page, tooth_with_three_images
):
    frame = page.locator("#compare-dialog .compare-frame").bounding_box()
    # the frame takes the before image's shape (4:3); the tall after image fits inside it with
    # empty borders left and right
    assert abs(frame["width"] / frame["height"] - 4 / 3) < 0.02, frame
    page.locator("#compare-range").fill("20")  # most of the frame is the after side
    middle_y = frame["y"] + frame["height"] / 2
    after_border = colour_at(page, frame["x"] + frame["width"] * 0.95, middle_y)
    after_image = colour_at(page, frame["x"] + frame["width"] * 0.5, middle_y)
    before_side = colour_at(page, frame["x"] + frame["width"] * 0.1, middle_y)
    assert near(after_image, BLUE), after_image
    assert near(after_border, VIEWER_BG), after_border  # not the red before image beneath
    assert near(before_side, RED), before_side
    screenshot(page, "compare-slider-fitted")


def transforms(page) -> list[str]:
    return [
        page.eval_on_selector(f"#compare-{side}-img", "i => i.style.transform")
        for side in ("before", "after")
    ]


def test_zoom_and_pan_move_both_images_alike_side_by_side(page, tooth_with_three_images):
    page.check("#compare-dialog input[value=side]")
    expect(page.locator("#compare-stage")).to_have_class("compare-stage side-mode")
    before_box = page.locator("#compare-before-side").bounding_box()
    page.mouse.move(before_box["x"] + before_box["width"] * 0.3, before_box["y"] + 40)
    page.mouse.wheel(0, -300)
    page.wait_for_function("Number(document.querySelector('#compare-after-img').dataset.zoom) > 1")
    zoomed = transforms(page)
    assert zoomed[0] == zoomed[1] and "scale(1" in zoomed[0], zoomed
    expect(page.locator("#compare-zoom")).not_to_have_text("100%")

    start = (before_box["x"] + before_box["width"] / 2, before_box["y"] + before_box["height"] / 2)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 60, start[1] + 30, steps=5)
    page.mouse.up()
    panned = transforms(page)
    assert panned[0] == panned[1] != zoomed[0], panned
    screenshot(page, "compare-side-zoomed")

    page.click("#compare-dialog [data-compare-act=fit]")
    assert transforms(page) == ["translate(0px, 0px) scale(1)"] * 2
    page.locator("#compare-zoom").click()  # the focus in the dialog, off the pickers
    page.keyboard.press("+")  # the keyboard zooms too
    zoomed_by_key = transforms(page)
    assert zoomed_by_key[0] == zoomed_by_key[1] == "translate(0px, 0px) scale(1.25)"


def test_the_wheel_zooms_both_sides_of_the_slider(page, tooth_with_three_images):
    frame = page.locator("#compare-dialog .compare-frame").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    page.mouse.wheel(0, -200)
    page.wait_for_function("Number(document.querySelector('#compare-before-img').dataset.zoom) > 1")
    both = transforms(page)
    assert both[0] == both[1], both


def test_a_tooth_with_one_image_cannot_be_compared(page, session, store):
    patient = patients.create_patient(session, {"full_name": "One Image"})
    add(session, store, patient.id, "before", "only.png", (200, 150), RED, "2024-01-10")
    open_patient(page, "8")
    expect(page.locator("#open-compare")).to_be_disabled()
    assert page.get_attribute("#open-compare", "title") == "Needs two images of this tooth"


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_compare_bar_fits_at_1024x768(page, session, store, language):
    patient = patients.create_patient(session, {"full_name": "Narrow Screen"})
    for kind, colour, taken in (("before", RED, "2024-01-10"), ("after", BLUE, "2024-06-20")):
        name = f"a-long-file-name-{kind}-the-root-canal-treatment.png"
        add(session, store, patient.id, kind, name, (400, 300), colour, taken)
    page.set_viewport_size({"width": 1024, "height": 768})
    open_chart(page, language)
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    page.click("#open-compare")
    page.wait_for_function("document.querySelector('#compare-after-img').naturalWidth > 0")
    parts = page.evaluate(
        """() => [...document.querySelectorAll(
                '#compare-dialog .viewer-bar :is(button, input, select, span, label)')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                return { what: e.dataset.compareAct || e.id || e.textContent.trim(),
                         left: r.left, right: r.right, bottom: r.bottom }; })"""
    )
    screenshot(page, f"compare-1024-{language}")
    assert len(parts) >= 10
    for part in parts:
        assert part["left"] >= 0 and part["right"] <= 1024, part
    bar = page.locator("#compare-dialog .viewer-bar").bounding_box()
    frame = page.locator("#compare-dialog .compare-frame").bounding_box()
    assert bar["height"] <= 100, bar  # at most two rows: the images keep the screen
    assert frame["height"] >= 400, frame
