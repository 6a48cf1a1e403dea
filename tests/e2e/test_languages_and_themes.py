"""The page in Arabic (right to left) and in English, light and dark, in a real Chromium: the
language, theme and digits chosen on this PC (PATCH api/settings, as the Settings page does),
the chart never mirrored, the sidebar on the inline-start side, no box overflowing, no English
left on the main screens in Arabic, and a screenshot of every main screen in each combination
(artifacts/screenshots/<lang>-<theme>-<screen>.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.helpers import image_bytes
from tests.legacy_data import build_legacy

pytestmark = pytest.mark.browser

# Words that stay as they are in Arabic: names of formats, standards and programs, the patient
# data this test makes, and the language's own name in the language menu.
NOT_TRANSLATED = {
    "FDI",
    "Palmer",
    "DICOM",
    "PACS",  # the x-ray archive, as clinics and its makers call it in Arabic too
    # DICOM's service names (C-STORE, C-ECHO) and example AE titles of x-ray units, as the
    # units' own settings write them
    "STORE",
    "ECHO",
    "XRAY",
    "PANO",
    "EXIF",
    "HEIC",
    "HEIF",
    "PNG",
    "JPEG",
    "JPG",
    "JSON",
    "json",
    "backups",
    "logs",
    "CSV",
    "PDF",
    "PostgreSQL",
    "Windows",
    "Ctrl",
    "Shift",
    "Enter",
    "Esc",
    "English",
    "Layla",
    "Haddad",
    "Crown",
    "front",
    "side",
    "jpg",
    "png",
    "zip",
    "dental",
    "images",
    "clinic",
    "move",
    "server",
    "Dental",
    "Images",
}
PATH_OR_ADDRESS = re.compile(
    r"\S+://\S+|(?:[A-Za-z]:)?[\\/][^\s،,()]+|[\w.-]+\.(?:zip|db|json|csv|png|jpe?g)\b"
)
MAIN_CONTAINERS = [".topbar", ".sidebar", "main", "#patient-view .chart-card", "#tooth-panel"]


def patch_settings(page, body: dict) -> dict:
    return page.evaluate(
        """async (body) => {
            const token = document.querySelector('meta[name="dental-token"]').content;
            const r = await fetch('api/settings', {
                method: 'PATCH', body: JSON.stringify(body),
                headers: { 'X-Dental-Token': token, 'Content-Type': 'application/json' },
            });
            if (!r.ok) throw new Error(await r.text());
            return r.json();
        }""",
        body,
    )


def use(page, language: str, theme: str) -> None:
    patch_settings(page, {"language": language, "theme": theme})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")


def seed(session, store) -> str:
    patient = patients.create_patient(session, {"full_name": "Layla Haddad", "phone": "0791234567"})
    crown = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Crown"}
    )
    add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [Upload("front.jpg", image_bytes("JPEG", (640, 480), (200, 80, 60)))],
        treatment_id=crown.id,
    )
    add_images(
        session,
        store,
        patient.id,
        "8",
        "after",
        [Upload("side.png", image_bytes("PNG", (640, 480), (60, 160, 90)))],
    )
    return patient.id


def overflowing(page, selectors: list[str]) -> list[str]:
    return page.evaluate(
        """(selectors) => selectors.flatMap((s) => [...document.querySelectorAll(s)])
            .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
            .map((e) => `${e.id || e.className}: ${e.scrollWidth} > ${e.clientWidth}`)""",
        selectors,
    )


def english_words(page, root: str) -> list[str]:
    """The Latin words of the visible texts, titles and placeholders under `root`."""
    texts = page.evaluate(
        """(root) => {
            const out = [];
            for (const box of document.querySelectorAll(root)) {
                const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
                while (walker.nextNode()) {
                    const node = walker.currentNode, parent = node.parentElement;
                    const skip = 'code, [hidden], script, style, svg text.tooth-label';
                    if (!parent || parent.closest(skip)) continue;
                    const style = getComputedStyle(parent);
                    if (style.display === 'none' || style.visibility === 'hidden') continue;
                    if (parent.closest('option') && !parent.closest('select')) continue;
                    out.push(node.textContent);
                }
                for (const el of box.querySelectorAll('[title], [placeholder], [aria-label]'))
                    for (const a of ['title', 'placeholder', 'aria-label'])
                        if (el.getAttribute(a)) out.push(el.getAttribute(a));
            }
            return out;
        }""",
        root,
    )
    # file paths, file names and addresses are shown as they are (isolated in the text)
    texts = [PATH_OR_ADDRESS.sub(" ", text) for text in texts]
    words = {w for text in texts for w in re.findall(r"[A-Za-z]{3,}", text)}
    return sorted(words - NOT_TRANSLATED)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("language", ["ar", "en"])
def test_the_main_screens_in_each_language_and_theme(
    page, session, store, tmp_path, language, theme
):
    seed(session, store)
    use(page, language, theme)
    name = f"{language}-{theme}"
    html = page.locator("html")
    expect(html).to_have_attribute("lang", language)
    expect(html).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
    expect(html).to_have_attribute("data-theme", theme)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(15, 23, 42)" if theme == "dark" else "rgb(243, 245, 248)")

    # the sidebar on the inline-start side: right in Arabic, left in English
    sidebar, main = box(page, ".sidebar"), box(page, "main")
    assert (sidebar["x"] > main["x"]) == (language == "ar")

    # the new-patient dialog: mirrored with the page, every label translated
    page.click("#new-patient")
    expect(page.locator("#patient-dialog")).to_be_visible()
    assert overflowing(page, ["#patient-form", "#patient-form .grid2"]) == []
    screenshot(page, f"{name}-patient-dialog")
    if language == "ar":
        left = english_words(page, "#patient-dialog")
        assert left == [], " ".join(left)
    page.click("#patient-form button[value=cancel]")

    page.click("#patient-list li[data-patient-id]")
    expect(page.locator("#patient-name")).to_have_text("Layla Haddad")
    # the chart is never mirrored: tooth 1 (the patient's upper right) on the viewer's left
    one, sixteen = (
        box(page, "#tooth-chart [data-tooth='1']"),
        box(page, "#tooth-chart [data-tooth='16']"),
    )
    assert one["x"] < sixteen["x"]
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#tooth-chart')).direction") == "ltr"
    )
    screenshot(page, f"{name}-chart")

    page.locator("#tooth-chart [data-tooth='8']").click()
    tabs = page.locator("#type-tabs [role=tab]")
    if language == "ar":
        expect(tabs.nth(1)).to_contain_text("قبل العلاج")
        expect(page.locator("#tooth-title")).not_to_contain_text("incisor")
    else:
        expect(tabs.nth(1)).to_contain_text("Before")
    expect(page.locator("#image-grid .image-card")).to_have_count(2)
    # keyboard arrows move in the drawn direction in both languages
    page.locator("#tooth-chart [data-tooth='8']").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.tooth") == "9"
    assert overflowing(page, MAIN_CONTAINERS) == []
    screenshot(page, f"{name}-tooth")
    if language == "ar":
        left = english_words(page, ".topbar, .banner, .sidebar, #patient-view")
        assert left == [], " ".join(left)

    # upload
    path = tmp_path / "more.png"
    path.write_bytes(image_bytes("PNG", (320, 240), (90, 90, 200)))
    with page.expect_file_chooser() as chooser:
        page.click("#choose-files")
    chooser.value.set_files(str(path))
    expect(page.locator("#image-grid .image-card")).to_have_count(3, timeout=20_000)
    screenshot(page, f"{name}-upload")

    # viewer
    page.locator("#image-grid .thumb").first.click()
    expect(page.locator("#viewer-dialog")).to_be_visible()
    screenshot(page, f"{name}-viewer")
    page.keyboard.press("Escape")

    # compare
    page.click("#open-compare")
    expect(page.locator("#compare-dialog")).to_be_visible()
    before_tag, after_tag = box(page, ".tag.left"), box(page, ".tag.right")
    assert before_tag["x"] < after_tag["x"]  # the slider is not mirrored either
    screenshot(page, f"{name}-compare")
    page.click("#compare-close")

    # settings: backup screen
    page.click("#open-settings")
    expect(page.locator("#backup-last")).not_to_have_text("")
    assert overflowing(page, [".topbar", ".sidebar", "main", "#settings-view .card"]) == []
    screenshot(page, f"{name}-settings")
    if language == "ar":
        expect(page.locator("#backup-title")).to_have_text("النسخ الاحتياطي والاستعادة")
        left = english_words(page, "#settings-view")
        assert left == [], " ".join(left)


def test_restore_and_import_previews_in_arabic(page, session, store, settings, tmp_path):
    seed(session, store)
    use(page, "ar", "dark")
    page.click("#open-settings")
    page.click("#backup-now")
    expect(page.locator("#backup-result")).to_contain_text("كُتبت النسخة الاحتياطية", timeout=30_000)
    expect(page.locator("#backup-result")).to_contain_text("مريض واحد")
    (archive,) = settings.backups_dir.glob("*.zip")
    with page.expect_file_chooser() as chooser:
        page.click("#restore-choose")
    chooser.value.set_files(str(archive))
    preview = page.locator("#restore-preview")
    expect(preview).to_be_visible(timeout=30_000)
    expect(preview).to_contain_text("الحجم")
    left = english_words(page, "#restore-preview")
    assert left == [], " ".join(left)
    screenshot(page, "ar-dark-restore-preview")
    page.click("#restore-cancel")

    build_legacy(tmp_path / "old", notation="fdi")
    page.fill("#import-source", str(tmp_path / "old"))
    page.click("#import-preview")
    expect(page.locator("#import-preview-box")).to_be_visible(timeout=30_000)
    expect(page.locator("#import-counts")).to_contain_text("الصور المفقودة")
    assert overflowing(page, ["main", "#settings-view .card"]) == []
    screenshot(page, "ar-dark-import-preview")


def test_arabic_indic_digits_and_the_choice_in_settings(page, session, store):
    seed(session, store)
    use(page, "ar", "light")
    patch_settings(page, {"digits": "arabic"})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#patient-list .count").first).to_have_text("٢")
    page.click("#open-settings")
    expect(page.locator("#settings-language")).to_have_value("ar")
    expect(page.locator("#settings-digits")).to_have_value("arabic")
    # choosing English in Settings saves it for this PC and shows the page in English at once
    with page.expect_navigation():
        page.select_option("#settings-language", "en")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("#open-settings")).to_contain_text("Settings")


@pytest.mark.parametrize(
    ("os_scheme", "expected"), [("dark", (15, 23, 42)), ("light", (243, 245, 248))]
)
def test_with_the_system_theme_the_page_follows_the_os(page, os_scheme, expected):
    """No theme chosen on this PC: the OS's light or dark (prefers-color-scheme) decides; a
    choice in Settings then wins over the OS."""
    patch_settings(page, {"theme": "system"})
    page.emulate_media(color_scheme=os_scheme)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb({}, {}, {})".format(*expected), background
    other = "light" if os_scheme == "dark" else "dark"
    patch_settings(page, {"theme": other})
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != background
