"""Which tooth numbering a legacy database used. 21 is a tooth in both Universal and FDI and
means different teeth, so the answer comes from evidence (the schema's CHECK constraint,
numbers that exist in only one system) and is shown to the person, never guessed silently."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from backend import teeth
from backend.errors import ValidationError
from backend.legacy.database import IMAGE_TABLES, TREATMENT_TABLES, LegacyDatabase

UNIVERSAL, FDI = teeth.Notation.UNIVERSAL.value, teeth.Notation.FDI.value
IMPORT_NOTATIONS = (UNIVERSAL, FDI)
_FDI_NUMBERS = frozenset(teeth.to_fdi(code) for code in teeth.ALL_TEETH)
_UNIVERSAL_NUMBERS = frozenset(range(1, 33))
# An FDI CHECK lists ranges such as "BETWEEN 11 AND 18" or "51 AND 55" on tooth_number.
_FDI_CHECK = re.compile(r"CHECK\s*\(.*tooth_number.*\b(?:11\b.*\b18|51\b.*\b55)\b", re.I | re.S)


@dataclass
class NotationEvidence:
    """The verdict (`detected` is None when the evidence does not decide) and why."""

    detected: str | None
    certain: bool
    evidence: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "certain": self.certain,
            "evidence": list(self.evidence),
            "numbers": list(self.numbers),
        }


def tooth_numbers(database: LegacyDatabase) -> list[int]:
    """Every distinct whole tooth number in the treatment and image tables."""
    found: set[int] = set()
    for table in (*TREATMENT_TABLES, *IMAGE_TABLES):
        for row in database.rows(table):
            number = as_number(row.get("tooth_number"))
            if number is not None:
                found.add(number)
    return sorted(found)


def as_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


def detect_notation(database: LegacyDatabase) -> NotationEvidence:
    """Decide Universal or FDI from the schema and the numbers in use."""
    numbers = tooth_numbers(database)
    evidence: list[str] = []
    check = database.create_sql.get("tooth_treatments", "")
    schema_says_fdi = bool(_FDI_CHECK.search(check))
    if schema_says_fdi:
        evidence.append("tooth_treatments carries a CHECK constraint with the FDI ranges")
    fdi_only = [n for n in numbers if n in _FDI_NUMBERS and n not in _UNIVERSAL_NUMBERS]
    universal_only = [n for n in numbers if n in _UNIVERSAL_NUMBERS and n not in _FDI_NUMBERS]
    neither = [n for n in numbers if n not in _FDI_NUMBERS and n not in _UNIVERSAL_NUMBERS]
    if fdi_only:
        evidence.append(f"numbers that exist only in FDI: {_sample(fdi_only)}")
    if universal_only:
        evidence.append(f"numbers that exist only in Universal: {_sample(universal_only)}")
    if neither:
        evidence.append(f"numbers that are teeth in neither system: {_sample(neither)}")
    says_fdi = schema_says_fdi or bool(fdi_only)
    if says_fdi and universal_only:
        evidence.append("the evidence conflicts: choose the notation yourself")
        return NotationEvidence(None, False, evidence, numbers)
    if says_fdi:
        return NotationEvidence(FDI, True, evidence, numbers)
    if universal_only:
        return NotationEvidence(UNIVERSAL, True, evidence, numbers)
    if numbers:
        evidence.append(
            f"every number in use ({_sample(numbers)}) is a tooth in both systems "
            "and no FDI CHECK constraint is present: most likely Universal (the early versions)"
        )
    else:
        evidence.append("no tooth numbers in use: the notation does not matter")
    return NotationEvidence(UNIVERSAL, not numbers, evidence, numbers)


def chosen_notation(value: Any) -> str:
    """The notation to import with: "universal" or "fdi"."""
    text = str(value or "").strip().lower()
    if text not in IMPORT_NOTATIONS:
        raise ValidationError(
            f"Tooth notation '{value}' is not one of: {', '.join(IMPORT_NOTATIONS)}.",
            field="notation",
        )
    return text


def canonical_tooth(value: Any, notation: str) -> str:
    """Our Universal code ("1".."32", "A".."T") of a legacy tooth number written in `notation`.
    Raises teeth.InvalidTooth for a number that is no tooth in that notation."""
    number = as_number(value)
    if number is None:
        raise teeth.InvalidTooth(f"Tooth {value!r} is not a whole number")
    return teeth.from_fdi(number) if notation == FDI else teeth.normalize(number)


def _sample(numbers: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")
