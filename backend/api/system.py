"""The program itself: health, version, tooth numbering facts for the UI, the main page and
its icon."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    jsonify,
    render_template,
    request,
    send_file,
)

from backend import __version__, security, teeth
from backend.api.i18n import page_language
from backend.errors import NotFound, ValidationError
from backend.i18n import gettext
from backend.paths import icon_file
from backend.process_clock import process_age
from backend.storage import GENERAL

log = logging.getLogger(__name__)

bp = Blueprint("system", __name__)


@bp.get("/api/health")
def health() -> Response:
    return jsonify({"status": "ok", "version": __version__})


@bp.post("/api/ready")
def ready() -> Response:
    """The page calls this once it has rendered: the log line marks the window as usable (the
    start-up benchmark and the bundle test read it)."""
    log.info("ui ready after %.2f s since process start", process_age())
    return Response(status=204)


@bp.get("/api/teeth")
def teeth_facts() -> Response:
    notation = request.args.get("notation", teeth.Notation.UNIVERSAL)
    try:
        labels = {code: teeth.label(code, notation) for code in teeth.ALL_TEETH}
    except ValueError as exc:
        raise ValidationError(str(exc), field="notation") from exc
    return jsonify(
        {
            "notation": str(notation),
            "rows": teeth.chart_rows(),
            "teeth": {
                code: {"label": labels[code], "name": teeth.tooth_name(code)}
                for code in teeth.ALL_TEETH
            },
            # Where images of no one tooth go (a panoramic x-ray, a portrait): shown beside the
            # teeth, asked for as the tooth "general".
            "places": {
                GENERAL: {
                    "label": gettext("Whole mouth"),
                    "name": gettext("images of no one tooth"),
                }
            },
        }
    )


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The app icon, which browsers ask for on every page load. It is the bundle's PNG: browsers
    take a PNG under this name."""
    icon = icon_file()
    if not icon.is_file():
        raise NotFound(gettext("The program's icon is missing."))
    return send_file(icon, mimetype="image/png", max_age=86400)


@bp.get("/")
def index() -> str:
    return render_template(
        "index.html", version=__version__, token=security.page_key(), page=page_language()
    )
