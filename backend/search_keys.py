"""Search keys: the one normalisation of names, descriptions and phone numbers, used both for
the keys stored beside each row and for what the user types, so that the two always agree.

Text (`fold_text`): lower case (case folding); accents and every other combining mark dropped
("González" -> "gonzalez"), which for Arabic drops the tashkeel and the hamza carried by a
letter; the Arabic letter variants written interchangeably made one (alef with hamza, madda or
wasla -> alef, taa marbuta -> haa, alef maqsura and Persian yeh -> yeh, waw and yeh with hamza
-> waw and yeh, a lone hamza and the tatweel dropped, Persian keheh -> kaf); digits of every
script (Arabic-Indic, Eastern Arabic-Indic...) written as ASCII digits; invisible direction and
joining marks dropped; every other character that is not a letter or digit a word break.
Matching ignores the breaks themselves (`compact`), so "abd allah" and "Abdallah" meet.

Phone numbers (`phone_key`, `phone_query`) are compared on their digits, whatever the
punctuation and the script of the digits. A number is stored in two forms, each a whole word of
the key: its digits as written (after an international prefix "+" or "00") and its national
significant number, that is without the international prefix and country code, or without the
single trunk "0" of a national number. Country codes are read by the ITU-T E.164 zones: "1" and
"7" have one digit, the two-digit codes are listed in `_TWO_DIGIT_CODES`, every other code has
three. The digits of the serial number are stored beside them (`digits_key`). A query of
digits matches a patient when:
- its digits occur anywhere in a stored form (so a partial number, or the last 7 digits read
  off a card, finds the number whatever prefix it was written with, and digits find serials);
- it names a national significant number explicitly (written "+971 50...", "00971 50..." or
  "050...") and a stored number begins with it, or holds it when it has 7 digits or more;
- its digits, written without a prefix, are a country code followed by at least 7 digits
  ("971501234567") and a stored number holds those digits.
Known limits: trunk prefixes other than "0" (such as Russia's "8") are kept as digits, and
numbers whose national form keeps its "0" after the country code (Italy) still match by their
digits but not by the prefix rules. A whole number typed without its "+" whose last 7+ digits
are another number's also finds that one (shown after or before it by name).

Keeping the keys: see backend.models (every write of the program) and `refresh_search_keys`
(rows written any other way; the migration that added the keys; a change of these rules).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

# Letters that no decomposition reaches, after NFKD has split letters from their marks.
_LETTERS = str.maketrans(
    {
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0672": "\u0627",  # alef with wavy hamza above
        "\u0673": "\u0627",  # alef with wavy hamza below
        "\u0629": "\u0647",  # taa marbuta -> haa
        "\u0649": "\u064a",  # alef maqsura -> yeh
        "\u06cc": "\u064a",  # Persian yeh -> yeh
        "\u06a9": "\u0643",  # keheh -> kaf
        "\u0621": "",  # lone hamza
        "\u0640": "",  # tatweel
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
    }
)


_folded_chars: dict[str, str] = {}  # each character's folding, decided once


def _fold_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf"):
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category[0] in "LN" or category == "Mc":
        return char.translate(_LETTERS)
    return " "


def fold_text(value: str | None) -> str:
    """`value` as its search words, separated by single spaces (see the module's contract)."""
    if not value:
        return ""
    characters = []
    for char in unicodedata.normalize("NFKD", value.casefold()):
        folded = _folded_chars.get(char)
        if folded is None:
            folded = _folded_chars.setdefault(char, _fold_char(char))
        characters.append(folded)
    return " ".join("".join(characters).split())


def compact(folded: str) -> str:
    """A folded text without its word breaks: what matching compares."""
    return folded.replace(" ", "")


def patient_text_key(full_name: str | None, serial_number: str | None) -> str:
    """The stored text key of a patient: name and serial number, each folded and compact
    (matching compares compact text; a space keeps a word from running into the serial)."""
    return " ".join(
        part for part in (compact(fold_text(full_name)), compact(fold_text(serial_number))) if part
    )


def description_key(description: str | None) -> str:
    """The stored text key of an image: its description, folded and compact."""
    return compact(fold_text(description))


# ---- phone numbers ----------------------------------------------------------------------

_ONE_DIGIT_CODES = frozenset({"1", "7"})
# fmt: off
_TWO_DIGIT_CODES = frozenset({
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
})
# fmt: on
_MIN_NATIONAL_DIGITS = 7  # a country code is guessed only in front of a whole number
_MIN_PREFIX_DIGITS = 2  # "+971 5" is not yet a number to look for at the start of others
_NUMBER_SEPARATORS = re.compile(r"[,;|\n]+|/")
_PHONE_TOKEN = re.compile(r"^\+?[0-9().\-/]*[0-9][0-9().\-/]*$")


def _ascii_phone(value: str) -> str:
    """Digits of any script as ASCII, direction marks dropped, "+" in any width kept."""
    out = []
    for char in unicodedata.normalize("NFKC", value):
        category = unicodedata.category(char)
        if category == "Nd":
            out.append(str(unicodedata.decimal(char)))
        elif category != "Cf":
            out.append(char)
    return "".join(out)


def _split_country_code(digits: str) -> tuple[str, str]:
    """(country code, the rest) of international digits, by the E.164 zones."""
    if digits[:1] in _ONE_DIGIT_CODES:
        size = 1
    elif digits[:2] in _TWO_DIGIT_CODES:
        size = 2
    else:
        size = 3
    return digits[:size], digits[size:]


@dataclass(frozen=True)
class _Number:
    digits: str  # as written, after an international prefix
    national: str  # the national significant number
    explicit: bool  # the national number is known from a prefix written ("+", "00", "0")


def _read_number(written: str) -> _Number:
    text = _ascii_phone(written).lstrip(" (")
    digits = "".join(char for char in text if char.isdigit())
    if text.startswith("+"):
        return _Number(digits, _split_country_code(digits)[1], True)
    if digits.startswith("00"):
        return _Number(digits[2:], _split_country_code(digits[2:])[1], True)
    if digits.startswith("0"):
        return _Number(digits, digits[1:], True)
    return _Number(digits, digits, False)


def digits_key(phone: str | None, serial_number: str | None) -> str:
    """The stored digits key of a patient: the forms of its phone numbers (`phone_key`) and the
    digits of its serial number, so that a query of digits needs this key only."""
    serial = "".join(char for char in fold_text(serial_number) if char.isdigit())
    phones = phone_key(phone)
    if not serial or f" {serial} " in phones:
        return phones
    return f"{phones.rstrip()} {serial} " if phones else f" {serial} "


def phone_key(value: str | None) -> str:
    """The stored phone key: every form of every number in `value`, each a word between
    spaces (" 971501234567 501234567 "). Numbers may be separated by , ; | or a new line; a
    "/" is read both ways (an area code "030/1234567" or two numbers)."""
    if not value:
        return ""
    forms: list[str] = []
    pieces = _NUMBER_SEPARATORS.split(value)
    parts = [value, *pieces] if len(pieces) > 1 else [value]
    for part in parts:
        number = _read_number(part)
        for form in (number.digits, number.national):
            if form and form not in forms:
                forms.append(form)
    return f" {' '.join(forms)} " if forms else ""


@dataclass(frozen=True)
class PhoneQuery:
    """LIKE patterns, on the phone key, of which any one makes a match."""

    patterns: list[str] = field(default_factory=list)
    digits: str = ""


def is_phone_like(token: str) -> bool:
    """True for a word the user types as (part of) a phone number or serial: digits with phone
    punctuation only ("+971", "(050)", "555-0142", "٠٥٠")."""
    return bool(_PHONE_TOKEN.match(_ascii_phone(token)))


def phone_query(written: str) -> PhoneQuery:
    """The patterns that find `written` (a phone-like query) in digits keys. A whole national
    number (7 digits or more) is looked for anywhere: that one pattern finds every key the
    stricter ones would (the national number ends the digits as written), at one test per row
    instead of two, and another number ending in the same 7+ digits is rare."""
    number = _read_number(written)
    if not number.digits:
        return PhoneQuery()
    national = number.national
    if not number.explicit:
        _code, rest = _split_country_code(number.digits)
        national = rest if len(rest) >= _MIN_NATIONAL_DIGITS else ""
    if len(national) >= _MIN_NATIONAL_DIGITS:
        return PhoneQuery([f"%{national}%"], number.digits)
    patterns = [f"%{number.digits}%"]
    if number.explicit and len(national) >= _MIN_PREFIX_DIGITS:
        patterns.append(f"% {national}%")
    return PhoneQuery(patterns, number.digits)


# ---- the query --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One part of a query, all of whose parts must match: a text word (folded, compact) for the
    text key, or a phone-like run of words (`phone` set) for the digits key."""

    text: str
    phone: PhoneQuery | None = None


def query_terms(query: str | None) -> list[Term]:
    """The terms of what the user typed. Consecutive phone-like words make one term ("+971 50
    123 4567"); every other word is a term of its own."""
    terms: list[Term] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            written = " ".join(run)
            phone = phone_query(written)
            if phone.digits:
                terms.append(Term(phone.digits, phone))
            run.clear()

    for word in (query or "").split():
        if is_phone_like(word):
            run.append(word)
            continue
        end_run()
        folded = compact(fold_text(word))
        if folded:
            terms.append(Term(folded))
    end_run()
    return terms


def like_contains(text: str) -> str:
    """A LIKE pattern (escape character "\\") for `text` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---- keeping the stored keys right --------------------------------------------------------

# Only the columns the keys are made of: usable from the migration that added them on.
_patients = sa.table(
    "patients",
    sa.column("id"),
    sa.column("full_name"),
    sa.column("serial_number"),
    sa.column("phone"),
    sa.column("search_text"),
    sa.column("search_phone"),
)
_images = sa.table(
    "images", sa.column("id"), sa.column("description"), sa.column("search_description")
)


def refresh_search_keys(bind: Session | Connection) -> int:
    """Recompute every stored search key from its row's own values and write those that
    differ; returns how many rows changed. The program's own writes keep the keys right (see
    backend.models); call this after rows were written some other way (a restore that copies
    columns, a bulk load), or from a migration when this normalisation changes. Runs in the
    caller's transaction: the caller commits."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    patients = []
    for row in connection.execute(sa.select(_patients)):
        text = patient_text_key(row.full_name, row.serial_number)
        phone = digits_key(row.phone, row.serial_number)
        if (text, phone) != (row.search_text, row.search_phone):
            patients.append({"key_id": row.id, "new_text": text, "new_phone": phone})
    images = [
        {"key_id": row.id, "new_text": key}
        for row in connection.execute(sa.select(_images))
        if (key := description_key(row.description)) != row.search_description
    ]
    _update(
        connection,
        sa.update(_patients)
        .where(_patients.c.id == sa.bindparam("key_id"))
        .values(search_text=sa.bindparam("new_text"), search_phone=sa.bindparam("new_phone")),
        patients,
    )
    _update(
        connection,
        sa.update(_images)
        .where(_images.c.id == sa.bindparam("key_id"))
        .values(search_description=sa.bindparam("new_text")),
        images,
    )
    return len(patients) + len(images)


def _update(connection: Connection, statement: sa.Update, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    for start in range(0, len(batch), 1000):
        connection.execute(statement, batch[start : start + 1000])
