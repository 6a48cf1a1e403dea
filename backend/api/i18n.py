"""The language of each request, and the catalog the page's JavaScript translates with."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request
from jinja2.ext import InternationalizationExtension

from backend import i18n, vocabulary
from backend.api.common import runtime
from backend.config import read_pc_preferences

bp = Blueprint("i18n", __name__, url_prefix="/api")


def request_locale() -> str:
    """The language chosen on this PC in Settings; without a choice, the browser's
    (`Accept-Language`, which the program's window sets from the OS too), else the OS's."""
    choice = read_pc_preferences(runtime().settings.data_dir)["language"]
    return (
        i18n.supported(choice)
        or i18n.language_of_accept_header(request.headers.get("Accept-Language"))
        or i18n.os_language()
    )


def page_language() -> dict[str, str]:
    """What the page's <html> needs before any script runs: lang, dir and the theme."""
    locale = i18n.current_locale()
    theme = read_pc_preferences(runtime().settings.data_dir)["theme"]
    return {"lang": locale, "dir": i18n.direction(locale), "theme": theme}


@bp.get("/i18n")
def catalog() -> Response:
    """The current language, its direction and plural rule, this PC's theme and digits, and
    every translated message by its English source text (web/static/js/i18n.js reads it)."""
    locale = i18n.current_locale()
    preferences = read_pc_preferences(runtime().settings.data_dir)
    response = jsonify(
        {
            "locale": locale,
            "direction": i18n.direction(locale),
            "plural_forms": i18n.plural_forms(locale),
            "language": preferences["language"],
            "theme": preferences["theme"],
            "digits": preferences["digits"],
            "labels": vocabulary.labels(),
            "messages": i18n.messages(locale),
        }
    )
    response.headers["Cache-Control"] = "no-store"  # the language may change in Settings
    return response


def init_app(app: Flask) -> None:
    """Every request picks its language with `request_locale`; templates translate with
    `{{ _("...") }}`, `{{ ngettext("...", "...", n) }}` and `{% trans %}`."""
    app.extensions[i18n.REQUEST_RESOLVER] = request_locale
    app.jinja_env.add_extension(InternationalizationExtension)
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.current_locale()).gettext(message),
        lambda singular, plural, n: i18n.translations(i18n.current_locale()).ngettext(
            singular, plural, n
        ),
        newstyle=True,
    )
    app.register_blueprint(bp)
