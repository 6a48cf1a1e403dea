"""The program's languages: English, the source text, and Arabic, a gettext catalog compiled
from backend/translations/ar/LC_MESSAGES/messages.po (scripts/i18n.sh extracts, updates and
compiles it).

Which language a text is in:
- in a request of the web app: the language chosen on this PC in Settings, else the browser's
  `Accept-Language`, else the OS's language (see backend.api.i18n, which resolves it);
- elsewhere (the command line, background jobs): the process's language, set at start from the
  same PC setting or the OS (`set_process_locale`);
- inside `use_locale(...)`: that language, whatever the above says.

Messages are written with `{name}` placeholders and the values as keyword arguments, so that a
translation may put them in another order: `gettext("Patient {name} not found.", name=n)`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gettext as stdlib_gettext
import locale as stdlib_locale
import os
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

from flask import current_app, g, has_request_context

from backend.paths import resource_root

SOURCE_LOCALE = "en"
SUPPORTED: tuple[str, ...] = ("en", "ar")
RIGHT_TO_LEFT = frozenset({"ar"})
DOMAIN = "messages"
SYSTEM = "system"
"""The setting value that means "follow the OS" (language and theme)."""
LANGUAGE_CHOICES: tuple[str, ...] = (SYSTEM, *SUPPORTED)
THEME_CHOICES: tuple[str, ...] = (SYSTEM, "light", "dark")
DIGIT_CHOICES: tuple[str, ...] = ("latin", "arabic")
"""Digits numbers are shown in: 0-9, or the Arabic-Indic ٠-٩."""
ENGLISH_PLURAL_FORMS = "nplurals=2; plural=(n != 1);"
REQUEST_RESOLVER = "dental_locale_resolver"
"""Key in `app.extensions` of the function that picks the language of the current request."""

_process_locale = SOURCE_LOCALE
_override: ContextVar[str | None] = ContextVar("dental_locale_override", default=None)


def translations_dir() -> Path:
    return resource_root() / "backend" / "translations"


@functools.cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalog of `locale`; English (and anything unknown) is the source text."""
    if locale == SOURCE_LOCALE or locale not in SUPPORTED:
        return stdlib_gettext.NullTranslations()
    path = translations_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as handle:
        return stdlib_gettext.GNUTranslations(handle)


def supported(code: str | None) -> str | None:
    """The supported language a language tag names ("ar-SA", "ar_EG.UTF-8", "EN") or None."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].split(".")[0].lower()
    return primary if primary in SUPPORTED else None


def direction(locale: str) -> str:
    """ "rtl" or "ltr": the writing direction of `locale`."""
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"


def current_locale() -> str:
    """The language texts are produced in right now (see the module's docstring)."""
    override = _override.get()
    if override:
        return override
    if has_request_context():
        resolver: Callable[[], str] | None = current_app.extensions.get(REQUEST_RESOLVER)
        if resolver is not None:
            if "dental_locale" not in g:
                g.dental_locale = resolver()
            locale: str = g.dental_locale
            return locale
    return _process_locale


def forget_request_locale() -> None:
    """The current request picks its language again (after the setting changed)."""
    if has_request_context():
        g.pop("dental_locale", None)


def set_process_locale(locale: str) -> None:
    """The language of texts made outside a request (command line, background jobs)."""
    global _process_locale
    _process_locale = supported(locale) or SOURCE_LOCALE


def process_locale() -> str:
    return _process_locale


@contextlib.contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Texts made inside the block are in `locale`."""
    token = _override.set(supported(locale) or SOURCE_LOCALE)
    try:
        yield
    finally:
        _override.reset(token)


_process_digits = "latin"
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def set_process_digits(digits: str) -> None:
    """The digits whole numbers are written in inside this program's messages (this PC's
    setting, one of DIGIT_CHOICES): the page writes its own numbers the same way."""
    global _process_digits
    _process_digits = digits if digits in DIGIT_CHOICES else "latin"


def process_digits() -> str:
    return _process_digits


def number_text(value: int) -> str:
    """A whole number as this PC's messages write it."""
    text = str(value)
    return text.translate(_ARABIC_INDIC) if _process_digits == "arabic" else text


def _filled(text: str, values: dict[str, object]) -> str:
    """`text` with its placeholders filled; whole numbers in this PC's digits (names, paths and
    other texts stay exactly as they are)."""
    if _process_digits != "latin":
        values = {
            name: number_text(value)
            if isinstance(value, int) and not isinstance(value, bool)
            else value
            for name, value in values.items()
        }
    return text.format(**values)


def gettext(message: str, /, **values: object) -> str:
    """`message` in the current language, its `{name}` placeholders filled from `values`."""
    text = translations(current_locale()).gettext(message)
    return _filled(text, values) if values else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """The form of the message for the count `n` (Arabic has six), placeholders filled; `{n}`
    is the count itself."""
    text = translations(current_locale()).ngettext(singular, plural, n)
    return _filled(text, {"n": n, **values})


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it now (a constant defined at import,
    translated with `gettext(constant)` where it is shown)."""
    return message


class LazyText:
    """A message translated each time it is turned into text, in the language of that moment."""

    __slots__ = ("_message", "_values")

    def __init__(self, message: str, values: dict[str, object]) -> None:
        self._message = message
        self._values = values

    def __str__(self) -> str:
        return gettext(self._message, **self._values)

    def __repr__(self) -> str:
        return f"LazyText({self._message!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._message)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)


def lazy_gettext(message: str, /, **values: object) -> LazyText:
    """Like `gettext`, but translated when used (for module-level texts)."""
    return LazyText(message, values)


def plural_forms(locale: str) -> str:
    """The catalog's `Plural-Forms` header: how many forms and which one a count takes."""
    catalog = translations(locale)
    if isinstance(catalog, stdlib_gettext.GNUTranslations):
        return catalog.info().get("plural-forms", ENGLISH_PLURAL_FORMS)
    return ENGLISH_PLURAL_FORMS


def messages(locale: str) -> dict[str, str | list[str]]:
    """Every translated message of `locale` by its (singular) source text: the text, or the list
    of plural forms in the catalog's order. Empty for English, whose texts are the sources."""
    catalog = translations(locale)
    # gettext keys a singular message by its text, a plural form by (text, form index).
    entries: dict[str | tuple[str, int], str] = getattr(catalog, "_catalog", {})
    result: dict[str, str | list[str]] = {}
    plurals: dict[str, dict[int, str]] = {}
    for key, text in entries.items():
        if isinstance(key, tuple):
            plurals.setdefault(key[0], {})[key[1]] = text
        elif key:  # "" is the catalog's header
            result[key] = text
    for msgid, forms in plurals.items():
        result[msgid] = [forms[i] for i in sorted(forms)]
    return result


def language_of_accept_header(header: str | None) -> str | None:
    """The first supported language of an `Accept-Language` header, by its quality values."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag))
    for quality, _index, tag in sorted(ranked):
        if quality < 0 and (found := supported(tag)):
            return found
    return None


def os_language() -> str:
    """The supported language of this PC's user interface, English when it is another one.
    Windows: the user's UI language (GetUserDefaultUILanguage); elsewhere the locale variables
    as gettext reads them (LANGUAGE's list first, unless the locale is the plain C one)."""
    if sys.platform.startswith("win"):
        return _windows_ui_language() or SOURCE_LOCALE
    value = next(
        (os.environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(name)),
        "C",
    )
    if value in ("C", "POSIX") or value.startswith(("C.", "POSIX.")):
        return SOURCE_LOCALE  # the plain C locale: gettext does not read LANGUAGE either
    for tag in os.environ.get("LANGUAGE", "").split(":"):
        if found := supported(tag):
            return found
    return supported(value) or SOURCE_LOCALE


_LANG_ARABIC = 0x01  # the primary language id of every Arabic LANGID (ar-SA 0x0401, ar-EG...)
_PRIMARY_LANGUAGE_IDS = {_LANG_ARABIC: "ar", 0x09: "en"}


def windows_language_of_langid(langid: int) -> str | None:
    """The supported language of a Windows LANGID (its low 10 bits are the primary language)."""
    return _PRIMARY_LANGUAGE_IDS.get(langid & 0x3FF)


def _windows_ui_language() -> str | None:
    if sys.platform != "win32":  # no windll here; mypy checks the rest for Windows only
        return supported(stdlib_locale.getlocale()[0])
    try:
        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()
    except (AttributeError, OSError):
        return supported(stdlib_locale.getlocale()[0])
    return windows_language_of_langid(int(langid))


def effective_language(choice: str | None) -> str:
    """The language a setting value means: itself when it names one, else the OS's."""
    return supported(choice) or os_language()
