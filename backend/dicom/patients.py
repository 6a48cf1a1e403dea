"""Whether the patient written in a DICOM file is the patient chosen in the program.

A name matches when the words of one are all among the words of the other, whatever their
order, case and accents ("HADDAD^LAYLA" is Layla Haddad; a middle name written in one place
only still matches). The file's Patient ID matches the patient's serial number. One matching
is enough: x-ray programs keep their own numbering, and names are spelt differently. A file
that names no patient (anonymised) matches anyone.
"""

from __future__ import annotations

import re
import unicodedata

_WORD_SEPARATORS = re.compile(r"[\s^,.=_\-]+")


def name_words(name: str | None) -> frozenset[str]:
    """The words of a person's name, folded for comparison (DICOM's ^ separates them too)."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return frozenset(word for word in _WORD_SEPARATORS.split(plain.casefold()) if word)


def readable_name(dicom_name: str | None) -> str:
    """A DICOM person name as people write it: "HADDAD^LAYLA^M" becomes "LAYLA M HADDAD"."""
    alphabetic = (dicom_name or "").split("=")[0]
    parts = alphabetic.split("^")
    family, given, middle, prefix, suffix = (parts + [""] * 5)[:5]
    ordered = [prefix, given, middle, family, suffix]
    return " ".join(part.strip() for part in ordered if part.strip())


def same_patient(
    file_name: str | None, file_id: str | None, full_name: str, serial_number: str | None
) -> bool:
    """Whether a file naming `file_name` / `file_id` may be stored for the patient called
    `full_name` with `serial_number` without asking (see the module's rules)."""
    file_words, our_words = name_words(file_name), name_words(full_name)
    file_id = (file_id or "").strip()
    if not file_words and not file_id:
        return True
    if file_id and serial_number and file_id.casefold() == serial_number.strip().casefold():
        return True
    return bool(file_words and our_words) and (file_words <= our_words or our_words <= file_words)
