"""`openline run --path /rt/` in headless Chromium: the demo page follows the moved engine,
and a page loads socket.io-client from the server itself (/rt/socket.io.min.js, Node's
serveClient), gzipped, and connects with it over both transports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import demo_url, serve_openline
from tests.conftest import ROOT, require

Pages = Callable[[], Page]

CONNECT = """(transports) => new Promise((resolve, reject) => {
  const socket = io({ path: "/rt/", transports, reconnection: false });
  socket.on("connect_error", (err) => reject(err.message));
  socket.on("connect", () => socket.emit("echo", "from the served bundle",
    (back) => resolve([socket.io.engine.transport.name, back])));
})"""


@pytest.fixture(scope="module")
def moved_url() -> Iterator[str]:
    """`openline run --path /rt/`; its URL."""
    require((ROOT / "client_demo" / "node_modules" / "socket.io-client").is_dir(),
            "client_demo/node_modules (run `make test`, which runs npm ci)")
    yield from serve_openline("browser-path-server.log", "--path", "/rt/")


def test_demo_page_follows_path(moved_url: str, new_page: Pages) -> None:
    """The demo page connects to the engine at /rt/ (told by the page) and upgrades to websocket."""
    page = new_page()
    page.goto(demo_url(moved_url, kind="socketio", nickname="ann", room="lobby"))
    expect(page.locator("#state")).to_have_text("connected · websocket · json")
    expect(page.locator("#url")).to_contain_text('"path":"/rt/"')


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_served_bundle_connects(moved_url: str, new_page: Pages, transports: list[str]) -> None:
    """<script src="/rt/socket.io.min.js">: served gzipped with its ETag; its io() echoes over /rt/."""
    page = new_page()
    page.goto(demo_url(moved_url, connect="0"))
    with page.expect_response("**/rt/socket.io.min.js") as served:
        page.add_script_tag(url="/rt/socket.io.min.js")
    response = served.value
    assert (response.status, response.headers["content-encoding"]) == (200, "gzip")
    assert response.headers["etag"].startswith('"4.')
    assert page.evaluate(CONNECT, transports) == [transports[0], "from the served bundle"]


BIG_ECHO = """() => new Promise((resolve, reject) => {
  const socket = io({ path: "/rt/", transports: ["polling"], reconnection: false });
  socket.on("connect_error", (err) => reject(err.message));
  socket.on("connect", () => socket.emit("echo", "x".repeat(5000), (back) => resolve(back.length)));
})"""


def test_large_polls_arrive_gzipped(moved_url: str, new_page: Pages) -> None:
    """Chromium over long-polling: a 5,000-character echo comes back gzipped and decodes intact."""
    page = new_page()
    page.goto(demo_url(moved_url, connect="0"))
    page.add_script_tag(url="/rt/socket.io.min.js")
    codings: list[str | None] = []
    page.on("response", lambda r: codings.append(r.headers.get("content-encoding"))
            if "transport=polling" in r.url and r.request.method == "GET" else None)
    assert page.evaluate(BIG_ECHO) == 5000
    assert "gzip" in codings
