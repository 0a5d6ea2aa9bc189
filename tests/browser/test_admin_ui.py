"""The Socket.IO Admin UI (@socket.io/admin-ui's page, served by openline at /admin/) in
headless Chromium, against two `openline run --admin` nodes sharing a real redis-server.

The clients are the demo page's: the npm socket.io-client bundle with the JSON parser
(long-polling, then the upgrade) and with msgpack, and a plain WebSocket (the bridge).
Screenshots go to tests/output/screenshots/admin-*.png (docs/ keeps a copy of the ones
the README shows).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import demo_url, screenshot_path
from tests.conftest import OUTPUT, ROOT, UNIT, require, require_tool

Pages = Callable[[], Page]
PASSWORD = "admin-ui-test"  # noqa: S105 - a test's own
HOSTNAME = socket.gethostname()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain(stream: object) -> None:
    for _ in stream:  # type: ignore[attr-defined]
        pass  # a chatty child never blocks on a full pipe


@dataclass
class NodeProcess:
    url: str
    proc: subprocess.Popen[str]

    @property
    def server_id(self) -> str:
        """The id the Admin UI lists it by: ``<hostname>#<pid>`` (--admin-server-id unset)."""
        return f"{HOSTNAME}#{self.proc.pid}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """A redis-server and two `openline run --admin --redis-url` nodes, as users start them."""
    require((ROOT / "client_demo/node_modules/@socket.io/admin-ui/ui/dist/index.html").is_file(),
            "client_demo/node_modules/@socket.io/admin-ui (run `make test`, which runs npm ci)")
    redis_port = _free_port()
    redis = subprocess.Popen(
        [require_tool("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no"], stdout=subprocess.PIPE, text=True)
    assert redis.stdout is not None
    for line in redis.stdout:  # ready once it says so
        if "Ready to accept connections" in line:
            break
    draining = threading.Thread(target=_drain, args=(redis.stdout,), daemon=True)
    draining.start()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OPENLINE_RELOAD="false", OPENLINE_ADMIN_PASSWORD=PASSWORD)
    nodes, logs = [], []
    try:
        for name in ("a", "b"):
            log = open(OUTPUT / f"admin-ui-node-{name}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0",
                 "--admin", "--redis-url", f"redis://127.0.0.1:{redis_port}/0"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until it has bound its port (or died)
            nodes.append(NodeProcess(line.split()[-1], proc))
            assert line.startswith("openline listening on "), f"node {name} said {line!r}"
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.proc.terminate()
            node.proc.wait(timeout=10 * UNIT)
            assert node.proc.stdout is not None
            node.proc.stdout.close()
        for log in logs:
            log.close()
        redis.terminate()
        redis.wait(timeout=10 * UNIT)
        draining.join(timeout=10 * UNIT)
        redis.stdout.close()


def open_demo(new_page: Pages, base: str, **fields: str) -> Page:
    page = new_page()
    page.goto(demo_url(base, **fields))
    return page


def sid_of(page: Page) -> str:
    """The sid a demo page's socket.io client logged ("connected as <sid> over ...")."""
    line = page.locator("#log li", has_text="connected as ").first
    expect(line).to_be_visible()
    found = re.search(r"connected as (\S+) over", line.inner_text())
    assert found, line.inner_text()
    return found.group(1)


def log_in(new_page: Pages, base: str, password: str = PASSWORD) -> Page:
    """The Admin UI at ``base``/admin/, logged in to ``base`` through its connection form."""
    ui = new_page()
    ui.set_viewport_size({"width": 1280, "height": 800})
    ui.goto(f"{base}/admin/")
    ui.get_by_label("Server URL").fill(base)
    ui.get_by_label("Username").fill("admin")
    ui.get_by_label("Password").fill(password)
    ui.get_by_role("button", name="Connect").click()
    return ui


def choose_namespace(ui: Page, namespace: str) -> None:
    selector = ui.get_by_label("Select namespace")
    expect(selector).to_have_count(1)  # the view before has slid out
    selector.click(force=True)
    ui.get_by_role("option", name=namespace, exact=True).click()
    expect(ui.get_by_role("option", name=namespace, exact=True)).to_be_hidden()  # menu closed


def row(ui: Page, text: str) -> object:
    return ui.locator("tbody tr", has_text=text)


def test_admin_ui_sees_every_kind_of_client_and_kicks_one(cluster: tuple[NodeProcess, NodeProcess],
                                                          new_page: Pages) -> None:
    """Logged in to node a, the UI lists JSON, msgpack and plain WebSocket clients of both
    nodes with their transports and room, shows an event, and its disconnect button kicks one."""
    a, b = cluster
    ann = open_demo(new_page, a.url, kind="socketio", nickname="ann", room="lobby")
    mia = open_demo(new_page, a.url, kind="socketio", nickname="mia", room="lobby",
                    parser="msgpack", transport="websocket")
    bob = open_demo(new_page, a.url, kind="websocket", nickname="bob", room="lobby")
    zoe = open_demo(new_page, b.url, kind="socketio", nickname="zoe", room="lobby")
    expect(ann.locator("#state")).to_have_text("connected · websocket · json")  # upgraded
    expect(mia.locator("#state")).to_have_text("connected · websocket · msgpack")
    expect(bob.locator("#state")).to_have_text("readyState 1 (OPEN)")
    expect(zoe.locator("#state")).to_have_text("connected · websocket · json")
    sids = {name: sid_of(page) for name, page in (("ann", ann), ("mia", mia), ("zoe", zoe))}

    ui = log_in(new_page, a.url)
    expect(ui.locator(".v-app-bar")).to_contain_text("Status: connected")
    ui.goto(f"{a.url}/admin/#/sockets/")
    choose_namespace(ui, "/chat")
    table = ui.locator("tbody")
    for name in ("ann", "mia", "zoe"):  # zoe is node b's: all_sockets asked every node
        expect(row(ui, sids[name])).to_contain_text("WebSocket")
    expect(row(ui, "websocket-bridge")).to_have_count(1)  # bob
    expect(table.locator("tr")).to_have_count(4)
    yan = open_demo(new_page, b.url, kind="socketio", nickname="yan", room="lobby",
                    transport="polling")  # after the login: socket_connected through Redis
    expect(row(ui, sid_of(yan))).to_contain_text("HTTP long-polling")
    expect(table.locator("tr")).to_have_count(5)
    ui.screenshot(path=str(screenshot_path("admin-sockets.png")))

    ui.goto(f"{a.url}/admin/#/rooms/")
    choose_namespace(ui, "/chat")
    expect(row(ui, "lobby")).to_contain_text("5")

    ann.fill("#text", "hello, admin")
    ann.click("#send")
    ui.goto(f"{a.url}/admin/#/events/")
    choose_namespace(ui, "/chat")
    received = ui.locator("tbody tr", has_text="Event received").filter(has_text="message")
    expect(received.first).to_contain_text(sids["ann"])
    ui.screenshot(path=str(screenshot_path("admin-events.png")))

    ui.goto(f"{a.url}/admin/#/sockets/")
    choose_namespace(ui, "/chat")
    # "Disconnect this Socket instance" (the click opens the socket's details page too)
    row(ui, sids["mia"]).locator("button").click()
    expect(mia.locator("#state")).to_have_text("disconnected · io server disconnect")
    expect(ui.locator(".v-card", has_text="Details")).to_contain_text("disconnected")
    ui.goto(f"{a.url}/admin/#/sockets/")
    choose_namespace(ui, "/chat")
    expect(table.locator("tr")).to_have_count(4)
    expect(row(ui, sids["mia"])).to_have_count(0)
    expect(ann.locator("#state")).to_have_text("connected · websocket · json")


def test_two_nodes_are_two_servers(cluster: tuple[NodeProcess, NodeProcess], new_page: Pages) -> None:
    """Each node of the cluster is a row of the Servers page, by its <hostname>#<pid>."""
    a, b = cluster
    open_demo(new_page, b.url, kind="socketio", nickname="kim", room="lobby")
    ui = log_in(new_page, b.url)
    expect(ui.locator(".v-app-bar")).to_contain_text("Status: connected")
    ui.goto(f"{b.url}/admin/#/servers/")
    expect(ui.locator("tbody tr")).to_have_count(2)
    for node in (a, b):
        expect(row(ui, node.server_id)).to_contain_text(str(node.proc.pid))
        expect(row(ui, node.server_id)).to_contain_text("Healthy")
    ui.screenshot(path=str(screenshot_path("admin-servers.png")))
    ui.goto(f"{b.url}/admin/#/")
    expect(ui.locator("body")).to_contain_text("Servers")
    ui.screenshot(path=str(screenshot_path("admin-dashboard.png")))


def test_a_wrong_password_is_refused(cluster: tuple[NodeProcess, NodeProcess], new_page: Pages) -> None:
    """The connection form stays open with the UI's "Invalid credentials" for a wrong password."""
    ui = log_in(new_page, cluster[0].url, password="not it")
    expect(ui.get_by_text("Invalid credentials")).to_be_visible()
    expect(ui.locator(".v-app-bar")).to_contain_text("Status: disconnected")


def test_the_page_needs_no_other_origin(cluster: tuple[NodeProcess, NodeProcess], new_page: Pages) -> None:
    """/admin/ loads everything from the server itself (the icon font too), nothing from a CDN."""
    ui = new_page()
    elsewhere: list[str] = []
    ui.on("request", lambda request: None if request.url.startswith(cluster[0].url)
          else elsewhere.append(request.url))
    ui.goto(f"{cluster[0].url}/admin/")
    expect(ui.get_by_label("Server URL")).to_be_visible()
    assert ui.evaluate("document.fonts.check('16px \"Material Design Icons\"')")
    assert elsewhere == []

