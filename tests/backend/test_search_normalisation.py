"""The one normalisation behind stored search keys and typed queries (backend.search_keys)."""

from __future__ import annotations

import pytest

from backend.search_keys import (
    compact,
    digits_key,
    fold_text,
    is_phone_like,
    phone_key,
    query_terms,
)


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("أحمد", "احمد"),  # alef with hamza above
        ("إبراهيم", "ابراهيم"),  # alef with hamza below
        ("آمنة", "امنه"),  # alef with madda, taa marbuta
        ("ٱلرحمن", "الرحمن"),  # alef wasla
        ("مُحَمَّد", "محمد"),  # tashkeel
        ("علـــي", "علي"),  # tatweel
        ("مصطفى", "مصطفي"),  # alef maqsura
        ("فاطمة", "فاطمه"),  # taa marbuta
        ("مؤمن", "مومن"),  # waw with hamza
        ("هانئ", "هاني"),  # yeh with hamza
        ("González", "gonzalez"),
        ("MARÍA JOSÉ", "maria jose"),
        ("Łukasz Øster", "lukasz oster"),
        ("Straße", "strasse"),
        ("O'Brien-Smith", "o brien smith"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),  # Arabic-Indic digits
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),  # Eastern Arabic-Indic digits
        ("\u200fأحمد\u200e", "احمد"),  # direction marks
        ("  Sarah   Mitchell ", "sarah mitchell"),
        (None, ""),
    ],
)
def test_text_is_folded_to_its_search_words(written, folded):
    assert fold_text(written) == folded


def test_word_breaks_do_not_matter_when_matching():
    assert compact(fold_text("عبد الله")) == compact(fold_text("عبدالله"))


@pytest.mark.parametrize(
    ("written", "forms"),
    [
        ("+971 50 123 4567", ["971501234567", "501234567"]),
        ("00971 50 123 4567", ["971501234567", "501234567"]),
        ("050-123-4567", ["0501234567", "501234567"]),
        ("(555) 0142", ["5550142"]),
        ("+1 (202) 555-0142", ["12025550142", "2025550142"]),
        ("+44 20 7946 0958", ["442079460958", "2079460958"]),
        ("٠٥٠ ١٢٣ ٤٥٦٧", ["0501234567", "501234567"]),
        ("\u200e+971 50 123 4567", ["971501234567", "501234567"]),
    ],
)
def test_a_phone_is_stored_by_its_digits_and_its_national_number(written, forms):
    assert phone_key(written).split() == forms
    assert phone_key(written).startswith(" ") and phone_key(written).endswith(" ")


def test_several_numbers_in_one_field_are_each_kept():
    key = phone_key("050 123 4567; 04 555 1234")
    assert {"501234567", "45551234"} <= set(key.split())


def test_a_query_of_phone_words_is_one_term():
    [term] = query_terms("+971 50 123 4567")
    assert term.phone is not None and term.text == "971501234567"
    name, phone = query_terms("Omar 079 1234")
    assert (name.text, name.phone) == ("omar", None)
    assert phone.phone is not None and phone.text == "0791234"


def test_nothing_searchable_gives_no_terms():
    assert query_terms("%") == []
    assert query_terms(" - ") == []


@pytest.mark.parametrize(
    ("token", "phone_like"),
    [("+971", True), ("(050)", True), ("555-0142", True), ("٠٥٠", True), ("a-55", False)],
)
def test_phone_like_words(token, phone_like):
    assert is_phone_like(token) is phone_like


def test_the_digits_key_holds_the_serials_digits_too():
    assert digits_key("555-0142", "A-47").split() == ["5550142", "47"]
    assert digits_key(None, "٤٧") == " 47 "
    assert digits_key("47", "47") == " 47 "
    assert digits_key(None, "ABC") == ""


def test_a_whole_national_number_is_one_pattern():
    for written in ("0501234567", "+971 50 123 4567", "971501234567"):
        [term] = query_terms(written)
        assert term.phone is not None and term.phone.patterns == ["%501234567%"]
    [short] = query_terms("050")
    assert short.phone is not None and short.phone.patterns == ["%050%", "% 50%"]
