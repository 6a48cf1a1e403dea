"""A real server on a real port and a real Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.logging_setup import setup_logging
from backend.server import LocalServer, bind_server

CHROMIUM = os.environ.get("DENTAL_IMAGES_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(runtime) -> Iterator[LocalServer]:
    server = bind_server(runtime, 0)
    server.start_in_thread()
    yield server
    server.close()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/test.sh to install it")
    from playwright.sync_api import expect, sync_playwright

    # CI runs the Windows lane beside this suite on two cores: give a page's answer 15 s, not
    # Playwright's 5 s, before calling it missing.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(live_server.launch_url)
    tab.wait_for_selector("body[data-ready='true']")
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(page, name: str) -> Path:
    """Save a screenshot artefact (artifacts/screenshots/<name>.png) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def program_log(settings):
    """The log file the program writes when started by its launcher (cli.py sets it up)."""
    root = logging.getLogger()
    level = root.level
    path = setup_logging(settings.logs_dir, console=False)
    yield path
    for handler in [h for h in root.handlers if getattr(h, "_dental_images_handler", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
