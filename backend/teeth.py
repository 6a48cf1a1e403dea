"""Tooth numbering.

Everywhere inside the program a tooth is its Universal code as a string: permanent teeth "1".."32"
(1 = upper right third molar, round the upper arch to 16, then 17 = lower left third molar round
to 32), primary teeth "A".."T" (A = upper right second molar, round the same way to T). FDI
(ISO 3950) and Palmer exist only at the edges, for input and display.
"""

from __future__ import annotations

import reprlib
from enum import StrEnum

from backend.i18n import N_, gettext

PERMANENT: tuple[str, ...] = tuple(str(n) for n in range(1, 33))
PRIMARY: tuple[str, ...] = tuple(chr(c) for c in range(ord("A"), ord("T") + 1))
ALL_TEETH: tuple[str, ...] = PERMANENT + PRIMARY

QUADRANTS: tuple[str, ...] = ("UR", "UL", "LL", "LR")
"""In Universal and FDI order: index + 1 is the FDI quadrant digit (index + 5 for primary teeth)."""

# Names are put together from a quadrant's pattern and the tooth's kind, both translated: Arabic
# puts the kind first ("القاطع المركزي الأيمن العلوي").
_QUADRANT_NAMES = {
    "UR": N_("Upper right {tooth}"),
    "UL": N_("Upper left {tooth}"),
    "LL": N_("Lower left {tooth}"),
    "LR": N_("Lower right {tooth}"),
}
_PERMANENT_NAMES = (
    N_("central incisor"),
    N_("lateral incisor"),
    N_("canine"),
    N_("first premolar"),
    N_("second premolar"),
    N_("first molar"),
    N_("second molar"),
    N_("third molar"),
)
_PRIMARY_NAMES = (
    N_("primary central incisor"),
    N_("primary lateral incisor"),
    N_("primary canine"),
    N_("primary first molar"),
    N_("primary second molar"),
)
_PRIMARY_LETTERS = "ABCDE"
_SYMBOL_SUFFIX = {"┘": "UR", "┐": "LR"}
_SYMBOL_PREFIX = {"└": "UL", "┌": "LL"}

_UNIVERSAL_HELP = N_("a Universal tooth number (1-32, or A-T for primary teeth)")
_FDI_HELP = N_(
    "an FDI tooth number (11-18, 21-28, 31-38, 41-48, "
    "or 51-55, 61-65, 71-75, 81-85 for primary teeth)"
)
_PALMER_HELP = N_(
    "a Palmer tooth (quadrant UR, UL, LL or LR with 1-8, or A-E for primary teeth, "
    "e.g. 'UR8', 'ul 1', '8┘', '└8', '8┐', '┌8')"
)


class Notation(StrEnum):
    """A tooth numbering system the user may type or read teeth in."""

    UNIVERSAL = "universal"
    FDI = "fdi"
    PALMER = "palmer"


class InvalidTooth(ValueError):
    """A value that is not a tooth in the notation it was read in."""


def _invalid(value: object, accepted: str) -> InvalidTooth:
    return InvalidTooth(
        gettext(
            "Tooth {value} is not {accepted}", value=reprlib.repr(value), accepted=gettext(accepted)
        )
    )


def _place(index: int, per_quadrant: int) -> tuple[str, int]:
    """Quadrant and position from the midline (1 = central incisor) of the index-th tooth."""
    q, k = divmod(index, per_quadrant)
    # UR and LL are numbered towards the midline, UL and LR away from it.
    return QUADRANTS[q], (per_quadrant - k if q % 2 == 0 else k + 1)


_PLACE: dict[str, tuple[str, int]] = {
    **{code: _place(i, 8) for i, code in enumerate(PERMANENT)},
    **{code: _place(i, 5) for i, code in enumerate(PRIMARY)},
}
_FDI: dict[str, int] = {
    code: (QUADRANTS.index(q) + (5 if code in PRIMARY else 1)) * 10 + pos
    for code, (q, pos) in _PLACE.items()
}
_PALMER: dict[str, str] = {
    code: q + (_PRIMARY_LETTERS[pos - 1] if code in PRIMARY else str(pos))
    for code, (q, pos) in _PLACE.items()
}
_FROM_FDI: dict[int, str] = {fdi: code for code, fdi in _FDI.items()}
_FROM_PALMER: dict[str, str] = {palmer: code for code, palmer in _PALMER.items()}


def normalize(code: str | int) -> str:
    """Return the canonical Universal code for a Universal value: 7, " 7 ", "a" -> "7", "7", "A".

    Raises InvalidTooth for anything else (0, 33, "07", "1.5", "", None, True, 7.0, ...).
    """
    if isinstance(code, int) and not isinstance(code, bool):
        text = str(code)
    elif isinstance(code, str):
        text = code.strip().upper()
    else:
        raise _invalid(code, _UNIVERSAL_HELP)
    if text not in _PLACE:
        raise _invalid(code, _UNIVERSAL_HELP)
    return text


def is_valid(code: object) -> bool:
    """True if `code` is a Universal tooth that normalize() accepts."""
    try:
        normalize(code)  # type: ignore[arg-type]
    except InvalidTooth:
        return False
    return True


def is_primary(code: str | int) -> bool:
    """True for a primary (child) tooth, A-T."""
    return normalize(code) in PRIMARY


def quadrant(code: str | int) -> str:
    """The tooth's quadrant: "UR", "UL", "LL" or "LR" (the patient's sides)."""
    return _PLACE[normalize(code)][0]


def to_fdi(code: str | int) -> int:
    """FDI (ISO 3950) number of a Universal tooth: "1" -> 18, "A" -> 55."""
    return _FDI[normalize(code)]


def from_fdi(value: str | int) -> str:
    """Universal code of an FDI number given as int or digits: 18 or "18" -> "1"."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        digits = value.strip()
        if len(digits) == 2 and digits.isascii() and digits.isdigit():
            number = int(digits)
    if number not in _FROM_FDI:
        raise _invalid(value, _FDI_HELP)
    return _FROM_FDI[number]


def to_palmer(code: str | int) -> str:
    """Palmer text form of a Universal tooth: "1" -> "UR8", "9" -> "UL1", "A" -> "URE"."""
    return _PALMER[normalize(code)]


def from_palmer(text: str) -> str:
    """Universal code of a Palmer tooth in text ("UR8", "ur 8") or bracket form ("8┘", "└8")."""
    if not isinstance(text, str):
        raise _invalid(text, _PALMER_HELP)
    key = "".join(text.split()).upper()
    if key[-1:] in _SYMBOL_SUFFIX:
        key = _SYMBOL_SUFFIX[key[-1]] + key[:-1]
    elif key[:1] in _SYMBOL_PREFIX:
        key = _SYMBOL_PREFIX[key[0]] + key[1:]
    if key not in _FROM_PALMER:
        raise _invalid(text, _PALMER_HELP)
    return _FROM_PALMER[key]


def _notation(notation: Notation | str) -> Notation:
    try:
        return Notation(notation.strip().lower() if isinstance(notation, str) else notation)
    except ValueError:
        accepted = ", ".join(n.value for n in Notation)
        raise ValueError(
            gettext(
                "Unknown tooth notation {notation}; use one of: {accepted}",
                notation=repr(notation),
                accepted=accepted,
            )
        ) from None


def parse(text: str | int, notation: Notation | str = Notation.UNIVERSAL) -> str:
    """Read a tooth written in `notation` and return its canonical Universal code."""
    match _notation(notation):
        case Notation.FDI:
            return from_fdi(text)
        case Notation.PALMER:
            return from_palmer(text)  # type: ignore[arg-type]
        case _:
            return normalize(text)


def label(code: str | int, notation: Notation | str) -> str:
    """Display label of a tooth: Universal "8" / "A", FDI "11" / "55", Palmer "UR1" / "URE"."""
    match _notation(notation):
        case Notation.FDI:
            return str(to_fdi(code))
        case Notation.PALMER:
            return to_palmer(code)
        case _:
            return normalize(code)


def tooth_name(code: str | int) -> str:
    """Plain-language name in the current language, e.g. "Upper right third molar", "Lower left
    primary canine", "ضرس العقل الأيمن العلوي"."""
    canonical = normalize(code)
    q, pos = _PLACE[canonical]
    kinds = _PRIMARY_NAMES if canonical in PRIMARY else _PERMANENT_NAMES
    return gettext(_QUADRANT_NAMES[q], tooth=gettext(kinds[pos - 1]))


def sort_key(code: str | int) -> tuple[int, int]:
    """Key that orders permanent teeth 1-32 before primary teeth A-T."""
    canonical = normalize(code)
    if canonical in PRIMARY:
        return 1, PRIMARY.index(canonical)
    return 0, PERMANENT.index(canonical)


def chart_rows() -> dict[str, list[str]]:
    """Teeth per chart row, left to right as the viewer facing the patient sees them."""
    return {
        "upper": list(PERMANENT[:16]),
        "lower": list(reversed(PERMANENT[16:])),
        "upper_primary": list(PRIMARY[:10]),
        "lower_primary": list(reversed(PRIMARY[10:])),
    }
