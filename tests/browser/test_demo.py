"""The client_demo page in headless Chromium: socket.io and plain WebSocket clients together."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import demo_url, screenshot_path

Pages = Callable[[], Page]
OPEN_WS = "readyState 1 (OPEN)"


def open_demo(new_page: Pages, base: str, **fields: str) -> Page:
    page = new_page()
    page.goto(demo_url(base, **fields))
    return page


def send(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")


def expect_in_log(page: Page, text: str) -> None:
    expect(page.locator("#log li.in", has_text=text).first).to_be_visible()


def test_socketio_and_plain_websocket_chat(openline_url: str, new_page: Pages) -> None:
    """A socket.io page and a plain WebSocket page share a /chat room, messages both ways."""
    sio = open_demo(new_page, openline_url, kind="socketio", nickname="ann", room="lobby")
    expect(sio.locator("#state")).to_have_text("connected · websocket · json")  # upgraded
    plain = open_demo(new_page, openline_url, kind="websocket", nickname="bob", room="lobby")
    expect(plain.locator("#state")).to_have_text(OPEN_WS)
    expect_in_log(sio, '"nickname":"bob","action":"join"')

    send(sio, "hello from socket.io")
    expect_in_log(plain, '"nickname":"ann","text":"hello from socket.io"')
    expect_in_log(sio, "ack ")  # the chat namespace acks with what it sent
    send(plain, "hello from a plain WebSocket")
    expect_in_log(sio, '"nickname":"bob","text":"hello from a plain WebSocket"')
    send(plain, '{"event": "who", "data": "lobby", "id": 1}')
    expect_in_log(plain, '{"ack":1,"data":[{"room":"lobby","members":["ann","bob"]}]}')
    expect(sio.locator("#log")).to_contain_text("upgraded to websocket")

    # both clients side by side: the picture the README and the closing note use
    both = new_page()
    both.set_viewport_size({"width": 1600, "height": 900})
    both.set_content(
        "<style>body{margin:0;display:flex}iframe{width:50%;height:900px;border:0;"
        "border-right:2px solid #ccc}</style>"
        f'<iframe src="{demo_url(openline_url, kind="socketio", nickname="carol", room="lobby")}"></iframe>'
        f'<iframe src="{demo_url(openline_url, kind="websocket", nickname="dave", room="lobby")}"></iframe>')
    left, right = both.frame_locator("iframe").first, both.frame_locator("iframe").last
    expect(left.locator("#state")).to_have_text("connected · websocket · json")
    expect(right.locator("#state")).to_have_text(OPEN_WS)
    right.locator("#text").fill("hi carol, from a bare WebSocket")
    right.locator("#send").click()
    left.locator("#text").fill("hi dave, from socket.io")
    left.locator("#send").click()
    expect(left.locator("#log li.in", has_text="hi carol").first).to_be_visible()
    expect(right.locator("#log li.in", has_text="hi dave").first).to_be_visible()
    both.screenshot(path=str(screenshot_path("demo-both-clients.png")))


def test_msgpack_mode(openline_url: str, new_page: Pages) -> None:
    """The msgpack bundle talks binary frames and still chats with a plain WebSocket client."""
    sio = new_page()
    frames: list[str | bytes] = []
    sio.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    sio.goto(demo_url(openline_url, kind="socketio", nickname="mia", room="mp",
                      parser="msgpack", transport="websocket"))
    expect(sio.locator("#state")).to_have_text("connected · websocket · msgpack")
    plain = open_demo(new_page, openline_url, kind="websocket", nickname="ned", room="mp")
    expect(plain.locator("#state")).to_have_text(OPEN_WS)

    send(sio, "packed")
    expect_in_log(plain, '"nickname":"mia","text":"packed"')
    send(plain, "unpacked")
    expect_in_log(sio, '"nickname":"ned","text":"unpacked"')
    socketio_frames = [f for f in frames if f not in ("2probe", "5", "3")]
    assert socketio_frames and all(isinstance(f, bytes) for f in socketio_frames[1:]), frames


def test_refused_auth_is_shown(openline_url: str, new_page: Pages) -> None:
    """A refused connect shows the server's reason: connect_error, or close 4403 + reason."""
    sio = open_demo(new_page, openline_url, kind="socketio", nickname="", room="lobby")
    expect(sio.locator("#errors")).to_contain_text("connect_error: nickname required")
    expect(sio.locator("#state")).to_have_text("refused · nickname required")
    plain = open_demo(new_page, openline_url, kind="websocket", nickname="", room="lobby")
    expect(plain.locator("#errors")).to_contain_text("close 4403 nickname required")
    expect(plain.locator("#state")).to_have_text(
        "readyState 3 (CLOSED) · close code 4403 · nickname required")
    nowhere = open_demo(new_page, openline_url, kind="websocket", namespace="/nowhere")
    expect(nowhere.locator("#errors")).to_contain_text("close 4404 Invalid namespace")


def test_websocket_blocked_falls_back_to_polling(openline_url: str, new_page: Pages) -> None:
    """With its WebSocket refused, the socket.io page stays on polling and still chats."""
    sio = new_page()
    blocked: list[str] = []

    def refuse(ws: WebSocketRoute) -> None:
        blocked.append(ws.url)
        ws.close(code=1011, reason="blocked by test")

    sio.route_web_socket(re.compile(r"/socket\.io/"), refuse)
    sio.goto(demo_url(openline_url, kind="socketio", nickname="pat", room="fallback"))
    expect(sio.locator("#state")).to_have_text("connected · polling · json")
    plain = open_demo(new_page, openline_url, kind="websocket", nickname="quinn", room="fallback")
    expect(plain.locator("#state")).to_have_text(OPEN_WS)

    send(sio, "over long-polling")
    expect_in_log(plain, '"nickname":"pat","text":"over long-polling"')
    send(plain, "back to the poller")
    expect_in_log(sio, '"nickname":"quinn","text":"back to the poller"')
    expect(sio.locator("#state")).to_have_text("connected · polling · json")
    assert blocked and "transport=websocket" in blocked[0]
    expect(sio.locator("#log")).not_to_contain_text("upgraded")


def test_seed_snippet_in_the_console(openline_url: str, new_page: Pages) -> None:
    """The seed's bare-WebSocket snippet, run as console code, echoes through readyState 0→1→3."""
    page = open_demo(new_page, openline_url, connect="0")
    port = openline_url.rsplit(":", 1)[1]
    # classic scripts run at global scope, as console input does (`var` makes a global)
    page.add_script_tag(content=(
        f"var connection = new WebSocket('ws://localhost:{port}');"
        "var states = [connection.readyState]; var received = [];"
        "connection.onopen = function () { states.push(connection.readyState); };"
        "connection.onerror = function (error) { received.push('error'); };"
        "connection.onmessage = e => received.push(e.data);"))
    page.wait_for_function("connection.readyState === 1")
    page.add_script_tag(content="connection.send('hello');")
    page.wait_for_function("received.length === 1")
    page.add_script_tag(content="connection.close(); states.push(connection.readyState);")
    page.wait_for_function("connection.readyState === 3")
    assert page.evaluate("received") == ["hello"]
    assert page.evaluate("states") == [0, 1, 2]


def test_without_bundles_plain_websocket_still_works(openline_url: str, new_page: Pages) -> None:
    """Without the socket.io bundles the page says how to get them and plain mode works."""
    page = new_page()
    page.route("**/vendor/**", lambda route: route.fulfill(status=404, body="not installed"))
    page.goto(demo_url(openline_url, kind="websocket", namespace="/"))
    expect(page.locator("#bundle-notice")).to_contain_text("npm ci")
    expect(page.locator("#state")).to_have_text(OPEN_WS)
    send(page, "offline hello")
    expect_in_log(page, "offline hello")
    page.check("input[value=socketio]")
    page.click("#connect")
    expect(page.locator("#errors")).to_contain_text("socket.io-client is not installed")


HH_MM_SS = re.compile(r"^\d\d:\d\d:\d\d$")


def send_event(page: Page, event: str, text: str) -> None:
    page.fill("#event", event)
    send(page, text)


def test_the_event_field_reaches_the_chat_namespaces_events(openline_url: str, new_page: Pages) -> None:
    """socket.io mode's event field sends join, who and typing to /chat; each reply is a
    log line stamped with the local time as HH:MM:SS."""
    ann = open_demo(new_page, openline_url, kind="socketio", nickname="ann", room="lobby")
    expect(ann.locator("#state")).to_have_text("connected · websocket · json")
    bob = open_demo(new_page, openline_url, kind="socketio", nickname="bob", room="hall")
    expect(bob.locator("#state")).to_have_text("connected · websocket · json")

    send_event(bob, "join", "lobby")
    joined = bob.locator("#log li.in", has_text='ack of join: {"room":"lobby","members":["ann","bob"]}')
    expect(joined).to_have_count(1)
    send_event(ann, "who", "lobby")
    expect(ann.locator("#log li.in", has_text='ack of who: {"room":"lobby","members":["ann","bob"]}')
           ).to_have_count(1)
    send_event(ann, "typing", '{"room": "lobby", "typing": true}')
    expect(bob.locator("#log li.in", has_text='typing {"room":"lobby","nickname":"ann","typing":true}')
           ).to_have_count(1)
    expect(ann.locator("#log li.out", has_text='typing {"room":"lobby","typing":true}')).to_have_count(1)
    stamps = ann.locator("#log li time").all_inner_texts() + joined.locator("time").all_inner_texts()
    assert stamps and all(HH_MM_SS.match(s) for s in stamps), stamps


def test_each_error_is_shown_once(openline_url: str, new_page: Pages) -> None:
    """A refused connect (socket.io and plain WebSocket) and an error event: one line in
    Errors and one in the log each, stamped HH:MM:SS, and no echo of it as a message."""
    cases = [
        (dict(kind="socketio", nickname="", room="lobby"), None, "connect_error: nickname required"),
        (dict(kind="websocket", nickname="", room="lobby"), None, "close 4403 nickname required"),
        (dict(kind="socketio", nickname="cy", room=""), "hello",
         'error event: {"message":"join a room first"}'),
        (dict(kind="websocket", nickname="di", room=""), '{"event": "message", "data": "hi"}',
         'error event: {"message":"join a room first"}'),
    ]
    for fields, text, shown in cases:
        page = open_demo(new_page, openline_url, **fields)
        if text is not None:
            expect(page.locator("#send")).to_be_enabled()
            send(page, text)
        expect(page.locator("#errors li")).to_have_count(1)
        expect(page.locator("#errors li")).to_have_text(re.compile(rf"^\d\d:\d\d:\d\d {re.escape(shown)}$"))
        expect(page.locator("#log li.err")).to_have_count(1)
        expect(page.locator("#log li.err span")).to_have_text(shown)
        expect(page.locator("#log li", has_text="join a room first")).to_have_count(
            1 if text is not None else 0)
        assert HH_MM_SS.match(page.locator("#log li.err time").inner_text())


def test_the_favicon_is_served(openline_url: str, new_page: Pages) -> None:
    """The page's icon link and /favicon.ico both answer 200 with an SVG image."""
    page = open_demo(new_page, openline_url, connect="0")
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert href == "/demo/favicon.svg"
    for path in (href, "/favicon.ico"):
        response = page.request.get(openline_url + path)
        assert (response.status, response.headers["content-type"]) == (200, "image/svg+xml")
        assert response.body().startswith(b"<svg ")


def test_the_admin_link_shows_only_when_the_server_serves_the_admin_ui(
        openline_url: str, new_page: Pages) -> None:
    """Without --admin /demo/page.json says so and the page has no admin link; told
    that the Admin UI is served, the page links to /admin/."""
    page = open_demo(new_page, openline_url, connect="0")
    assert page.request.get(openline_url + "/demo/page.json").json() == {"admin": False}
    expect(page.locator("#admin-link")).to_be_hidden()
    told = new_page()
    told.route("**/demo/page.json", lambda route: route.fulfill(json={"admin": True}))
    told.goto(demo_url(openline_url, connect="0"))
    expect(told.locator("#admin-link")).to_be_visible()
    assert told.locator("#admin-link").get_attribute("href") == "/admin/"
