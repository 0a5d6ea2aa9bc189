"""server/demo.py's routes besides the page: the favicon and what the page may link to."""

from __future__ import annotations

import aiohttp
import pytest
from openline.config import OPTIONS_BY_NAME


async def test_the_favicon_is_an_svg_at_both_addresses(start_server):
    """/demo/favicon.svg and /favicon.ico answer GET and HEAD with the SVG image."""
    url = await start_server()
    async with aiohttp.ClientSession() as http:
        for path in ("/demo/favicon.svg", "/favicon.ico"):
            for method in ("GET", "HEAD"):
                async with http.request(method, url + path) as response:
                    assert (response.status, response.content_type) == (200, "image/svg+xml")
                    body = await response.read()
                    assert body.startswith(b"<svg ") if method == "GET" else body == b""


async def test_page_json_says_whether_the_admin_ui_is_served(start_server):
    """/demo/page.json: {"admin": false} by default, {"admin": true} with --admin."""
    async with aiohttp.ClientSession() as http:
        async with http.get(await start_server() + "/demo/page.json") as response:
            assert await response.json() == {"admin": False}
        if "admin" not in OPTIONS_BY_NAME:
            pytest.skip("--admin is not an option of this tree yet")
        url = await start_server(admin=True, admin_no_auth=True)
        async with http.get(url + "/demo/page.json") as response:
            assert await response.json() == {"admin": True}
