import pytest

from backend.teeth import (
    ALL_TEETH,
    PERMANENT,
    PRIMARY,
    InvalidTooth,
    Notation,
    chart_rows,
    from_fdi,
    from_palmer,
    is_primary,
    is_valid,
    label,
    normalize,
    parse,
    quadrant,
    sort_key,
    to_fdi,
    to_palmer,
    tooth_name,
)

FDI_ANCHORS = [
    ("1", 18),
    ("8", 11),
    ("9", 21),
    ("16", 28),
    ("17", 38),
    ("24", 31),
    ("25", 41),
    ("32", 48),
    ("A", 55),
    ("E", 51),
    ("F", 61),
    ("J", 65),
    ("K", 75),
    ("O", 71),
    ("P", 81),
    ("T", 85),
]
PALMER_ANCHORS = [
    ("1", "UR8"),
    ("8", "UR1"),
    ("9", "UL1"),
    ("16", "UL8"),
    ("17", "LL8"),
    ("24", "LL1"),
    ("25", "LR1"),
    ("32", "LR8"),
    ("A", "URE"),
    ("E", "URA"),
    ("F", "ULA"),
    ("K", "LLE"),
    ("T", "LRE"),
]
SYMBOL = {"UR": "{}┘", "UL": "└{}", "LR": "{}┐", "LL": "┌{}"}


def symbol_form(palmer: str) -> str:
    return SYMBOL[palmer[:2]].format(palmer[2:])


def test_tooth_sets_hold_32_permanent_and_20_primary_codes():
    assert list(PERMANENT) == [str(n) for n in range(1, 33)]
    assert "".join(PRIMARY) == "ABCDEFGHIJKLMNOPQRST"
    assert ALL_TEETH == PERMANENT + PRIMARY
    assert len(set(ALL_TEETH)) == 52


def test_notation_values_are_lower_case_names():
    assert [n.value for n in Notation] == ["universal", "fdi", "palmer"]
    assert Notation("fdi") is Notation.FDI


def test_invalid_tooth_is_a_value_error():
    assert issubclass(InvalidTooth, ValueError)


# --- normalize / is_valid ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, "7"), ("7", "7"), (" 7 ", "7"), (32, "32"), ("a", "A"), (" t", "T"), ("K", "K")],
)
def test_normalize_returns_canonical_code(value, expected):
    assert normalize(value) == expected


@pytest.mark.parametrize(
    "value",
    [0, 33, -1, "0", "33", "07", "1.5", "abc", "U", "", "  ", None, True, False, 7.0, b"7", ["7"]],
)
def test_normalize_rejects_non_universal_values(value):
    with pytest.raises(InvalidTooth):
        normalize(value)


def test_invalid_universal_message_names_input_and_accepted_values():
    with pytest.raises(InvalidTooth) as err:
        normalize("33")
    assert str(err.value) == (
        "Tooth '33' is not a Universal tooth number (1-32, or A-T for primary teeth)"
    )


def test_invalid_message_shortens_very_long_input():
    with pytest.raises(InvalidTooth) as err:
        normalize("x" * 10_000)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("code", [*ALL_TEETH, 1, 32, "a", "t", " 5 "])
def test_is_valid_accepts_universal_codes(code):
    assert is_valid(code) is True


@pytest.mark.parametrize("code", [0, 33, "33", "U", "", None, True, 1.0, "1.5", "UR8", object()])
def test_is_valid_rejects_everything_else_without_raising(code):
    assert is_valid(code) is False


# --- FDI ---


@pytest.mark.parametrize(("code", "fdi"), FDI_ANCHORS)
def test_fdi_anchor_values(code, fdi):
    assert to_fdi(code) == fdi
    assert from_fdi(fdi) == code
    assert from_fdi(str(fdi)) == code


@pytest.mark.parametrize("code", ALL_TEETH)
def test_every_tooth_round_trips_through_fdi(code):
    assert from_fdi(to_fdi(code)) == code


def test_fdi_numbers_are_distinct_and_follow_iso_3950():
    numbers = {to_fdi(code) for code in ALL_TEETH}
    expected = {q * 10 + p for q in (1, 2, 3, 4) for p in range(1, 9)}
    expected |= {q * 10 + p for q in (5, 6, 7, 8) for p in range(1, 6)}
    assert numbers == expected


def test_to_fdi_accepts_int_and_lower_case():
    assert to_fdi(1) == 18
    assert to_fdi("j") == 65


@pytest.mark.parametrize(
    "value",
    [10, 19, 20, 29, 30, 39, 40, 49, 50, 56, 60, 66, 76, 86, 90, 99, 0, 1, 111, -11],
)
def test_from_fdi_rejects_numbers_outside_iso_3950(value):
    with pytest.raises(InvalidTooth):
        from_fdi(value)


@pytest.mark.parametrize("value", ["abc", "", "1 1", "011", "1.1", "١١", "UR8", None, True, 11.0])
def test_from_fdi_rejects_non_numbers(value):
    with pytest.raises(InvalidTooth):
        from_fdi(value)


def test_invalid_fdi_message_names_input_and_accepted_ranges():
    with pytest.raises(InvalidTooth, match=r"Tooth '56' is not an FDI tooth number \(11-18"):
        from_fdi("56")


@pytest.mark.parametrize("code", [0, "33", "Z", None])
def test_to_fdi_rejects_invalid_codes(code):
    with pytest.raises(InvalidTooth):
        to_fdi(code)


# --- Palmer ---


@pytest.mark.parametrize(("code", "palmer"), PALMER_ANCHORS)
def test_palmer_anchor_values(code, palmer):
    assert to_palmer(code) == palmer
    assert from_palmer(palmer) == code


@pytest.mark.parametrize("code", ALL_TEETH)
def test_every_tooth_round_trips_through_palmer_text(code):
    assert from_palmer(to_palmer(code)) == code


@pytest.mark.parametrize("code", ALL_TEETH)
def test_every_tooth_round_trips_through_palmer_symbols(code):
    assert from_palmer(symbol_form(to_palmer(code))) == code


def test_palmer_codes_are_distinct():
    assert len({to_palmer(code) for code in ALL_TEETH}) == 52


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8┘", "1"),
        ("└8", "16"),
        ("┌8", "17"),
        ("8┐", "32"),
        ("1┘", "8"),
        ("└1", "9"),
        ("E┘", "A"),
        ("e┘", "A"),
        ("└ e", "J"),
        (" 8 ┐ ", "32"),
        ("ur8", "1"),
        ("ur 8", "1"),
        ("Ul 1", "9"),
        ("  LR5  ", "29"),
        ("lle", "K"),
    ],
)
def test_from_palmer_accepts_case_spacing_and_bracket_symbols(text, expected):
    assert from_palmer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "UR9",
        "UR0",
        "URF",
        "UX1",
        "UR",
        "8",
        "E",
        "",
        "┘",
        "┘8",
        "8└",
        "8┘┘",
        "UR8┘",
        "URE1",
        None,
        8,
    ],
)
def test_from_palmer_rejects_malformed_input(text):
    with pytest.raises(InvalidTooth):
        from_palmer(text)


def test_invalid_palmer_message_names_input_and_accepted_forms():
    with pytest.raises(InvalidTooth, match=r"Tooth 'UR9' is not a Palmer tooth .*UR, UL, LL or LR"):
        from_palmer("UR9")


@pytest.mark.parametrize("code", [0, "33", "UR8", None])
def test_to_palmer_rejects_invalid_codes(code):
    with pytest.raises(InvalidTooth):
        to_palmer(code)


# --- parse / label ---


def test_21_means_different_teeth_in_universal_and_fdi():
    assert parse("21") == "21"
    assert parse("21", Notation.FDI) == "9"
    assert tooth_name(parse("21")) == "Lower left first premolar"
    assert tooth_name(parse("21", "fdi")) == "Upper left central incisor"


@pytest.mark.parametrize(
    ("text", "notation", "expected"),
    [
        ("8", Notation.UNIVERSAL, "8"),
        (8, "universal", "8"),
        ("a", "UNIVERSAL", "A"),
        (11, Notation.FDI, "8"),
        ("55", "fdi", "A"),
        ("48", " FDI ", "32"),
        ("UR1", Notation.PALMER, "8"),
        ("└8", "palmer", "16"),
        ("lre", "Palmer", "T"),
    ],
)
def test_parse_reads_each_notation(text, notation, expected):
    assert parse(text, notation) == expected


@pytest.mark.parametrize(
    ("text", "notation"),
    [("33", "universal"), ("18", "palmer"), ("UR8", "fdi"), ("19", "fdi"), (None, "universal")],
)
def test_parse_rejects_text_invalid_in_its_notation(text, notation):
    with pytest.raises(InvalidTooth):
        parse(text, notation)


@pytest.mark.parametrize("notation", ["iso", "", "Notation.FDI", None, 1])
def test_parse_and_label_reject_unknown_notation(notation):
    with pytest.raises(ValueError, match="notation") as err:
        parse("8", notation)
    assert not isinstance(err.value, InvalidTooth)
    with pytest.raises(ValueError, match="universal, fdi, palmer"):
        label("8", notation)


@pytest.mark.parametrize(
    ("code", "notation", "expected"),
    [
        ("8", Notation.UNIVERSAL, "8"),
        ("a", "universal", "A"),
        (8, Notation.FDI, "11"),
        ("E", "fdi", "51"),
        ("8", Notation.PALMER, "UR1"),
        ("A", "palmer", "URE"),
    ],
)
def test_label_shows_tooth_in_requested_notation(code, notation, expected):
    assert label(code, notation) == expected


@pytest.mark.parametrize("notation", list(Notation))
@pytest.mark.parametrize("code", ALL_TEETH)
def test_label_then_parse_round_trips(code, notation):
    assert parse(label(code, notation), notation) == code


def test_label_rejects_invalid_code():
    with pytest.raises(InvalidTooth):
        label("33", Notation.FDI)


# --- names, quadrants, primary ---


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("1", "Upper right third molar"),
        ("3", "Upper right first molar"),
        ("6", "Upper right canine"),
        ("8", "Upper right central incisor"),
        ("10", "Upper left lateral incisor"),
        ("12", "Upper left first premolar"),
        ("13", "Upper left second premolar"),
        ("15", "Upper left second molar"),
        ("24", "Lower left central incisor"),
        ("17", "Lower left third molar"),
        ("30", "Lower right first molar"),
        ("A", "Upper right primary second molar"),
        ("b", "Upper right primary first molar"),
        ("C", "Upper right primary canine"),
        ("F", "Upper left primary central incisor"),
        ("N", "Lower left primary lateral incisor"),
        ("T", "Lower right primary second molar"),
    ],
)
def test_tooth_name(code, name):
    assert tooth_name(code) == name


def test_every_tooth_has_a_distinct_name():
    assert len({tooth_name(code) for code in ALL_TEETH}) == 52


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        *[("1", "UR"), ("8", "UR"), ("9", "UL"), ("16", "UL"), ("17", "LL"), ("24", "LL")],
        *[("25", "LR"), (32, "LR"), ("A", "UR"), ("F", "UL"), ("k", "LL"), ("T", "LR")],
    ],
)
def test_quadrant(code, expected):
    assert quadrant(code) == expected


def test_quadrant_matches_palmer_prefix_for_every_tooth():
    for code in ALL_TEETH:
        assert to_palmer(code).startswith(quadrant(code))


def test_is_primary_separates_letters_from_numbers():
    assert all(is_primary(code) for code in PRIMARY)
    assert not any(is_primary(code) for code in PERMANENT)
    assert is_primary("c") is True
    assert is_primary(3) is False


@pytest.mark.parametrize(
    "function", [tooth_name, quadrant, is_primary, sort_key, to_fdi, to_palmer]
)
@pytest.mark.parametrize("code", [0, "33", "U", "", None])
def test_code_functions_reject_invalid_codes(function, code):
    with pytest.raises(InvalidTooth):
        function(code)


# --- sorting and chart ---


def test_sort_key_orders_permanent_numerically_then_primary_alphabetically():
    shuffled = ["T", "10", "A", "2", "32", "K", "1", "9"]
    assert sorted(shuffled, key=sort_key) == ["1", "2", "9", "10", "32", "A", "K", "T"]
    assert sorted(reversed(ALL_TEETH), key=sort_key) == list(ALL_TEETH)
    assert sort_key(10) == sort_key("10")
    assert sort_key("a") == sort_key("A")


def test_chart_rows_run_from_patient_right_to_patient_left():
    rows = chart_rows()
    assert rows == {
        "upper": [str(n) for n in range(1, 17)],
        "lower": [str(n) for n in range(32, 16, -1)],
        "upper_primary": list("ABCDEFGHIJ"),
        "lower_primary": list("TSRQPONMLK"),
    }
    for row in rows.values():
        assert quadrant(row[0]) in ("UR", "LR")
        assert quadrant(row[-1]) in ("UL", "LL")


def test_chart_rows_cover_every_tooth_once():
    rows = chart_rows()
    assert sorted((code for row in rows.values() for code in row), key=sort_key) == list(ALL_TEETH)


def test_chart_rows_returns_fresh_lists():
    chart_rows()["upper"].clear()
    assert len(chart_rows()["upper"]) == 16
