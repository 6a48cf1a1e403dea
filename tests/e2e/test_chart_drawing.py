"""The tooth chart as a dentist reads it, and the patient page's layout, in a real Chromium:
each tooth drawn with its crown and the roots of its type, treatments as colours on the crown
(two treatments, two colours), image badges that never touch a neighbour, the chart never
mirrored in Arabic, the chart and the tooth panel side by side on wide screens, the viewer's
toolbar on a 1024x768 screen, and even image cards. Screenshots of each screen size, language
and theme are kept under artifacts/screenshots/chart-*.png."""

from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend import teeth
from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.test_languages_and_themes import patch_settings
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

STATUS_RGB = {
    "in_progress": (59, 130, 246),
    "planned": (245, 158, 11),
    "completed": (34, 197, 94),
    "cancelled": (156, 163, 175),
}
SCREENS = [(1024, 768), (1366, 768), (1920, 1080)]
# roots per position from the midline (1 = central incisor)
PERMANENT_ROOTS = {"upper": [1, 1, 1, 2, 1, 3, 3, 3], "lower": [1, 1, 1, 1, 1, 2, 2, 2]}
PRIMARY_ROOTS = {"upper": [1, 1, 1, 3, 3], "lower": [1, 1, 1, 2, 2]}


def position(code: str) -> int:
    """1 (central incisor) to 8 (third molar), or 1 to 5 for a primary tooth."""
    if code in teeth.PRIMARY:
        i = teeth.PRIMARY.index(code)
        return 5 - i if i <= 4 else i - 4 if i <= 9 else 15 - i if i <= 14 else i - 14
    n = int(code)
    return 9 - n if n <= 8 else n - 8 if n <= 16 else 25 - n if n <= 24 else n - 24


def is_upper(code: str) -> bool:
    if code in teeth.PRIMARY:
        return teeth.PRIMARY.index(code) < 10
    return int(code) <= 16


def expected_roots(code: str) -> int:
    table = PRIMARY_ROOTS if code in teeth.PRIMARY else PERMANENT_ROOTS
    return table["upper" if is_upper(code) else "lower"][position(code) - 1]


def png(size: tuple[int, int], n: int) -> Upload:
    """A distinct real PNG (the store refuses a second copy of the same bytes)."""
    return Upload(f"img-{n}.png", image_bytes("PNG", size, (n % 250, (n * 7) % 250, 90)))


def seed(session, store, *, everywhere: bool = True) -> str:
    """A patient with images on every tooth (one tooth with over 99), permanent and primary, and
    treatments of one, two and four statuses."""
    patient = patients.create_patient(session, {"full_name": "Chart Patient"})
    n = 0
    codes = list(teeth.PERMANENT) + list(teeth.PRIMARY) if everywhere else ["8", "9", "10"]
    for code in codes:
        count = {"9": 100, "8": 47, "10": 12, "3": 3}.get(code, 1 + n % 3)
        uploads = [png((24, 16), n + i) for i in range(count)]
        add_images(session, store, patient.id, code, "xray", uploads)
        n += count
    plan = {
        "3": ["planned", "completed"],
        "14": ["in_progress"],
        "19": ["in_progress", "planned", "completed", "cancelled"],
        "K": ["completed", "cancelled"],
    }
    for code, statuses in plan.items():
        for status in statuses:
            treatments.create_treatment(
                session,
                patient.id,
                {"tooth": code, "treatment_type": f"Work {status}", "status": status},
            )
    return patient.id


def open_chart(page, language: str = "en", theme: str = "light") -> None:
    patch_settings(page, {"language": language, "theme": theme})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-view")).to_be_visible()
    expect(page.locator("#tooth-chart [data-tooth]").first).to_be_visible()


def drawn_teeth(page) -> list[dict]:
    """Every tooth's parts as the screen shows them: boxes of its crown, roots and badge."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#tooth-chart [data-tooth]')].map((g) => {
            const box = (e) => { const r = e.getBoundingClientRect();
                return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; };
            const badge = g.querySelector('.badge');
            return {
                code: g.dataset.tooth,
                type: g.dataset.type,
                crowns: g.querySelectorAll('path.crown').length,
                crown: box(g.querySelector('path.crown')),
                roots: [...g.querySelectorAll('path.root')].map(box),
                badge: badge ? box(badge) : null,
                badgeText: badge ? badge.querySelector('text').textContent : null,
                column: box(g.querySelector('.column')),
            };
        })"""
    )


def intersects(a: dict, b: dict) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
        min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


def test_each_tooth_has_a_crown_and_the_roots_of_its_type(page, session, store):
    seed(session, store)
    open_chart(page)
    expect(page.locator("#show-primary")).to_be_checked()  # the patient has primary teeth
    drawn = drawn_teeth(page)
    assert len(drawn) == 52
    by_code = {t["code"]: t for t in drawn}
    for t in drawn:
        code = t["code"]
        assert t["crowns"] == 1, t
        assert len(t["roots"]) == expected_roots(code), f"tooth {code} ({t['type']}): {t}"
        crown_middle = (t["crown"]["top"] + t["crown"]["bottom"]) / 2
        for root in t["roots"]:
            # upper teeth have their roots up, lower teeth down
            if is_upper(code):
                assert root["top"] < t["crown"]["top"] and root["bottom"] < crown_middle, t
            else:
                assert root["bottom"] > t["crown"]["bottom"] and root["top"] > crown_middle, t
    kinds = {t["code"]: t["type"] for t in drawn}
    assert [kinds[c] for c in ("8", "7", "6", "5", "4", "3", "2", "1")] == (
        ["incisor", "incisor", "canine", "premolar", "premolar", "molar", "molar", "molar"]
    )
    assert [kinds[c] for c in "EDCBA"] == (
        ["primary-incisor", "primary-incisor", "primary-canine", "primary-molar", "primary-molar"]
    )

    def root_length(code: str) -> float:
        return max(r["bottom"] - r["top"] for r in by_code[code]["roots"])

    # the canine's root is the longest of the upper front teeth
    assert root_length("6") > root_length("8") and root_length("6") > root_length("7")
    # primary teeth are smaller than the permanent teeth of the same place
    for primary, permanent in (("E", "8"), ("A", "3"), ("T", "30")):
        a, b = by_code[primary]["crown"], by_code[permanent]["crown"]
        assert a["right"] - a["left"] < b["right"] - b["left"], (primary, permanent)
        assert a["bottom"] - a["top"] < b["bottom"] - b["top"], (primary, permanent)
    screenshot(page, "chart-teeth-primary")


def crown_colours(page, code: str) -> dict[str, float]:
    """The share of the crown's on-screen pixels near each status colour."""
    crown = page.locator(f"#tooth-chart [data-tooth='{code}'] path.crown").bounding_box()
    shot = page.screenshot(
        clip={
            "x": crown["x"] + 3,
            "y": crown["y"] + 3,
            "width": crown["width"] - 6,
            "height": crown["height"] - 6,
        }
    )
    pixels = list(Image.open(io.BytesIO(shot)).convert("RGB").getdata())
    share = {}
    for status, rgb in STATUS_RGB.items():
        near = sum(1 for p in pixels if sum(abs(p[i] - rgb[i]) for i in range(3)) < 30)
        share[status] = near / len(pixels)
    return share


def test_treatments_show_as_colours_on_the_crown_one_band_each(page, session, store):
    seed(session, store)
    open_chart(page)
    two = crown_colours(page, "3")
    assert two["planned"] > 0.15 and two["completed"] > 0.15, two
    assert two["in_progress"] < 0.01 and two["cancelled"] < 0.01, two
    one = crown_colours(page, "14")
    assert one["in_progress"] > 0.4 and max(one["planned"], one["completed"]) < 0.01, one
    four = crown_colours(page, "19")
    assert all(share > 0.05 for share in four.values()), four
    primary = crown_colours(page, "K")
    assert primary["completed"] > 0.15 and primary["cancelled"] > 0.15, primary
    plain = crown_colours(page, "12")  # white (its outline's grey edge aside)
    assert max(plain.values()) < 0.05, plain
    # the tooth's name for a screen reader says both, and so does its tooltip
    tooth = page.locator("#tooth-chart [data-tooth='3']")
    expect(tooth).to_have_attribute(
        "aria-label", "3: Upper right first molar, 3 images, Planned, Completed"
    )
    tooth.hover()
    expect(page.locator("#chart-tooltip")).to_contain_text("Work planned — Planned")
    expect(page.locator("#chart-tooltip")).to_contain_text("Work completed — Completed")
    # the legend names the four colours
    expect(page.locator(".legend span")).to_have_text(
        ["Planned", "In progress", "Completed", "Cancelled"]
    )


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_badges_never_overlap_a_neighbour(page, session, store, screen):
    seed(session, store)
    page.set_viewport_size({"width": screen[0], "height": screen[1]})
    open_chart(page)
    drawn = drawn_teeth(page)
    assert len(drawn) == 52 and all(t["badge"] for t in drawn)
    by_code = {t["code"]: t for t in drawn}
    assert by_code["9"]["badgeText"] == "99+" and by_code["8"]["badgeText"] == "47"
    for t in drawn:
        badge = t["badge"]
        # inside the tooth's own column
        column = t["column"]
        assert column["left"] - 0.5 <= badge["left"] and badge["right"] <= column["right"] + 0.5, t
        for other in drawn:
            if other is t:
                continue
            assert not intersects(badge, other["badge"]), f"badges {t['code']}/{other['code']}"
            for part in [other["crown"], *other["roots"]]:
                assert not intersects(badge, part), f"badge {t['code']} over {other['code']}"
        # nor over its own tooth's crown
        assert not intersects(badge, t["crown"]), t
    screenshot(page, f"chart-badges-{screen[0]}x{screen[1]}")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_chart_is_never_mirrored(page, session, store, language):
    seed(session, store)
    open_chart(page, language)
    boxes = {t["code"]: t["crown"] for t in drawn_teeth(page)}
    # the patient's right (1, 32, A, T) on the viewer's left, in both languages
    for right, left in (("1", "16"), ("32", "17"), ("8", "9"), ("A", "J"), ("T", "K")):
        assert boxes[right]["left"] < boxes[left]["left"], (language, right, left)
    direction = "getComputedStyle(document.querySelector('.chart-wrap')).direction"
    assert page.evaluate(direction) == "ltr"
    side = page.locator("#tooth-chart .side-label")
    assert side.nth(0).bounding_box()["x"] < side.nth(1).bounding_box()["x"]
    # the arrow keys move as drawn: right is towards the viewer's right
    page.locator("#tooth-chart [data-tooth='8']").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.tooth") == "9"
    expect(page.locator("#chart-tooltip")).to_be_visible()  # a keyboard focus shows the tooltip
    page.keyboard.press("Enter")
    expect(page.locator("#tooth-chart [data-tooth='9']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#tooth-chart .tooth.selected")).to_have_attribute("data-tooth", "9")
    screenshot(page, f"chart-{language}-not-mirrored")


def geometry(page) -> dict:
    return page.evaluate(
        """() => {
            const box = (s) => { const r = document.querySelector(s).getBoundingClientRect();
                return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; };
            return { chart: box('.chart-card'), panel: box('#tooth-panel'),
                     svg: box('#tooth-chart'), main: box('main'),
                     scroll: document.querySelector('main').scrollTop,
                     height: window.innerHeight, width: window.innerWidth };
        }"""
    )


def in_view(box: dict, g: dict) -> bool:
    return box["top"] >= g["main"]["top"] - 0.5 and box["bottom"] <= g["height"] + 0.5


@pytest.mark.parametrize("screen", [(1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", ["en", "ar"])
def test_chart_and_panel_side_by_side_on_wide_screens(page, session, store, screen, language):
    seed(session, store)
    page.set_viewport_size({"width": screen[0], "height": screen[1]})
    open_chart(page, language)
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(47)
    page.wait_for_timeout(400)  # any scrolling would have happened by now
    g = geometry(page)
    if language == "en":
        assert g["panel"]["left"] >= g["chart"]["right"], g
    else:  # the page runs right to left: the panel on the chart's left (the chart unmirrored)
        assert g["panel"]["right"] <= g["chart"]["left"], g
    assert g["scroll"] == 0, g
    assert in_view(g["chart"], g), g  # the whole chart, without scrolling
    assert g["panel"]["top"] < g["height"] - 200, g  # the panel's head and first images
    screenshot(page, f"chart-side-by-side-{language}-{screen[0]}x{screen[1]}")

    # down in the panel's images, a tooth chosen in the chart: the chart never leaves
    page.evaluate("document.querySelector('main').scrollBy(0, 1500)")
    page.wait_for_function("document.querySelector('main').scrollTop > 0")
    assert in_view(geometry(page)["chart"], geometry(page))  # it stays while the panel scrolls
    page.locator("#tooth-chart [data-tooth='24']").click()
    expect(page.locator("#tooth-title")).to_contain_text("24")
    page.wait_for_timeout(700)
    g = geometry(page)
    assert in_view(g["chart"], g), g
    head = g["panel"] | {"bottom": g["panel"]["top"] + 100}
    assert in_view(head, g), g  # back at the panel's top


def test_the_chosen_tooth_stays_on_screen_below_1366(page, session, store):
    """Narrower: the panel is below the chart; choosing a tooth scrolls as far as its first
    images, never so far that the tooth leaves the screen."""
    seed(session, store, everywhere=False)
    page.set_viewport_size({"width": 1024, "height": 768})
    open_chart(page)
    hint = page.locator("#tooth-hint").bounding_box()
    assert hint["y"] >= geometry(page)["chart"]["bottom"]  # the panel opens below the chart
    for code in ("8", "9", "10"):
        page.locator(f"#tooth-chart [data-tooth='{code}']").click()
        expect(page.locator("#image-grid .image-card").first).to_be_visible()
        page.wait_for_timeout(700)
        tooth = page.locator(f"#tooth-chart [data-tooth='{code}'] path.crown").bounding_box()
        g = geometry(page)
        assert tooth["y"] >= g["main"]["top"] - 1, (code, g)
        assert tooth["y"] + tooth["height"] <= g["height"], (code, g)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_viewer_toolbar_fits_at_1024x768(page, session, store, language):
    seed(session, store, everywhere=False)
    page.set_viewport_size({"width": 1024, "height": 768})
    open_chart(page, language)
    page.locator("#tooth-chart [data-tooth='10']").click()
    page.locator("#image-grid .thumb").first.click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    parts = page.evaluate(
        """() => [...document.querySelectorAll(
                '#viewer-dialog .viewer-bar :is(button, input, select, span)')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                return { what: e.dataset.act || e.id || e.className, left: r.left, right: r.right,
                         top: r.top, bottom: r.bottom }; })"""
    )
    screenshot(page, f"chart-viewer-1024-{language}")
    assert len(parts) >= 15
    for part in parts:
        assert part["left"] >= 0 and part["right"] <= 1024 and part["bottom"] <= 768, part
    bar = page.locator("#viewer-dialog .viewer-bar").bounding_box()
    stage = page.locator("#viewer-stage").bounding_box()
    assert bar["height"] <= 100, bar  # at most two rows: the image keeps the screen
    assert stage["height"] >= 500, stage


def test_portrait_and_landscape_photos_make_even_cards(page, session, store):
    patient = patients.create_patient(session, {"full_name": "Even Cards"})
    sizes = [(480, 640), (640, 480), (1600, 500), (300, 900), (800, 800)]
    for n, size in enumerate(sizes):
        add_images(session, store, patient.id, "8", "clinical", [png(size, n)])
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(5)
    page.wait_for_function(
        "[...document.querySelectorAll('#image-grid .image-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    cards = page.evaluate(
        """() => [...document.querySelectorAll('#image-grid .image-card')].map((c) => {
            const card = c.getBoundingClientRect();
            const thumb = c.querySelector('.thumb').getBoundingClientRect();
            const img = c.querySelector('img'), shown = img.getBoundingClientRect();
            return { card: [card.width, card.height], thumb: [thumb.width, thumb.height],
                     img: [shown.width, shown.height],
                     natural: [img.naturalWidth, img.naturalHeight],
                     fit: getComputedStyle(img).objectFit };
        })"""
    )
    first = cards[0]
    for card in cards:
        assert abs(card["card"][0] - first["card"][0]) < 1, cards
        assert abs(card["card"][1] - first["card"][1]) < 1, cards
        assert abs(card["thumb"][1] - first["thumb"][1]) < 1, cards
        assert abs(card["thumb"][0] / card["thumb"][1] - 4 / 3) < 0.02, card
        assert card["fit"] == "contain", card
        # the picture's box is the card's box; "contain" shows all of it inside
        assert abs(card["img"][0] - card["thumb"][0]) < 1, card
        assert abs(card["img"][1] - card["thumb"][1]) < 1, card
    # portrait and landscape thumbnails, both in the same card shape
    assert any(c["natural"][1] > c["natural"][0] for c in cards), cards
    assert any(c["natural"][0] > c["natural"][1] for c in cards), cards
    screenshot(page, "chart-even-cards")


def test_new_uploads_appear_where_the_user_is_looking(page, session, store, tmp_path):
    patient = patients.create_patient(session, {"full_name": "Many Images"})
    add_images(session, store, patient.id, "8", "before", [png((64, 48), n) for n in range(14)])
    page.set_viewport_size({"width": 1366, "height": 768})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.click("#patient-list li[data-patient-id]")
    page.locator("#tooth-chart [data-tooth='8']").click()
    expect(page.locator("#image-grid .image-card")).to_have_count(14)
    cards = "[...document.querySelectorAll('#image-grid .image-card')].map(c => c.dataset.imageId)"
    before = set(page.evaluate(cards))
    path = tmp_path / "new.png"
    path.write_bytes(image_bytes("PNG", (320, 240), (10, 200, 30)))
    with page.expect_file_chooser() as chooser:
        page.click("#choose-files")
    chooser.value.set_files(str(path))
    expect(page.locator("#image-grid .image-card")).to_have_count(15, timeout=20_000)
    [added] = set(page.evaluate(cards)) - before
    new = page.locator(f"#image-grid .image-card[data-image-id='{added}']")
    expect(new).to_have_class(re.compile(r"\bnew\b"))  # marked for a moment
    deadline = time.monotonic() + 5
    while True:
        box = new.bounding_box()
        if box and box["y"] >= 0 and box["y"] + box["height"] <= 768 + 1:
            break
        assert time.monotonic() < deadline, f"the new image is off screen: {box}"
        page.wait_for_timeout(100)
    g = geometry(page)
    assert in_view(g["chart"], g), g  # the chart stays, beside
    screenshot(page, "chart-new-upload")


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_the_chart(page, session, store, language, theme):
    seed(session, store)
    for width, height in SCREENS:
        page.set_viewport_size({"width": width, "height": height})
        open_chart(page, language, theme)
        page.locator("#tooth-chart [data-tooth='3']").click()
        expect(page.locator("#image-grid .image-card")).to_have_count(3)
        page.wait_for_timeout(500)
        screenshot(page, f"chart-{language}-{theme}-{width}x{height}")
