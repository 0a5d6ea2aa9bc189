"""The client_demo page at ``/`` and the socket.io-client browser bundles it loads.

The bundles come from ``client_demo/node_modules`` (``npm ci`` there, which ``make run``
does); when they are missing /vendor/ answers 404 with a hint and the page says how to
get them, while its plain-WebSocket mode needs nothing. The page is told --path in a
``<meta name="openline-path">`` tag, for its socket.io-client's ``path`` option.

``/demo/page.json`` tells the page what this server offers besides (``admin``: it serves
the Admin UI at /admin/, so the page links to it). The favicon is client_demo/favicon.svg,
at /favicon.ico too (browsers ask for it on every page of the origin).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEMO_DIR = Path(__file__).resolve().parent.parent / "client_demo"
# What the page may load, by name: nothing else under client_demo/ is served.
PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"}
ADMIN_PAGE = "/admin/"
SOCKETIO_DIST = DEMO_DIR / "node_modules" / "socket.io-client" / "dist"
# socket.io-client ships a build with socket.io-msgpack-parser inside, so msgpack mode
# needs no bundler: the page loads one bundle or the other.
VENDOR_FILES = {"socket.io.min.js": "socket.io.min.js",
                "socket.io.msgpack.min.js": "socket.io.msgpack.min.js"}
MISSING_BUNDLE = ("socket.io-client is not installed for the demo page: run `make run`, "
                  "or `npm ci` in client_demo/\n")


def add_routes(app: web.Application, or_bridge: Callable[[Handler], Handler],
               engine_path: str = "/socket.io/") -> None:
    """The page's routes; ``or_bridge`` hands WebSocket upgrades on these paths (``/`` is
    the root namespace) to the plain-WebSocket bridge. ``engine_path``: --path."""

    async def page(request: web.Request) -> web.StreamResponse:
        return await index(request, engine_path)

    app.router.add_get("/", or_bridge(page))
    app.router.add_get("/favicon.ico", or_bridge(favicon))
    app.router.add_get("/demo/page.json", or_bridge(page_info))
    app.router.add_get("/demo/{name}", or_bridge(page_file))
    app.router.add_get("/vendor/{name}", or_bridge(vendor_file))


async def index(request: web.Request, engine_path: str = "/socket.io/") -> web.StreamResponse:
    page = (DEMO_DIR / "index.html").read_text()
    meta = f'<meta name="openline-path" content="{html.escape(engine_path)}">\n</head>'
    return web.Response(text=page.replace("</head>", meta, 1), content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


async def page_info(request: web.Request) -> web.StreamResponse:
    """What the page may link to: ``{"admin": true}`` when this app serves the Admin UI."""
    admin = any(resource.canonical == ADMIN_PAGE for resource in request.app.router.resources())
    return web.json_response({"admin": admin}, headers={"Cache-Control": "no-cache"})


async def favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(DEMO_DIR / "favicon.svg", headers={
        "Content-Type": PAGE_FILES["favicon.svg"], "Cache-Control": "max-age=86400"})


async def page_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in PAGE_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(DEMO_DIR / name, headers={
        "Content-Type": PAGE_FILES[name], "Cache-Control": "no-cache"})


async def vendor_file(request: web.Request) -> web.StreamResponse:
    dist_name = VENDOR_FILES.get(request.match_info["name"])
    if dist_name is None:
        raise web.HTTPNotFound()
    path = SOCKETIO_DIST / dist_name
    if not path.is_file():
        raise web.HTTPNotFound(text=MISSING_BUNDLE)
    return web.FileResponse(path, headers={"Content-Type": "text/javascript"})
