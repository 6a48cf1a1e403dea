"""The launch secret does not leak to other ports of 127.0.0.1 (browsers send a host's cookies
to all of its ports), and whatever a browser does send elsewhere opens nothing: the page and the
cookie here, Chromium and a second listener in tests/e2e/test_launch_secret_browser.py."""

from __future__ import annotations

from backend.security import TOKEN_HEADER
from tests.conftest import PREFIX, TOKEN


def test_the_page_carries_neither_the_launch_token_nor_the_session(anonymous_client, app):
    launch = app.config["LAUNCH_SECRETS"]
    opened = anonymous_client.get(f"/?token={TOKEN}", follow_redirects=True)
    html = opened.get_data(as_text=True)
    assert opened.status_code == 200 and launch.page_key in html
    assert TOKEN not in html and launch.session not in html
    assert f'<base href="{PREFIX}/">' in html


def test_the_session_cookie_reads_but_is_no_token_and_cannot_write(app):
    launch = app.config["LAUNCH_SECRETS"]
    client = app.test_client()
    client.get(f"/?token={TOKEN}")
    assert client.get("/api/patients").status_code == 200  # the page's own cookie reads
    assert client.post("/api/patients", json={"full_name": "x"}).status_code == 403
    stranger = app.test_client()
    as_header = stranger.post(
        "/api/patients", json={"full_name": "x"}, headers={TOKEN_HEADER: launch.session}
    )
    assert as_header.status_code == 403
    assert stranger.get("/api/patients", headers={TOKEN_HEADER: launch.session}).status_code == 403


def test_the_page_key_writes(app):
    launch = app.config["LAUNCH_SECRETS"]
    client = app.test_client()
    created = client.post(
        "/api/patients", json={"full_name": "Via page"}, headers={TOKEN_HEADER: launch.page_key}
    )
    assert created.status_code == 201


def test_nothing_is_served_outside_the_secret_prefix(app):
    from werkzeug.test import Client

    raw = Client(app)  # no prefix added: what another program guessing addresses gets
    for path in (
        "/",
        "/api/health",
        f"/?token={TOKEN}",
        "/static/js/app.js",
        PREFIX,
        "/x" + PREFIX,
    ):
        response = raw.get(path, base_url="http://127.0.0.1:5000", headers={TOKEN_HEADER: TOKEN})
        assert response.status_code == 404, path
        assert response.get_data() == b"Not found.\n"


def test_a_tab_of_an_earlier_start_gets_a_friendly_page_not_json(app, anonymous_client):
    """A browser reloading a page whose secrets are another start's: outside the prefix (the
    prefix of an earlier start) and inside it without the session, a page saying what to do;
    the same requests from a script keep their bare answers."""
    from werkzeug.test import Client

    navigate = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}
    old_prefix = Client(app).get(
        "/earlier-prefix/", base_url="http://127.0.0.1:5000", headers=navigate
    )
    no_session = anonymous_client.get("/", headers=navigate)
    for response, status in ((old_prefix, 404), (no_session, 403)):
        assert response.status_code == status
        assert response.mimetype == "text/html"
        text = response.get_data(as_text=True)
        assert (
            "This window belongs to an earlier start of the program; open the program again."
            in text
        )
        assert "{" not in text.split("<style>")[0]  # no JSON
        assert "script-src" not in response.headers["Content-Security-Policy"]
    assert (
        anonymous_client.get("/api/patients", headers={"Sec-Fetch-Mode": "cors"}).get_json()[
            "error"
        ]["code"]
        == "forbidden"
    )
    assert anonymous_client.post("/", headers=navigate).status_code == 403
