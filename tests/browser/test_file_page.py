"""The README's plain-WebSocket snippet in a page opened from a file (``Origin: null``):
served under the development settings (``--dev-origins``, which ``make run`` passes),
refused by a production ``openline run``, in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import serve_openline
from tests.conftest import OUTPUT, ROOT

README = ROOT / "README.md"
Pages = Callable[[], Page]


def readme_snippet() -> str:
    """The first ```js block of the README's "Plain WebSocket clients" section."""
    section = README.read_text().split("## Plain WebSocket clients", 1)[1]
    match = re.search(r"```js\n(.*?)```", section, re.S)
    assert match, "README lost its plain WebSocket snippet"
    return match.group(1)


@pytest.fixture(scope="module")
def dev_server() -> Iterator[tuple[str, Path]]:
    yield from with_log("file-page-server-dev.log", "--dev-origins")


@pytest.fixture(scope="module")
def strict_server() -> Iterator[tuple[str, Path]]:
    yield from with_log("file-page-server.log")


def with_log(log_name: str, *flags: str) -> Iterator[tuple[str, Path]]:
    for url in serve_openline(log_name, *flags):
        yield url, OUTPUT / log_name


def file_page(tmp_path: Path, url: str) -> str:
    """An HTML file running the README snippet against ``url``'s port; its file:// URL."""
    port = url.rsplit(":", 1)[1]
    script = readme_snippet().replace("localhost:1740", f"localhost:{port}")
    # the snippet is typed line by line into a console, where send() runs once the socket
    # is open; in a page it runs at once, so the send waits for the open event
    script = script.replace("connection.send('hello');",
                            "connection.addEventListener('open', () => connection.send('hello'));")
    page = tmp_path / "seed.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><title>seed</title><script>\n{script}</script>\n")
    return page.as_uri()


def console_lines(new_page: Pages, uri: str, until: str) -> list[str]:
    page = new_page()
    lines: list[str] = []
    page.on("console", lambda msg: lines.append(msg.text))
    with page.expect_console_message(lambda msg: until in msg.text):
        page.goto(uri)
    return lines


def test_the_readme_snippet_from_a_file_works_under_the_dev_settings(dev_server, new_page: Pages,
                                                                     tmp_path: Path) -> None:
    """Under --dev-origins (make run), the file:// page opens the WebSocket and hello comes back."""
    url, log_path = dev_server
    lines = console_lines(new_page, file_page(tmp_path, url), "server says")
    assert lines[:2] == ["open 1", "server says hello"]
    assert "development origins (--dev-origins)" in log_path.read_text()


def test_the_same_page_is_refused_by_a_production_server(strict_server, new_page: Pages,
                                                          tmp_path: Path) -> None:
    """Without --dev-origins the file:// page is refused (403 before the 101); the log says how to fix it."""
    url, log_path = strict_server
    lines = console_lines(new_page, file_page(tmp_path, url), "WebSocket error")
    assert lines and lines[-1].startswith("WebSocket error")
    log = log_path.read_text()
    assert "WARNING" in log and "origin null (a page opened from a file) not allowed; start the server " \
        "with --cors-origins null, or --dev-origins on a development machine (make run does)" in log
