"""An image of several teeth: a bitewing on tooth 3 is linked, from the keyboard too, to teeth
4 and 5; it then shows on each of them marked "also on …" in the chosen numbering, and the
chart's badges and tooltips count it there, while the patient's images are counted once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.usecases import images, patients
from backend.usecases.images import Upload
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import box, overflowing, use
from tests.e2e.test_ui_flow import add_patient, choose_files, tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser


def isolated(labels: str) -> str:
    """Tooth labels as the page writes them: isolated, so that "17–14" keeps its order in an
    Arabic sentence."""
    return f"\u2068{labels}\u2069"


def test_a_bitewing_linked_to_two_more_teeth_shows_and_counts_on_each(page, tmp_path):
    add_patient(page, "Nadia Awad")
    tooth(page, "3").click()
    page.select_option("#upload-type", "xray")
    choose_files(page, tmp_path, {"bitewing.png": image_bytes("PNG", (800, 400), (80, 80, 80))})
    card = page.locator("#image-grid .image-card")
    expect(card).to_have_count(1)
    expect(card.locator(".also-on")).to_have_count(0)
    expect(tooth(page, "4").locator(".badge")).to_have_count(0)

    card.get_by_role("button", name="Also shows teeth…").click()
    dialog = page.locator("#image-teeth-dialog")
    expect(dialog).to_be_visible()
    own = dialog.locator("input[value='3']")
    expect(own).to_be_checked()
    expect(own).to_be_disabled()
    dialog.locator("label.image-tooth", has=page.locator("input[value='4']")).click()
    page.keyboard.press("ArrowRight")  # from 4 to its neighbour 5, and tick it with Space
    page.keyboard.press("Space")
    expect(dialog.locator("input[value='5']")).to_be_checked()
    screenshot(page, "image-links-editor")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("body")).to_contain_text(f"Now also shown on {isolated('4, 5')}.")

    expect(card.locator(".also-on")).to_have_text(f"also on {isolated('4, 5')}")
    for code in ("3", "4", "5"):
        expect(tooth(page, code).locator(".badge text")).to_have_text("1")
    expect(page.locator("#general-count")).to_have_text("0")
    tooth(page, "5").click()
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 5")
    also_on = page.locator("#image-grid .image-card .also-on")
    expect(also_on).to_have_text(f"also on {isolated('3, 4')}")
    expect(page.locator("#type-tabs [data-tab='xray'] .count")).to_have_text("1")
    tooth(page, "4").hover()
    expect(page.locator("#chart-tooltip")).to_contain_text("X-ray: 1")

    page.select_option("#notation", "fdi")  # the same teeth in the FDI numbering
    expect(also_on).to_have_text(f"also on {isolated('16, 15')}")
    page.get_by_role("button", name="Close the upload list").click()
    page.mouse.move(0, 0)  # the tooltip away, the card in sight
    shown = page.locator("#image-grid .image-card")
    shown.evaluate("card => card.scrollIntoView({block: 'center'})")
    screenshot(page, "image-links-panel")
    # Delete on a tooth it is linked to: the question says it goes from every tooth.
    shown.locator(".card-actions button", has_text="Delete").click()
    question = page.locator("#confirm-dialog")
    expect(question).to_contain_text("It goes from every tooth it is on")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    expect(shown).to_have_count(1)

    page.locator("#image-grid .image-card").get_by_role("button", name="Also shows teeth…").click()
    dialog.get_by_role("button", name="Clear all").click()
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("Shown on its own place only.")
    expect(page.locator("#image-grid .image-card")).to_have_count(0)
    expect(tooth(page, "5").locator(".badge")).to_have_count(0)
    expect(tooth(page, "3").locator(".badge text")).to_have_text("1")


def test_in_arabic_the_editor_reads_right_to_left_and_its_teeth_lie_as_on_the_chart(
    page, session, store
):
    patient = patients.create_patient(session, {"full_name": "Layla Haddad"})
    [stored] = images.add_images(
        session, store, patient.id, "3", "xray", [Upload("bitewing.png", image_bytes("PNG"))]
    )
    assert stored.image is not None
    images.set_image_teeth(session, stored.image.id, ["4", "5", "6"])
    use(page, "ar", "light")
    page.click("#patient-list li[data-patient-id]")
    tooth(page, "3").click()
    card = page.locator("#image-grid .image-card")
    expect(card.locator(".also-on")).to_contain_text(isolated("4–6"))  # a run of three teeth

    card.locator(".card-actions button").first.click()
    dialog = page.locator("#image-teeth-dialog")
    expect(dialog).to_be_visible()
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#image-teeth-title')).direction")
        == "rtl"
    )
    one, two = (
        box(page, "#image-teeth-dialog input[value='1']"),
        box(page, "#image-teeth-dialog input[value='2']"),
    )
    assert one["x"] < two["x"]  # not mirrored, as the chart is not
    dialog.locator("input[value='6']").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") == "7"
    page.keyboard.press("ArrowDown")  # to the lower row, the same place in it
    assert page.evaluate("document.activeElement.value") == "26"
    assert overflowing(page, ["#image-teeth-dialog form", ".image-teeth-boxes"]) == []
    screenshot(page, "image-links-editor-ar")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
