"""Fixed UI faults, each pinned by the behaviour a person sees, in a real Chromium at 1280x800."""

from __future__ import annotations

import logging

import pytest
from playwright.sync_api import expect

from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_ui_flow import tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

ACTIVE_TOOTH = "document.activeElement && document.activeElement.dataset.tooth"


def open_patient(page, tooth_code: str | None = None) -> None:
    """Show the patients made in the database behind the page's back; open the first one."""
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-view")).to_be_visible()
    if tooth_code:
        tooth(page, tooth_code).click()
        expect(page.locator("#tooth-title")).to_contain_text(f"Tooth {tooth_code} ")


def add_image(session, store, patient_id, code, kind, name, color=(200, 80, 60)):
    upload = Upload(name, image_bytes("PNG", (320, 240), color))
    [result] = add_images(session, store, patient_id, code, kind, [upload])
    return result.image


def treatment_row(page, kind: str):
    return page.locator("#treatment-list li", has_text=kind)


def stored_treatments(session, patient_id) -> dict[str, tuple[str, str]]:
    session.expire_all()
    return {
        t.id: (t.treatment_type, t.notes or "")
        for t in treatments.list_treatments(session, patient_id)
    }


def test_a_cancelled_treatment_delete_leaves_no_save_behind(page, session):
    patient = patients.create_patient(session, {"full_name": "Two Treatments"})
    first = treatments.create_treatment(
        session,
        patient.id,
        {"tooth": "8", "treatment_type": "Filling", "status": "planned", "notes": "first"},
    )
    second = treatments.create_treatment(
        session,
        patient.id,
        {"tooth": "8", "treatment_type": "Crown", "status": "planned", "notes": "second"},
    )
    open_patient(page, "8")
    edit_filling = treatment_row(page, "Filling").get_by_role(
        "button", name="Edit treatment Filling"
    )
    edit_filling.click()
    page.keyboard.press("Escape")  # one way out of the dialog
    expect(page.locator("#treatment-dialog")).to_be_hidden()

    edit_filling.click()
    page.click("#delete-treatment")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-dialog button[value=cancel]")
    # cancelling the confirmation goes back to editing the treatment
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(page.locator("#treatment-dialog")).to_be_visible()
    expect(page.locator("#treatment-form [name=treatment_type]")).to_have_value("Filling")
    page.click("#treatment-form button[value=cancel]")
    expect(page.locator("#treatment-dialog")).to_be_hidden()

    treatment_row(page, "Crown").get_by_role("button", name="Edit treatment Crown").click()
    page.fill("#treatment-form [name=notes]", "changed")
    page.click("#treatment-form button[value=save]")
    expect(page.locator("#treatment-dialog")).to_be_hidden()
    expect(treatment_row(page, "Crown")).to_contain_text("changed")
    page.wait_for_load_state("networkidle")

    assert stored_treatments(session, patient.id) == {
        first.id: ("Filling", "first"),
        second.id: ("Crown", "changed"),
    }
    expect(page.locator("#treatment-list li")).to_have_count(2)
    expect(treatment_row(page, "Filling")).to_contain_text("first")


def test_a_treatment_delete_the_server_refuses_is_shown_above_the_dialog(page, session):
    patient = patients.create_patient(session, {"full_name": "Deleted Elsewhere"})
    kept = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Filling", "status": "planned"}
    )
    gone = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Implant", "status": "planned"}
    )
    open_patient(page, "8")
    treatment_row(page, "Implant").get_by_role("button", name="Edit treatment Implant").click()
    treatments.delete_treatment(session, gone.id)  # another reception PC was quicker
    page.click("#delete-treatment")
    page.click("#confirm-ok")

    message = page.locator("#toast")
    expect(message).to_be_visible()
    expect(message).to_have_class("toast error")
    expect(message).to_contain_text(gone.id)
    # the treatment dialog stays open under the message, nothing else was deleted
    expect(page.locator("#treatment-dialog")).to_be_visible()
    assert list(stored_treatments(session, patient.id)) == [kept.id]
    screenshot(page, "toast-over-dialog")

    # drawn above the modal dialog and its backdrop: the point in its middle is the toast's
    on_top = page.evaluate(
        """() => {
            const box = document.querySelector('#toast').getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return Boolean(hit && hit.closest('#toast'));
        }"""
    )
    assert on_top
    # closing the dialog does not take the message with it
    page.click("#treatment-form button[value=cancel]")
    expect(page.locator("#treatment-dialog")).to_be_hidden()
    expect(message).to_be_visible()
    expect(message).to_contain_text(gone.id)


@pytest.mark.parametrize("popover", [True, False], ids=["popover", "no-popover"])
def test_a_toast_shows_above_the_viewer(page, session, store, popover):
    patient = patients.create_patient(session, {"full_name": "Toast Over Viewer"})
    add_image(session, store, patient.id, "8", "xray", "x.png")
    if not popover:  # a webview without popovers (older WKWebView)
        page.add_init_script("delete HTMLElement.prototype.showPopover")
    open_patient(page, "8")
    page.locator("#image-grid .thumb").click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    page.evaluate(
        "import(new URL('static/js/ui.js', document.baseURI).href)"
        ".then((ui) => ui.toast('Checked: shown on top', 'ok'))"
    )
    expect(page.locator("#toast")).to_be_visible()
    expect(page.locator("#toast")).to_have_text("Checked: shown on top")
    hit = page.evaluate(
        """() => {
            const box = document.querySelector('#toast').getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return hit && (hit.closest('#toast') ? 'toast' : hit.id || hit.tagName);
        }"""
    )
    assert hit == "toast"
    screenshot(page, f"toast-over-viewer-{'popover' if popover else 'no-popover'}")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer-dialog")).to_be_hidden()
    expect(page.locator("#toast")).to_be_visible()  # back on the page, still showing


def test_compare_shows_the_missing_file_placeholder_with_the_expected_path(
    page, session, store, settings
):
    patient = patients.create_patient(session, {"full_name": "Missing After"})
    add_image(session, store, patient.id, "8", "before", "before.png", (200, 80, 60))
    after = add_image(session, store, patient.id, "8", "after", "after.png", (60, 200, 80))
    (settings.data_dir / after.relative_path).unlink()
    store.remove_thumbnail(after.id)
    open_patient(page, "8")
    page.click("#open-compare")
    expect(page.locator("#compare-dialog")).to_be_visible()

    missing = page.locator("#compare-after-missing")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("File missing")
    expect(missing).to_contain_text("Expected at")
    expect(missing).to_contain_text(after.relative_path)
    expect(page.locator("#compare-after-img")).to_be_hidden()
    expect(page.locator("#compare-before-img")).to_be_visible()
    expect(page.locator("#compare-before-missing")).to_be_hidden()
    page.locator("#compare-range").fill("10")  # most of the frame shows the after side
    file_name_lines = missing.locator("code").evaluate(
        """code => {
            const range = document.createRange();
            range.selectNodeContents(code.lastChild);  // the text after the last folder separator
            return range.getClientRects().length;
        }"""
    )
    assert file_name_lines == 1  # the path wraps between folders, never inside the file name
    screenshot(page, "compare-missing-slider")
    page.check("#compare-dialog input[value=side]")
    expect(missing).to_be_visible()
    box = missing.bounding_box()
    frame = page.locator("#compare-dialog .compare-frame").bounding_box()
    assert box["x"] > frame["x"] + frame["width"] / 3  # the after half, not over the before image
    screenshot(page, "compare-missing-side")


def panel_in_view(page, part: str) -> None:
    """Wait for the smooth scroll to bring `part` of the tooth panel on screen."""
    page.wait_for_function(
        """(part) => {
            const panel = document.querySelector('#tooth-panel').getBoundingClientRect();
            const box = document.querySelector(part).getBoundingClientRect();
            return panel.top >= 0 && box.top < window.innerHeight - 40;
        }""",
        arg=part,
        timeout=5_000,
    )


def test_choosing_a_tooth_brings_its_panel_into_view_and_keeps_the_focus(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Below The Fold"})
    for n in range(3):
        add_image(session, store, patient.id, "8", "before", f"b{n}.png", (40 * n, 90, 160))
    open_patient(page)
    grid_top = page.eval_on_selector("#tooth-hint", "e => e.getBoundingClientRect().top")
    assert grid_top > 500  # the panel opens where the hint is: low on the screen

    tooth(page, "8").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(3)
    panel_in_view(page, "#image-grid .image-card")
    assert page.evaluate(ACTIVE_TOOTH) == "8"
    screenshot(page, "tooth-selected-scrolled")

    # by keyboard: the arrows move in the chart without scrolling, Enter brings the panel up
    page.evaluate("document.querySelector('main').scrollTo(0, 0)")
    page.wait_for_function("document.querySelector('main').scrollTop === 0")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_TOOTH) == "9"
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelector('main').scrollTop") == 0
    page.keyboard.press("Enter")
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 9 ")
    panel_in_view(page, "#image-grid")
    assert page.evaluate(ACTIVE_TOOTH) == "9"
    screenshot(page, "tooth-selected-keyboard")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_TOOTH) == "10"


def test_the_viewer_opens_with_the_focus_on_the_image(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Viewer Keys"})
    for n in range(3):
        add_image(session, store, patient.id, "8", "clinical", f"c{n}.png", (60 * n, 120, 90))
    open_patient(page, "8")
    page.locator("#image-grid .thumb").first.click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    expect(page.locator("#viewer-title")).to_contain_text("(1/3)")
    assert page.evaluate("document.activeElement.id") == "viewer-stage"
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    expect(page.locator("#viewer-title")).to_contain_text("(1/3)")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_contain_text("(2/3)")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer-dialog")).to_be_hidden()

    # opened from the keyboard too
    page.locator("#image-grid .thumb").nth(2).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#viewer-title")).to_contain_text("(3/3)")
    assert page.evaluate("document.activeElement.id") == "viewer-stage"


def test_the_chart_keeps_the_focused_tooth_when_it_redraws(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Focus Kept"})
    open_patient(page)
    page.locator("#tooth-chart [tabindex='0']").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_TOOTH) == "3"
    scrolled = page.evaluate("document.querySelector('main').scrollTop")

    # another PC adds an image: the poll redraws the chart
    add_image(session, store, patient.id, "12", "xray", "other-pc.png")
    expect(tooth(page, "12").locator(".badge text")).to_have_text("1", timeout=15_000)
    assert page.evaluate(ACTIVE_TOOTH) == "3"
    expect(page.locator("#tooth-chart [tabindex='0']")).to_have_attribute("data-tooth", "3")
    assert page.evaluate("document.querySelector('main').scrollTop") == scrolled
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_TOOTH) == "4"

    # a chosen tooth, then the focus moved on: the redraw keeps the focus where it is
    page.keyboard.press("Enter")
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 4 ")
    page.keyboard.press("ArrowRight")
    add_image(session, store, patient.id, "13", "xray", "other-pc-2.png")
    expect(tooth(page, "13").locator(".badge text")).to_have_text("1", timeout=15_000)
    assert page.evaluate(ACTIVE_TOOTH) == "5"


def test_enter_in_a_form_field_saves(page, session):
    patient = patients.create_patient(session, {"full_name": "Enter Key"})
    treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Filling", "status": "planned"}
    )
    open_patient(page, "8")
    treatment_row(page, "Filling").get_by_role("button", name="Edit treatment Filling").click()
    page.fill("#treatment-form [name=treatment_type]", "Root canal")
    page.keyboard.press("Enter")  # the form's first button is Delete: Enter must not press it
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(page.locator("#treatment-dialog")).to_be_hidden()
    expect(treatment_row(page, "Root canal")).to_have_count(1)
    assert [t for t, _ in stored_treatments(session, patient.id).values()] == ["Root canal"]

    page.click("#edit-patient")
    page.fill("#patient-form [name=full_name]", "Enter Key Saved")
    page.keyboard.press("Enter")  # the form's first button is Cancel
    expect(page.locator("#patient-dialog")).to_be_hidden()
    expect(page.locator("#patient-name")).to_have_text("Enter Key Saved")


def test_settings_log_columns_fields_and_about_at_the_end(page, program_log):
    # short messages: the table's spare width must go to Message, not to Time and Level
    logging.getLogger("backend").warning("disk slow")
    logging.getLogger("backend").info("ready")
    page.click("#open-settings")
    expect(page.locator("#settings-view")).to_be_visible()
    expect(page.locator("#log-entries tr.level-info").first).to_be_visible()
    last = page.evaluate("document.querySelector('#settings-view > .card').lastElementChild.id")
    assert last == "about-section"

    widths = page.evaluate(
        """() => [...document.querySelectorAll('.log-table thead th')].map(
            (th) => th.getBoundingClientRect().width)"""
    )
    time_width, level_width, message_width = widths
    assert level_width < message_width / 4
    assert time_width < message_width / 2

    body_size = page.evaluate("getComputedStyle(document.body).fontSize")
    for field in ("schedule", "time", "weekday", "keep", "folder", "clinic"):
        size = page.eval_on_selector(
            f"#backup-schedule [name={field}]", "e => getComputedStyle(e).fontSize"
        )
        assert size == body_size, field
    page.locator("#backup-schedule").scroll_into_view_if_needed()
    screenshot(page, "settings-schedule")
    page.locator("#about-section").scroll_into_view_if_needed()
    screenshot(page, "settings-log-about")


def test_what_is_typed_in_the_search_box_can_be_read(page):
    search = page.locator("#patient-search")
    search.fill("Sarah")
    colours = search.evaluate(
        """input => {
            const style = getComputedStyle(input);
            return [style.color, style.backgroundColor];
        }"""
    )
    assert colours[0] != colours[1]
    assert colours[0] != "rgb(255, 255, 255)"  # the top bar's white would vanish on white


def test_back_from_settings_without_an_open_patient_shows_the_start_page(page, session):
    patients.create_patient(session, {"full_name": "Waiting Room"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#open-settings")
    expect(page.locator("#settings-view")).to_be_visible()
    page.click("#close-settings")
    expect(page.locator("#settings-view")).to_be_hidden()
    expect(page.locator("#welcome-view")).to_be_visible()


def test_a_long_patient_name_keeps_edit_and_delete_on_screen(page, session):
    patients.create_patient(session, {"full_name": "Verylongfamilyname" * 11})
    open_patient(page)
    width = page.viewport_size["width"]
    for button in ("#edit-patient", "#delete-patient"):
        box = page.locator(button).bounding_box()
        assert box["x"] + box["width"] <= width, button
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    item = page.locator("#patient-list li[data-patient-id]").first
    count = item.locator(".count").bounding_box()
    assert count["x"] + count["width"] <= item.bounding_box()["x"] + item.bounding_box()["width"]
    screenshot(page, "long-patient-name")


def test_a_new_save_clears_the_message_of_the_last_one(page, session):
    patients.create_patient(session, {"full_name": "First", "serial_number": "S-1"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#new-patient")
    form = page.locator("#patient-form")
    form.locator("[name=full_name]").fill("Second")
    form.locator("[name=serial_number]").fill("S-1")
    form.locator("button[value=save]").click()
    expect(form.locator(".form-error")).not_to_be_empty()
    expect(form.locator("[name=serial_number]")).to_have_class("invalid")
    form.locator("[name=serial_number]").fill("S-2")
    form.locator("[name=email]").fill("not an address")  # the browser's own check stops this save
    form.locator("button[value=save]").click()
    expect(form.locator(".form-error")).to_be_empty()
    expect(form.locator("[name=serial_number]")).not_to_have_class("invalid")


def test_the_tooltip_follows_the_users_keys_not_the_programs_focus(page, session):
    patients.create_patient(session, {"full_name": "Keyboard User"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.focus("#patient-list li[data-patient-id]")
    page.keyboard.press("Enter")
    expect(page.locator("#patient-view")).to_be_visible()
    page.wait_for_function(f"{ACTIVE_TOOTH} === '1'")  # the arrow keys work in the chart at once
    tooltip = page.locator("#chart-tooltip")
    expect(tooltip).to_be_hidden()  # opening the patient moved the focus, not the user
    page.keyboard.press("ArrowRight")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("2 ·")
    page.keyboard.press("Enter")
    expect(page.locator("#tooth-title")).to_contain_text("Tooth 2 ")
    expect(tooltip).to_be_hidden()  # the panel says it all; a tooltip would float over it
    page.wait_for_timeout(300)  # the chart redraws with the selection
    expect(tooltip).to_be_hidden()


def test_a_lost_original_shows_as_missing_in_the_grid_though_its_thumbnail_remains(
    page, session, store, settings
):
    patient = patients.create_patient(session, {"full_name": "Lost Original"})
    image = add_image(session, store, patient.id, "8", "xray", "xray.png")
    open_patient(page, "8")
    page.wait_for_function(
        "[...document.querySelectorAll('#image-grid .image-card img')]"
        ".some(i => i.complete && i.naturalWidth > 0)"
    )
    (settings.data_dir / image.relative_path).unlink()
    assert store.thumbnail_path(image.id).is_file()
    open_patient(page, "8")
    card = page.locator("#image-grid .image-card")
    expect(card.locator(".missing")).to_contain_text("File missing")
    expect(card.locator(".missing")).to_contain_text(image.file_name)


ACTIVE_CARD = "document.activeElement.closest('.image-card')?.dataset.imageId || null"


def test_the_focus_stays_in_the_grid_after_editing_and_deleting_an_image(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Keyboard Grid"})
    first = add_image(session, store, patient.id, "8", "xray", "first.png")
    second = add_image(session, store, patient.id, "8", "xray", "second.png", (60, 80, 200))
    open_patient(page, "8")
    card = page.locator(f"#image-grid [data-image-id='{first.id}']")
    card.get_by_role("button", name="Edit details").click()
    page.fill("#image-form [name=description]", "Edited")
    page.click("#image-form button[value=save]")
    expect(card).to_contain_text("Edited")
    page.wait_for_function(f"{ACTIVE_CARD} === '{first.id}'")

    card.get_by_role("button", name="Delete").click()
    page.click("#confirm-dialog button[value=ok]")
    expect(page.locator("#image-grid .image-card")).to_have_count(1)
    page.wait_for_function(f"{ACTIVE_CARD} === '{second.id}'")  # the neighbour, not the page


def test_the_viewer_toggles_say_whether_they_are_on(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Toggle Viewer"})
    add_image(session, store, patient.id, "8", "xray", "x.png")
    open_patient(page, "8")
    page.click("#image-grid .image-card .thumb")
    invert = page.locator("#viewer-dialog [data-act=invert]")
    expect(invert).to_have_attribute("aria-pressed", "false")
    invert.click()
    expect(invert).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("h")
    expect(page.locator("#viewer-dialog [data-act=flip-h]")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.keyboard.press("Escape")


def test_saving_a_treatment_says_so(page, session):
    patients.create_patient(session, {"full_name": "Treated"})
    open_patient(page, "8")
    page.click("#add-treatment")
    page.fill("#treatment-form [name=treatment_type]", "Crown")
    page.click("#treatment-form button[value=save]")
    expect(page.locator("#toast")).to_contain_text("Treatment added.")


def test_the_focus_stays_in_the_timeline_after_deleting_an_image(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Timeline Keys"})
    first = add_image(session, store, patient.id, "8", "before", "first.png")
    second = add_image(session, store, patient.id, "8", "after", "second.png", (60, 80, 200))
    open_patient(page, "8")
    page.click("#type-tabs [data-tab=timeline]")
    card = page.locator(f"#timeline [data-image-id='{first.id}']")
    card.get_by_role("button", name="Delete").click()
    page.click("#confirm-dialog button[value=ok]")
    expect(page.locator("#timeline .image-card")).to_have_count(1)
    page.wait_for_function(
        "document.activeElement.closest('#timeline .image-card')?.dataset.imageId"
        f" === '{second.id}'"
    )


def test_the_focus_goes_to_the_patient_list_after_a_delete_and_after_demo_data(page, session):
    page.click("#load-demo")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(4, timeout=30_000)
    page.wait_for_function("document.activeElement.matches('#patient-list li[data-patient-id]')")
    page.keyboard.press("Enter")  # the focused patient opens
    expect(page.locator("#patient-view")).to_be_visible()
    page.click("#delete-patient")
    page.click("#confirm-dialog button[value=ok]")
    expect(page.locator("#patient-list li[data-patient-id]")).to_have_count(3)
    page.wait_for_function("document.activeElement.matches('#patient-list li[data-patient-id]')")
