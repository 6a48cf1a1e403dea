"""The Arabic catalog against the source: what extraction finds (Python, templates, JavaScript)
is exactly what the catalog holds, every message translated, the compiled .mo the same as the
.po, and the plural rule Arabic's six forms."""

from __future__ import annotations

import ast
import gettext as stdlib_gettext
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from backend import i18n

ROOT = Path(__file__).resolve().parents[2]
PO_FILE = ROOT / "backend" / "translations" / "ar" / "LC_MESSAGES" / "messages.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# As in scripts/i18n.sh: Babel's defaults (gettext, ngettext, _...) and ours.
KEYWORDS = ["N_", "lazy_gettext", "t", "tn:1,2"]
ARABIC_PLURAL_FORMS = (
    "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : "
    "n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);"
)
# n -> Arabic plural form: zero, one, two, few (3-10), many (11-99), other (100-102, ...).
EXPECTED_FORMS = {0: 0, 1: 1, 2: 2, 3: 3, 10: 3, 11: 4, 99: 4, 100: 5, 101: 5, 102: 5, 103: 3}


def _extracted() -> dict[str | tuple[str, str], list[str]]:
    """Every message the sources hold, with the files it appears in."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(KEYWORDS)}
    found: dict[str | tuple[str, str], list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, strip_comment_tags=True
    ):
        key = message if isinstance(message, str) else tuple(message[:2])
        found.setdefault(key, []).append(filename)
    return found


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


@pytest.fixture(scope="module")
def catalog():
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="ar")


def _catalog_ids(catalog) -> set[str | tuple[str, str]]:
    return {message.id for message in catalog if message.id}


def test_extraction_covers_the_backend_and_the_templates_and_reads_javascript(extracted):
    files = {Path(name).as_posix() for names in extracted.values() for name in names}
    assert any(name.startswith("backend/api/") for name in files)
    assert "backend/teeth.py" in files and "backend/cli.py" in files
    assert len(extracted) > 200
    # the JavaScript extractor runs over web/static/js (the page's texts are converted next):
    # i18n.js itself documents the convention without any extractable text of its own
    assert not any(name.startswith("web/static/js/i18n.js") for name in files)


def test_every_text_the_page_passes_to_t_or_tn_is_extracted(extracted):
    """Babel's JavaScript reader misses some calls (one inside a `${...}` of a template literal,
    for one); a text it misses is never translated. Every literal first argument of t()/tn() in
    web/static/js must be among the extracted messages."""
    singulars = {key if isinstance(key, str) else key[0] for key in extracted}
    missed = []
    for path in sorted((ROOT / "web" / "static" / "js").glob("*.js")):
        if path.name == "i18n.js":  # documents the convention with example calls
            continue
        text = path.read_text(encoding="utf-8")
        for found in re.finditer(r'\bt(?:n)?\(\s*"((?:[^"\\]|\\.)*)"', text):
            message = found.group(1).replace('\\"', '"')
            if message not in singulars:
                line = text.count("\n", 0, found.start()) + 1
                missed.append(f"{path.name}:{line}: {message}")
    assert missed == [], "write the call outside the template literal: " + "; ".join(missed)


def test_every_extracted_message_is_in_the_arabic_catalog_and_nothing_stale(extracted, catalog):
    missing = sorted(map(str, set(extracted) - _catalog_ids(catalog)))
    stale = sorted(map(str, _catalog_ids(catalog) - set(extracted)))
    assert missing == [], f"run scripts/i18n.sh all and translate: {missing[:10]}"
    assert stale == [], f"run scripts/i18n.sh update: no longer in the sources: {stale[:10]}"


def test_every_message_is_translated_into_arabic(catalog):
    untranslated = []
    for message in catalog:
        if not message.id:
            continue
        plural = isinstance(message.id, tuple)
        forms = message.string if plural else (message.string,)
        # an empty form leaves the whole message out of the compiled catalog: English again
        complete = len(forms) == (6 if plural else 1) and all(forms)
        arabic = all(re.search(r"[\u0600-\u06FF]", form) for form in forms)
        if message.fuzzy or not complete or not arabic:
            untranslated.append(message.id)
    assert untranslated == []


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_translations_use_the_placeholders_of_their_source(catalog):
    """A placeholder the source does not fill would raise at run time; one left out would drop
    a path or a name from the message (plural forms may leave out the count itself)."""
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            source = _placeholders(message.id[0]) | _placeholders(message.id[1]) | {"n"}
            if any(not _placeholders(form) <= source for form in message.string):
                wrong.append(message.id)
            if any(_placeholders(form) | {"n"} != source for form in message.string[1:]):
                wrong.append(message.id)
        elif _placeholders(message.string) != _placeholders(message.id):
            wrong.append(message.id)
    assert wrong == []


def test_the_plural_rule_is_arabics_six_forms(catalog):
    assert catalog.plural_forms == ARABIC_PLURAL_FORMS
    assert i18n.plural_forms("ar") == ARABIC_PLURAL_FORMS
    with MO_FILE.open("rb") as handle:
        compiled = stdlib_gettext.GNUTranslations(handle)
    for n, form in EXPECTED_FORMS.items():
        assert compiled.plural(n) == form, n


def test_plural_messages_take_the_form_of_each_count(catalog):
    singular, plural = "{current} of {n} file", "{current} of {n} files"
    forms = catalog.get(singular).string
    with i18n.use_locale("ar"):
        for n in (0, 1, 2, 3, 11, 100, 101):
            shown = i18n.ngettext(singular, plural, n, current=1)
            assert shown == forms[EXPECTED_FORMS[n]].format(current=1, n=n)
    assert len(set(forms[1:])) == 5  # one, two, few, many and other each worded for itself
    with i18n.use_locale("en"):
        assert i18n.ngettext(singular, plural, 1, current=1) == "1 of 1 file"
        assert i18n.ngettext(singular, plural, 2, current=1) == "1 of 2 files"


def test_the_compiled_catalog_is_the_po_file(catalog):
    """The .mo is committed (the bundle ships it): it must say what the .po says."""
    with MO_FILE.open("rb") as handle:
        compiled = stdlib_gettext.GNUTranslations(handle)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for n, form in EXPECTED_FORMS.items():
                shown = compiled.ngettext(message.id[0], message.id[1], n)
                assert shown == message.string[form], (message.id, n)
        else:
            assert compiled.gettext(message.id) == message.string, message.id


def _calls_with_placeholders() -> list[tuple[str, int, set[str], set[str]]]:
    """(file, line, placeholders of the message, names given) of every gettext/ngettext call
    in the backend whose message is written out."""
    found = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            count = {"gettext": 1, "ngettext": 2}.get(node.func.id)
            texts = node.args[:count] if count else []
            if not texts or not all(isinstance(t, ast.Constant) for t in texts):
                continue
            wanted = set().union(*(_placeholders(t.value) for t in texts))
            given = {keyword.arg for keyword in node.keywords if keyword.arg}
            if node.func.id == "ngettext":
                given.add("n")
            found.append((path.relative_to(ROOT).as_posix(), node.lineno, wanted, given))
    return found


def test_every_message_gets_the_values_its_placeholders_name():
    """A placeholder without its value raises KeyError when the message is shown; a value no
    placeholder names is lost; without any value, the braces would show as they are."""
    calls = _calls_with_placeholders()
    assert len(calls) > 250
    wrong = [
        (file, line, sorted(wanted ^ given))
        for file, line, wanted, given in calls
        if wanted != given and not (wanted <= given and given - wanted == {"n"})
    ]
    assert wrong == []


# Exceptions whose text is for the log or is wrapped in a translated message; every other one
# the backend raises carries a text the person sees (an API error, a refused file, a backup
# that cannot be restored).
INTERNAL_EXCEPTIONS = {
    "ValueError",
    "RuntimeError",
    "OSError",
    "FileExistsError",
    "UnsafePath",
    "pyzipper.BadZipFile",
    "ReceiveRefused",
    "Undecryptable",  # always turned into a translated DamagedFile or BackupInvalid
}


def _raises_of_untranslated_text(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        name = ast.unparse(node.exc.func)
        message = node.exc.args[0] if node.exc.args else None
        if _written_out(message) and name not in INTERNAL_EXCEPTIONS:
            found.append((node.lineno, name))
    return found


def _written_out(node: ast.expr | None) -> bool:
    """A literal, an f-string, or texts joined with + of which one is."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _written_out(node.left) or _written_out(node.right)
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "backend").rglob("*.py")), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_every_refusal_the_backend_raises_is_translated(path):
    """A message written out (a literal or an f-string) where the person sees it stays English
    in Arabic: it must go through gettext/ngettext (or be a translated constant)."""
    assert _raises_of_untranslated_text(path.read_text(encoding="utf-8")) == []


def test_the_refusal_check_sees_a_written_out_message():
    source = (
        "raise InvalidImage('The file is empty.')\n"
        "raise NotFound(f'Frame {n} does not exist')\n"
        "raise InvalidImage(gettext('The file is empty.'))\n"
        "raise InvalidImage(MSG_DAMAGED)\n"
        "raise ValueError(f'element {tag} out of order')\n"
        "raise Conflict(gettext('Busy.') + f' ({n} left)')\n"
    )
    found = _raises_of_untranslated_text(source)
    assert found == [(1, "InvalidImage"), (2, "NotFound"), (6, "Conflict")]
