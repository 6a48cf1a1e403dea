"""web/static/js/i18n.js in Chromium against the real catalog: Arabic's six plural forms from
the catalog's own rule, the direction, and numbers and dates in Latin or Arabic-Indic digits."""

from __future__ import annotations

import pytest

from backend.config import write_machine_config

pytestmark = pytest.mark.browser

LOAD = """async () => {
  const i18n = await import(new URL("static/js/i18n.js", document.baseURI).href);
  const catalog = await i18n.loadCatalog();
  return {
    locale: catalog.locale,
    direction: i18n.direction(),
    forms: [0, 1, 2, 3, 11, 100, 101].map(i18n.pluralIndex),
    files: [0, 1, 2, 3, 11, 100, 101].map(
      (n) => i18n.tn("{current} of {n} file", "{current} of {n} files", n, { current: "x" })),
    tooth: i18n.t("third molar"),
    untranslated: i18n.t("Nothing here {name}", { name: "Layla" }),
    xray: i18n.label("image_types", "xray"),
    number: i18n.formatNumber(1234.5),
    date: i18n.formatDate("2026-03-09T12:00:00Z", { year: "numeric", timeZone: "UTC" }),
    hostile: i18n.compilePluralForms("nplurals=2; plural=globalThis.x=1;")(5),
  };
}"""


X = "\u2068x\u2069"


def test_arabic_with_arabic_indic_digits(page, settings):
    write_machine_config(settings.data_dir, language="ar", digits="arabic")
    got = page.evaluate(LOAD)
    assert (got["locale"], got["direction"]) == ("ar", "rtl")
    assert got["forms"] == [0, 1, 2, 3, 4, 5, 5]
    # a value put into a right-to-left sentence is isolated (U+2068 ... U+2069)
    assert got["files"] == [
        f"{X} من ٠ ملف",
        f"{X} من ملف واحد",
        f"{X} من ملفين",
        f"{X} من ٣ ملفات",
        f"{X} من ١١ ملفًا",
        f"{X} من ١٠٠ ملف",
        f"{X} من ١٠١ ملف",
    ]
    assert got["tooth"] == "ضرس العقل" and got["xray"] == "أشعة"
    # missing from the catalog: English (its value still isolated in a right-to-left page)
    assert got["untranslated"] == "Nothing here \u2068Layla\u2069"
    assert got["number"] == "١٬٢٣٤٫٥" and got["date"] == "٢٠٢٦"
    assert got["hostile"] == 1  # an unreadable rule is not run: English's rule instead
    assert page.evaluate("() => globalThis.x") is None


def test_arabic_with_latin_digits_and_english(page, settings):
    write_machine_config(settings.data_dir, language="ar", digits="latin")
    got = page.evaluate(LOAD)
    assert got["files"][4] == f"{X} من 11 ملفًا" and got["date"] == "2026"
    write_machine_config(settings.data_dir, language="en")
    got = page.evaluate(LOAD)
    assert (got["locale"], got["direction"]) == ("en", "ltr")
    assert got["forms"] == [1, 0, 1, 1, 1, 1, 1]
    assert got["files"][:3] == ["x of 0 files", "x of 1 file", "x of 2 files"]
    assert got["tooth"] == "third molar" and got["xray"] == "X-ray"
    assert got["number"] == "1,234.5"
