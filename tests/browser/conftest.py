"""Headless Chromium (the Debian package, never a downloaded browser) against `openline run`.

One server process and one browser per module; each test gets a fresh browser context,
and every page it opened is screenshotted into tests/output/screenshots/ at the end.
Module scope, not session: Playwright's sync API keeps its event loop marked as running
in this thread until it stops, and pytest-asyncio cannot run the async tests after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import OUTPUT, ROOT, UNIT, require, require_tool

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = OUTPUT / "screenshots"
TIMEOUT_MS = 10_000 * UNIT


def serve_openline(log_name: str, *flags: str) -> Iterator[str]:
    """`python -m openline run --port 0 FLAGS` as users start it, its stderr in
    tests/output/LOG_NAME; yields its URL, from the line it prints once it listens."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = open(OUTPUT / log_name, "wb")  # noqa: SIM115 - closed below
    env = dict(os.environ, OPENLINE_RELOAD="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0", *flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server has bound its port (or died)
    try:
        assert line.startswith("openline listening on "), f"server said {line!r}, see {log.name}"
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10 * UNIT)
        proc.stdout.close()
        log.close()


@pytest.fixture(scope="module")
def openline_url() -> Iterator[str]:
    """`python -m openline run --port 0` as users start it; its URL from the line it prints."""
    require((ROOT / "client_demo" / "node_modules" / "socket.io-client").is_dir(),
            "client_demo/node_modules (run `make test`, which runs npm ci)")
    yield from serve_openline("browser-server.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_tool("chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """``page = new_page()``: a page in this test's context; screenshotted at teardown."""
    context = browser.new_context(viewport={"width": 900, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    pages: list[Page] = []

    def make() -> Page:
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for n, page in enumerate(pages):
        if not page.is_closed():
            page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{n}.png"))
    context.close()


def demo_url(base: str, **fields: str) -> str:
    """The demo page with its form preset (and connecting at once unless connect="0")."""
    fields.setdefault("connect", "1")
    return f"{base}/?{urlencode(fields)}"


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
