"""Who may talk to the local server: requests from this machine, to our own host name and port,
carrying the per-launch secret. Anything else gets 403 and changes nothing."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from flask import Flask, Response, current_app, redirect, request

from backend.errors import Forbidden

TOKEN_HEADER = "X-Dental-Token"
TOKEN_COOKIE = "dental_token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Public files that reveal nothing, served without the launch token like /static/ (the host is
# still checked).
TOKEN_FREE_PATHS = frozenset({"/favicon.ico"})
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}"}


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def check_request() -> Response | None:
    """Run before every request: refuse wrong Host, missing or wrong token."""
    config = current_app.config
    if request.host.lower() not in config["ALLOWED_HOSTS"]:
        raise Forbidden("This server only answers the Dental Images window on this computer.")
    if request.path.startswith("/static/") or request.path in TOKEN_FREE_PATHS:
        return None
    token = config["LAUNCH_TOKEN"]
    url_token = request.args.get("token")
    if request.method == "GET" and url_token is not None and _same(url_token, token):
        # The window opens a tokenised URL once; the cookie carries the secret from then on
        # and the token leaves the address bar.
        query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
        response = redirect(request.path + (f"?{query}" if query else ""))
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response
    if _same(request.headers.get(TOKEN_HEADER), token):
        return None
    if request.method in SAFE_METHODS and _same(request.cookies.get(TOKEN_COOKIE), token):
        return None
    raise Forbidden("Missing or wrong launch token. Open the program from its window.")


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


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.after_request(add_security_headers)
