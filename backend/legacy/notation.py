"""Which tooth numbering a legacy database used. 21 is a tooth in both Universal and FDI and
means different teeth, so the answer comes from evidence (the schema's CHECK constraint,
numbers that exist in only one system) and is shown to the person, never guessed silently."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from typing import Any

from backend import teeth
from backend import validation as check
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.legacy.database import LegacyDatabase

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


def as_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


def detect_notation(database: LegacyDatabase) -> NotationEvidence:
    """The whole database's numbering, derived from the verdicts of its table generations
    (`detect_generation`): one numbering when every generation holding rows names the same one,
    else None, with the evidence of each generation."""
    found = [detect_generation(database, g) for g in GENERATIONS if generation_rows(database, g)]
    if not found:
        return NotationEvidence(
            UNIVERSAL,
            True,
            [gettext("no tooth numbers in use: the notation does not matter")],
            [],
        )
    evidence = [line for verdict in found for line in verdict.evidence]
    numbers = sorted({n for verdict in found for n in verdict.numbers})
    verdicts = {verdict.detected for verdict in found}
    if len(verdicts) == 1 and None not in verdicts:
        certain = all(verdict.certain for verdict in found)
        return NotationEvidence(verdicts.pop(), certain, evidence, numbers)
    if None not in verdicts:
        evidence.append(
            gettext("the table generations use different numberings: each is read in its own")
        )
    return NotationEvidence(None, False, evidence, numbers)


# "السن رقم 11", "tooth 11", "#11": a text that names a tooth by the earlier app's number.
_DIGIT = "[0-9\u0660-\u0669]"
_NAMED_NUMBER = re.compile(rf"(?:رقم|\btooth|#)\s*{_DIGIT}{{1,2}}(?!{_DIGIT})", re.I)
TEXT_COLUMNS = ("description", "notes", "treatment_details", "current_treatment", "next_treatment")


def numbered_texts(database: LegacyDatabase) -> list[str]:
    """The texts of treatment and image rows that name a tooth by number. They are imported
    as written, in the earlier app's numbering, which can differ from the one shown here."""
    found = []
    for generation in GENERATIONS.values():
        for table in generation:
            for row in database.rows(table):
                for column in TEXT_COLUMNS:
                    value = row.get(column)
                    if isinstance(value, str) and _NAMED_NUMBER.search(value):
                        found.append(value)
    return found


def chosen_notation(value: Any) -> str:
    """The notation to import with: "universal" or "fdi"."""
    return check.choice(value, "notation", IMPORT_NOTATIONS)


def canonical_tooth(value: Any, notation: str) -> str:
    """Our Universal code ("1".."32", "A".."T") of a legacy tooth number written in `notation`.
    Raises teeth.InvalidTooth for a number that is no tooth in that notation."""
    number = as_number(value)
    if number is None:
        raise teeth.InvalidTooth(gettext("Tooth {value} is not a whole number", value=repr(value)))
    return teeth.from_fdi(number) if notation == FDI else teeth.normalize(number)


def _sample(numbers: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


# ----- per table generation
# A clinic that started on an early version and updated keeps its early rows in dental_* and its
# later rows in tooth_*, each in its own numbering, so each generation is decided on its own.
GENERATIONS: dict[str, tuple[str, str]] = {
    "dental_treatments": ("dental_treatments", "dental_treatment_images"),
    "tooth_treatments": ("tooth_treatments", "tooth_treatment_images"),
}
MIRRORED, STANDARD = "mirrored", "standard"
EARLY_LAYOUTS = (MIRRORED, STANDARD)
_UNIVERSAL_CHECK = re.compile(
    r"CHECK\s*\(\s*tooth_number\s*>=\s*1\s+AND\s+tooth_number\s*<=\s*32\s*\)"
    r"|CHECK\s*\(\s*tooth_number\s+BETWEEN\s+1\s+AND\s+32\s*\)",
    re.I,
)
_RIGHT, _LEFT, _UPPER, _LOWER = "الأيمن", "الأيسر", "العلوي", "السفلي"


def generation_of(table: str) -> str:
    """The generation (its treatment table's name) a treatment or image table belongs to."""
    for generation, tables in GENERATIONS.items():
        if table in tables:
            return generation
    raise KeyError(table)


def _generation_numbers(database: LegacyDatabase, generation: str) -> list[int]:
    found: set[int] = set()
    for table in GENERATIONS[generation]:
        for row in database.rows(table):
            number = as_number(row.get("tooth_number"))
            if number is not None:
                found.add(number)
    return sorted(found)


def generation_rows(database: LegacyDatabase, generation: str) -> int:
    return sum(len(database.rows(t)) for t in GENERATIONS[generation])


def detect_generation(database: LegacyDatabase, generation: str) -> NotationEvidence:
    """Universal or FDI for one table generation, from its treatment table's CHECK constraint
    and the numbers its two tables use."""
    numbers = _generation_numbers(database, generation)
    check = database.create_sql.get(generation, "")
    evidence: list[str] = []
    schema_fdi = bool(_FDI_CHECK.search(check))
    schema_universal = bool(_UNIVERSAL_CHECK.search(check))
    if schema_fdi:
        evidence.append(
            gettext(
                "{generation} carries a CHECK constraint with the FDI ranges", generation=generation
            )
        )
    if schema_universal:
        evidence.append(
            gettext(
                "{generation} carries a CHECK constraint allowing 1-32 (Universal)",
                generation=generation,
            )
        )
    fdi_only = [n for n in numbers if n in _FDI_NUMBERS and n not in _UNIVERSAL_NUMBERS]
    universal_only = [n for n in numbers if n in _UNIVERSAL_NUMBERS and n not in _FDI_NUMBERS]
    neither = [n for n in numbers if n not in _FDI_NUMBERS and n not in _UNIVERSAL_NUMBERS]
    if fdi_only:
        evidence.append(
            gettext("numbers that exist only in FDI: {sample}", sample=_sample(fdi_only))
        )
    if universal_only:
        evidence.append(
            gettext(
                "numbers that exist only in Universal: {sample}", sample=_sample(universal_only)
            )
        )
    if neither:
        evidence.append(
            gettext("numbers that are teeth in neither system: {sample}", sample=_sample(neither))
        )
    says_fdi = schema_fdi or bool(fdi_only)
    says_universal = schema_universal or bool(universal_only)
    if says_fdi and says_universal:
        evidence.append(
            gettext(
                "the evidence conflicts: choose the notation of {generation} yourself",
                generation=generation,
            )
        )
        return NotationEvidence(None, False, evidence, numbers)
    if says_fdi:
        return NotationEvidence(FDI, True, evidence, numbers)
    if says_universal:
        return NotationEvidence(UNIVERSAL, True, evidence, numbers)
    if numbers:
        evidence.append(
            gettext(
                "every number in use ({sample}) is a tooth in both systems and no CHECK "
                "constraint decides: most likely Universal (the early versions)",
                sample=_sample(numbers),
            )
        )
    else:
        evidence.append(gettext("no tooth numbers in use: the notation does not matter"))
    return NotationEvidence(UNIVERSAL, not numbers, evidence, numbers)


def named_side(name: Any) -> tuple[str, str] | None:
    """("upper" | "lower", "right" | "left") as the early app's Arabic tooth name says it, or
    None when the name does not say both (the FDI-era names do not)."""
    text = str(name or "")
    jaw = "upper" if _UPPER in text else "lower" if _LOWER in text else None
    side = "right" if _RIGHT in text else "left" if _LEFT in text else None
    return (jaw, side) if jaw and side else None


def standard_side(code: str) -> tuple[str, str] | None:
    """Jaw and side of one of our permanent Universal codes ("1".."32")."""
    if not code.isdigit():
        return None
    n = int(code)
    if n <= 16:
        return ("upper", "right" if n <= 8 else "left")
    return ("lower", "left" if n <= 24 else "right")


@dataclass
class LayoutEvidence:
    """How the early chart laid out the lower arch, from the rows' tooth names."""

    detected: str
    certain: bool
    evidence: list[str] = field(default_factory=list)
    affected: int = 0  # rows with a lower-arch number (17-32) in the generation

    def as_dict(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "certain": self.certain,
            "evidence": list(self.evidence),
            "affected": self.affected,
        }


def detect_layout(database: LegacyDatabase, generation: str) -> LayoutEvidence:
    """Mirrored (the early chart drew 17 as the lower right third molar: standard 49 - n) or
    standard, for a generation read as Universal, from what its tooth names say of the lower
    arch. Without names the standard layout is kept and the verdict is marked unsure."""
    mirrored = standard = affected = 0
    for table in GENERATIONS[generation]:
        for row in database.rows(table):
            number = as_number(row.get("tooth_number"))
            if number is None or not 17 <= number <= 32:
                continue
            affected += 1
            said = named_side(row.get("tooth_name"))
            if said is None or said[0] != "lower":
                continue
            if said == standard_side(str(number)):
                standard += 1
            elif said == standard_side(str(49 - number)):
                mirrored += 1
    evidence = []
    if mirrored:
        evidence.append(
            gettext(
                "{mirrored} lower-arch tooth names put the number on the mirrored side",
                mirrored=mirrored,
            )
        )
    if standard:
        evidence.append(
            gettext(
                "{standard} lower-arch tooth names agree with standard Universal", standard=standard
            )
        )
    if mirrored > standard:
        return LayoutEvidence(MIRRORED, not standard, evidence, affected)
    if standard:
        return LayoutEvidence(STANDARD, not mirrored, evidence, affected)
    if affected:
        evidence.append(gettext("no tooth name says the side: the standard layout is assumed"))
    return LayoutEvidence(STANDARD, not affected, evidence, affected)


@dataclass
class NotationDecision:
    """How each table generation's numbers are read: its notation and, for Universal, whether
    its lower arch was drawn mirrored."""

    notations: dict[str, str]
    layouts: dict[str, str] = field(default_factory=dict)
    with_rows: tuple[str, ...] = ()  # the generations that hold rows (the ones described)

    def notation_of(self, table: str) -> str:
        return self.notations[generation_of(table)]

    def mirrored(self, table: str) -> bool:
        generation = generation_of(table)
        return self.notations[generation] == UNIVERSAL and self.layouts.get(generation) == MIRRORED

    def tooth(self, table: str, value: Any) -> str:
        """Our code of a legacy number in `table`. Raises teeth.InvalidTooth."""
        notation = self.notation_of(table)
        number = as_number(value)
        if number is not None and self.mirrored(table) and 17 <= number <= 32:
            return teeth.normalize(49 - number)
        return canonical_tooth(value, notation)

    def describe(self) -> str:
        shown = {g: n for g, n in self.notations.items() if g in self.with_rows}
        shown = shown or self.notations
        if len(set(shown.values())) == 1 and not any(
            self.layouts.get(g) == MIRRORED for g in shown
        ):
            return next(iter(shown.values()))
        parts = []
        for generation, notation in shown.items():
            layout = self.layouts.get(generation)
            mirrored = notation == UNIVERSAL and layout == MIRRORED
            parts.append(f"{generation}={notation}{' (lower arch mirrored)' if mirrored else ''}")
        return ", ".join(parts)


def table_choices(value: Any) -> dict[str, str]:
    """Per-generation notations from `{"dental_treatments": "universal"}` or a list of
    "dental_treatments=universal" texts. Either table of a generation may name it."""
    if value in (None, "", [], {}):
        return {}
    items = (
        value.items()
        if isinstance(value, dict)
        else (str(v).split("=", 1) if "=" in str(v) else (str(v), "") for v in value)
    )
    chosen: dict[str, str] = {}
    for table, notation in items:
        try:
            generation = generation_of(str(table).strip())
        except KeyError:
            raise ValidationError(
                gettext(
                    "'{table}' is not one of: {choices}.",
                    table=table,
                    choices=", ".join(GENERATIONS),
                ),
                field="table_notation",
            ) from None
        chosen[generation] = chosen_notation(notation)
    return chosen


def chosen_layout(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return check.choice(value, "early_layout", EARLY_LAYOUTS)


def reading_choices(
    notation: Any = None, table_notation: Any = None, early_layout: Any = None
) -> dict[str, Any]:
    """The person's choices of how to read the earlier app's teeth, checked, as the importer
    takes them: `notation` for every table, `table_notation` per table generation (a mapping,
    or "table=notation" texts as the command line gives them), `early_layout` for the early
    chart's lower arch. Raises ValidationError naming the bad choice."""
    if table_notation not in (None, "", [], {}) and not isinstance(table_notation, dict | list):
        raise ValidationError(
            gettext("table_notation maps a table to its notation."), field="table_notation"
        )
    return {
        "notation": chosen_notation(notation) if notation not in (None, "") else None,
        "tables": table_choices(table_notation),
        "early_layout": chosen_layout(early_layout),
    }


def add_reading_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The command-line options for `reading_choices`; `what` names the data they apply to."""
    parser.add_argument(
        "--notation",
        choices=IMPORT_NOTATIONS,
        help=gettext(
            "how the earlier app numbered teeth in {what}, in every table (default: as detected "
            "per table generation, when certain)",
            what=what,
        ),
    )
    parser.add_argument(
        "--table-notation",
        action="append",
        default=[],
        metavar="TABLE=NOTATION",
        help=gettext(
            "the notation of one table generation ({generations}), e.g. "
            "dental_treatments=universal; repeat for the other",
            generations=", ".join(GENERATIONS),
        ),
    )
    parser.add_argument(
        "--early-layout",
        choices=EARLY_LAYOUTS,
        help=gettext(
            "the early chart's lower arch: mirrored (17 = lower right third molar) or standard "
            "Universal (default: as the tooth names say)"
        ),
    )


def reading_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """`reading_choices` of the options `add_reading_arguments` added."""
    return reading_choices(args.notation, args.table_notation, args.early_layout)


def decide(
    database: LegacyDatabase,
    notation: str | None = None,
    tables: dict[str, str] | None = None,
    early_layout: str | None = None,
    *,
    require_certain: bool = False,
) -> NotationDecision:
    """The reading of every generation: `tables` first, then `notation` for all, then the
    evidence. With `require_certain`, a generation holding rows whose evidence does not decide
    (and that no choice covers) raises ValidationError naming what to choose."""
    tables = tables or {}
    notations: dict[str, str] = {}
    layouts: dict[str, str] = {}
    for generation in GENERATIONS:
        if generation in tables:
            notations[generation] = chosen_notation(tables[generation])
        elif notation:
            notations[generation] = chosen_notation(notation)
        else:
            found = detect_generation(database, generation)
            if found.detected is None or (
                require_certain and not found.certain and generation_rows(database, generation)
            ):
                raise ValidationError(
                    gettext(
                        "The tooth notation of {generation} is not certain ({evidence}): choose it "
                        "(--table-notation {generation}=universal or fdi).",
                        generation=generation,
                        evidence="; ".join(found.evidence),
                    ),
                    field="table_notation",
                )
            notations[generation] = found.detected
        if notations[generation] == UNIVERSAL:
            layouts[generation] = (
                chosen_layout(early_layout) or detect_layout(database, generation).detected
            )
    with_rows = tuple(g for g in GENERATIONS if generation_rows(database, g))
    return NotationDecision(notations, layouts, with_rows)
