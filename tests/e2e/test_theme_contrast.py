"""Both themes of web/static/css/app.css are readable: every text colour on the background it is
drawn on reaches WCAG AA (4.5:1), computed from the custom properties of the light and the dark
theme (each written once as light-dark(light, dark))."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "web" / "static" / "css" / "app.css"
AA_TEXT = 4.5

# (text colour, background): the pairs the page draws text with.
TEXT_PAIRS = [
    ("ink", "bg"),
    ("ink", "card"),
    ("ink", "field-bg"),
    ("ink", "hover"),
    ("ink", "selected-bg"),
    ("ink", "chip-bg"),
    ("ink", "log-warning-bg"),
    ("ink", "log-error-bg"),
    ("muted", "bg"),
    ("muted", "card"),
    ("muted", "selected-bg"),
    ("label-ink", "card"),
    ("accent-ink", "accent"),  # primary buttons, counts
    ("accent-ink", "accent-hover"),
    ("danger", "card"),  # danger buttons, form errors
    ("danger", "danger-hover"),
    ("link", "card"),
    ("link", "bg"),
    ("topbar-ink", "topbar"),
    ("topbar-ink", "topbar-hover"),
    ("chip-before-ink", "chip-before-bg"),
    ("chip-after-ink", "chip-after-bg"),
    ("chip-xray-ink", "chip-xray-bg"),
    ("chip-clinical-ink", "chip-clinical-bg"),
    ("warning-ink", "warning-bg"),
    ("ok-ink", "card"),
    ("banner-ink", "banner-bg"),
    ("alert-ink", "alert-bg"),
    ("toast-ink", "toast-bg"),
    ("toast-ink", "toast-ok-bg"),
    ("toast-ink", "toast-error-bg"),
    ("side-label", "card"),
    ("badge-ink", "badge-bg"),  # a tooth's image count
]

DECLARATION = re.compile(r"--([\w-]+):\s*([^;]+);")
LIGHT_DARK = re.compile(r"light-dark\(\s*(#[0-9a-fA-F]{6})\s*,\s*(#[0-9a-fA-F]{6})\s*\)")
HEX = re.compile(r"#[0-9a-fA-F]{6}")


def theme_colours() -> dict[str, dict[str, str]]:
    """{"light": {name: "#rrggbb"}, "dark": {...}} from the :root block's custom properties."""
    text = CSS.read_text(encoding="utf-8")
    root = re.search(r":root\s*\{(.*?)\n\}", text, re.S)
    assert root, "app.css has no :root block"
    themes: dict[str, dict[str, str]] = {"light": {}, "dark": {}}
    for name, value in DECLARATION.findall(root.group(1)):
        both = LIGHT_DARK.fullmatch(value.strip())
        if both:
            themes["light"][name], themes["dark"][name] = both.groups()
        elif HEX.fullmatch(value.strip()):
            themes["light"][name] = themes["dark"][name] = value.strip()
    return themes


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_gives_the_known_extremes():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_the_two_themes_really_differ_and_define_every_colour_used():
    themes = theme_colours()
    names = {name for pair in TEXT_PAIRS for name in pair}
    for theme in themes.values():
        assert names <= theme.keys(), names - theme.keys()
    assert luminance(themes["light"]["bg"]) > 0.8 > 0.05 > luminance(themes["dark"]["bg"])
    # the page uses the properties: the dark theme must not be left with hard-coded white
    # surfaces (the compare slider's handle is white on the viewer's dark surround in both)
    white = [
        line
        for line in CSS.read_text(encoding="utf-8").splitlines()
        if re.search(r"background: #fff(fff)?\b", line) and ".compare-handle" not in line
    ]
    assert white == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_colour_reaches_aa_on_its_background(theme):
    colours = theme_colours()[theme]
    low = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in TEXT_PAIRS
        if contrast(colours[fg], colours[bg]) < AA_TEXT
    }
    assert low == {}, f"{theme} theme: text below {AA_TEXT}:1: {low}"
