"""The local server stops under an open page: one clear "Connection lost, retrying…" screen that
blocks changes, retries, and resyncs every view when the server is back; a server of another
start (new secrets) gets the friendly "open the program again" screen, never raw JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from waitress.server import create_server

from backend.server import HOST, LocalServer, bind_server
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.e2e.conftest import screenshot
from tests.e2e.slow_answers import assert_shown_is_database, settle
from tests.e2e.test_ui_flow import tooth
from tests.helpers import image_bytes

pytestmark = pytest.mark.browser

EARLIER_START = "This window belongs to an earlier start of the program; open the program again."


class Restartable:
    """A real server that the test can stop (every connection closed, as when the program ends)
    and start again on the same port: with the same secrets (a restart of the server under the
    same page key) or with new ones (another start of the program)."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.server: LocalServer = bind_server(runtime, 0)
        self.thread = self.server.start_in_thread()

    @property
    def waitress(self):
        return self.server._server

    def stop(self) -> None:
        waitress = self.waitress
        waitress.close()
        for channel in list(waitress._map.values()):  # keep-alive connections of the browser
            channel.close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        waitress.task_dispatcher.shutdown()

    def start_same(self) -> None:
        old = self.server
        app = self.waitress.application
        server = create_server(app, host=HOST, port=old.port, threads=8)
        self.server = LocalServer(port=old.port, token=old.token, prefix=old.prefix, _server=server)
        self.thread = self.server.start_in_thread()

    def start_new_secrets(self) -> None:
        self.server = bind_server(self.runtime, self.server.port)
        self.thread = self.server.start_in_thread()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def restartable(runtime) -> Iterator[Restartable]:
    served = Restartable(runtime)
    yield served
    served.close()


@pytest.fixture
def tab(browser, restartable):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def open_program(page, server: LocalServer) -> None:
    page.goto(server.launch_url)
    page.wait_for_selector("body[data-ready='true']")


def blocked(page, selector: str) -> bool:
    """True when a click at the middle of `selector` lands on the connection screen."""
    return page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            element.scrollIntoView({ block: 'center' });
            const box = element.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return Boolean(hit && hit.closest('#connection-dialog'));
        }""",
        selector,
    )


def test_connection_lost_blocks_changes_retries_and_resyncs(
    tab, restartable, runtime, session, store
):
    patient = patients.create_patient(session, {"full_name": "Dana Farah"})
    add_images(session, store, patient.id, "10", "before", [Upload("a.png", image_bytes("PNG"))])
    ids = {"Dana Farah": patient.id}
    open_program(tab, restartable.server)
    tab.locator("#patient-list li[data-patient-id]").click()
    settle(tab)
    tooth(tab, "10").click()
    expect(tab.locator("#image-grid .image-card")).to_have_count(1)

    restartable.stop()
    # the next request finds nobody: the poll of every few seconds, or a click
    tooth(tab, "11").click()
    dialog = tab.locator("#connection-dialog")
    expect(dialog).to_be_visible(timeout=10_000)
    expect(tab.locator("#connection-title")).to_have_text("Connection lost, retrying…")
    expect(tab.locator("#connection-retry")).to_have_text(
        re.compile(r"Next try in \d+ s\.|Trying now")
    )
    for selector in (
        "#choose-files",
        "#type-tabs [data-tab=all]",
        "#new-patient",
        "#patient-search",
    ):
        assert blocked(tab, selector), selector
    with pytest.raises(Exception, match=r"intercepts pointer events|Timeout"):
        tab.locator("#edit-patient").click(timeout=1500)
    tab.keyboard.press("Escape")  # the screen cannot be sent away while the server is gone
    expect(dialog).to_be_visible()
    assert tab.evaluate("document.body.dataset.connection") == "offline"
    screenshot(tab, "connection-lost-1366")

    # meanwhile another PC stored an image on tooth 11
    add_images(session, store, patient.id, "11", "xray", [Upload("b.png", image_bytes("PNG"))])
    restartable.start_same()
    expect(dialog).to_be_hidden(timeout=20_000)
    settle(tab)
    expect(tab.locator("#tooth-title")).to_contain_text("Tooth 11 ·")
    expect(tab.locator("#image-grid .image-card")).to_have_count(1)
    expect(tooth(tab, "11").locator(".badge text")).to_have_text("1")
    expect(tab.locator("#patient-facts")).to_contain_text("2 images")
    assert_shown_is_database(tab, runtime, ids)
    assert not blocked(tab, "#new-patient")
    tab.click("#edit-patient")  # changes work again
    expect(tab.locator("#patient-dialog")).to_be_visible()


def test_a_page_of_an_earlier_start_says_to_open_the_program_again(
    tab, browser, restartable, session
):
    patients.create_patient(session, {"full_name": "Eli Haddad"})
    open_program(tab, restartable.server)
    tab.locator("#patient-list li[data-patient-id]").click()
    settle(tab)
    old_app_url = restartable.server.app_url
    restartable.stop()
    restartable.start_new_secrets()  # the program was started again: new prefix, new keys
    tooth(tab, "8").click()  # whatever the page asks next meets the new start
    dialog = tab.locator("#connection-dialog")
    expect(dialog).to_be_visible(timeout=15_000)
    expect(dialog).to_have_attribute("data-state", "expired")
    expect(tab.locator("#connection-title")).to_have_text(
        "This window belongs to an earlier start of the program"
    )
    expect(tab.locator("#connection-retry-now")).to_be_hidden()
    assert blocked(tab, "#new-patient")
    screenshot(tab, "earlier-start-dialog-1366")

    # reloading the old tab: a friendly page, not raw JSON or a bare "Not found."
    tab.goto(old_app_url + "/")
    expect(tab.locator("#earlier-start")).to_contain_text(EARLIER_START)
    assert "{" not in tab.locator("body").inner_text()
    screenshot(tab, "earlier-start-page-1366")

    # the new start's address without its launch token (no session): the same friendly page
    stranger = browser.new_context()
    other = stranger.new_page()
    response = other.goto(restartable.server.app_url + "/")
    assert response.status == 403
    expect(other.locator("#earlier-start")).to_contain_text(EARLIER_START)
    stranger.close()
