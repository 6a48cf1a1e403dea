"""Who may talk to the local server: requests from this machine, to our own host name and port,
under the per-launch secret path prefix, carrying a per-launch secret. Anything else gets 403
(404 outside the prefix) and changes nothing.

Browsers send a cookie of 127.0.0.1 to every port of 127.0.0.1, so any other program listening
on this machine would receive a cookie set for `/`. Each launch therefore draws four values:

* `prefix`: a random first path segment. Every address of the app lies under it, and the
  session cookie carries `Path=<prefix>/`, so the browser sends it to no other path, hence to
  no other port unless that port is asked for the secret prefix, which only our pages know.
* `launch_token`: in the launch address only (`<prefix>/?token=…`, opened once by the window);
  exchanged for the session cookie, then dropped from the address bar.
* `session`: the value of the HttpOnly, SameSite=Strict cookie; grants GET and HEAD (the page,
  images, downloads) and nothing else, and is never accepted as the header.
* `page_key`: given to the page in a meta tag and sent by it as X-Dental-Token; grants every
  request. The page never holds the launch token or the session value.

The launch token is also accepted as the header: whoever has the launch address can open the
page and read the page key anyway, so that adds nothing, and lets programs given the address
(tests, the Windows checks) call the API directly."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, redirect, request
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response as BaseResponse

from backend import i18n
from backend.errors import Forbidden
from backend.i18n import gettext

TOKEN_HEADER = "X-Dental-Token"
SESSION_COOKIE = "dental_session"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Public files that reveal nothing, served without the launch token like /static/ (the host is
# still checked).
TOKEN_FREE_PATHS = frozenset({"/favicon.ico"})
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# For originals and thumbnails, which a browser may be asked to open as a page: no script,
# no plugin, no same-origin access even if the bytes also parse as HTML or script.
FILE_CSP = "sandbox; default-src 'none'"


# What a person sees who opens (or reloads) a page of the program with secrets of an earlier
# start: a browser tab left open while the program was restarted. Only for page navigations;
# other requests keep their bare answers. It names nothing about this installation.
def earlier_start_page() -> str:
    """The page, in the language of the moment (this PC's, outside a request)."""
    locale = i18n.current_locale()
    title = gettext("This page is out of date")
    text = gettext(
        "This window belongs to an earlier start of the program; open the program again."
    )
    hint = gettext(
        "Close this tab. The program's own window (or the address it shows) opens your data."
    )
    return f"""<!doctype html>
<html lang="{locale}" dir="{i18n.direction(locale)}"><head><meta charset="utf-8">
<title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:"Segoe UI",system-ui,sans-serif;background:#f3f5f8;color:#1f2937;margin:0}}
main{{max-width:34rem;margin:14vh auto;background:#fff;border-radius:12px;padding:1.5rem 1.8rem;
border-top:6px solid #0f766e;box-shadow:0 10px 40px rgba(0,0,0,.12)}}h1{{font-size:1.3rem}}
p{{line-height:1.5}}</style></head>
<body><main id="earlier-start"><h1>{title}</h1><p>{text}</p>
<p>{hint}</p></main></body></html>
"""


EARLIER_START_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def is_page_navigation(headers: Headers) -> bool:
    """A browser opening a page (address bar, reload, link), not a script's request."""
    return headers.get("Sec-Fetch-Mode") == "navigate"


def earlier_start_response(status: int) -> Response:
    """The friendly page for a navigation that carries no valid secret of this start."""
    response = Response(earlier_start_page(), status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = EARLIER_START_CSP
    return response


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class LaunchSecrets:
    """The per-launch values described in the module docstring. `prefix` is "" or "/<secret>"."""

    launch_token: str
    prefix: str = ""
    session: str = field(default_factory=new_token)
    page_key: str = field(default_factory=new_token)

    @classmethod
    def new(cls) -> LaunchSecrets:
        return cls(launch_token=new_token(), prefix="/" + secrets.token_urlsafe(18))


def allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}"}


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def _launch_secrets() -> LaunchSecrets:
    launch: LaunchSecrets = current_app.config["LAUNCH_SECRETS"]
    return launch


def page_key() -> str:
    """The X-Dental-Token value the page is given."""
    return _launch_secrets().page_key


def check_request() -> BaseResponse | None:
    """Run before every request: refuse wrong Host, missing or wrong secret."""
    config = current_app.config
    if request.host.lower() not in config["ALLOWED_HOSTS"]:
        raise Forbidden(
            gettext("This server only answers the Dental Images window on this computer.")
        )
    if request.path.startswith("/static/") or request.path in TOKEN_FREE_PATHS:
        return None
    launch = _launch_secrets()
    url_token = request.args.get("token")
    if request.method == "GET" and url_token is not None and _same(url_token, launch.launch_token):
        # The window opens a tokenised URL once; the cookie carries the session from then on
        # and the token leaves the address bar.
        query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
        response = redirect(request.script_root + request.path + (f"?{query}" if query else ""))
        response.set_cookie(
            SESSION_COOKIE,
            launch.session,
            httponly=True,
            samesite="Strict",
            path=(request.script_root or "") + "/",
        )
        return response
    header = request.headers.get(TOKEN_HEADER)
    if _same(header, launch.page_key) or _same(header, launch.launch_token):
        return None
    cookie = request.cookies.get(SESSION_COOKIE)
    if request.method in SAFE_METHODS and _same(cookie, launch.session):
        return None
    if request.method == "GET" and is_page_navigation(request.headers):
        return earlier_start_response(403)
    raise Forbidden(gettext("Missing or wrong launch token. Open the program from its window."))


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers.setdefault("Cache-Control", "no-store")
    return response


class SecretPrefix:
    """WSGI middleware: serve the app only under `prefix` (moved into SCRIPT_NAME, so that
    routes, `request.path` and `url_for` work as without it); anything else is a bare 404 that
    says nothing about the program, or, for a browser opening a page there (a tab left from an
    earlier start, whose prefix is gone), the generic "open the program again" page."""

    def __init__(self, app: Callable[..., Iterable[bytes]], prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not self.prefix:
            return self.app(environ, start_response)
        full = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        head, rest = full[: len(self.prefix)], full[len(self.prefix) :]
        if hmac.compare_digest(head.encode(), self.prefix.encode()) and rest.startswith("/"):
            environ["SCRIPT_NAME"], environ["PATH_INFO"] = self.prefix, rest
            return self.app(environ, start_response)
        if environ.get("HTTP_SEC_FETCH_MODE") == "navigate":  # a tab of an earlier start
            start_response(
                "404 Not Found",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Security-Policy", EARLIER_START_CSP),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [earlier_start_page().encode()]
        start_response(
            "404 Not Found",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Security-Policy", "default-src 'none'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-store"),
            ],
        )
        return [b"Not found.\n"]


def init_app(app: Flask, launch: LaunchSecrets) -> None:
    app.config["LAUNCH_SECRETS"] = launch
    app.config["URL_PREFIX"] = launch.prefix
    app.wsgi_app = SecretPrefix(app.wsgi_app, launch.prefix)  # type: ignore[method-assign]
    app.before_request(check_request)
    app.after_request(add_security_headers)
