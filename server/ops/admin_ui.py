"""The Admin UI's page at ``/admin/``: @socket.io/admin-ui's built UI (``ui/dist`` of the
npm package, installed in client_demo/ by ``npm ci``, which ``make run`` does).

Its index.html loads the Material Design icon font from a CDN and Roboto from Google
Fonts; here the icons come from the ``@mdi/font`` package installed beside it (same
origin, so the page works offline and tells no third party who opens it) and the text
takes the browser's sans-serif. The page may not be framed (it has buttons that
disconnect clients). Not installed: 404 saying how to install it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

MODULES = Path(__file__).resolve().parent.parent.parent / "client_demo" / "node_modules"
UI_DIST = MODULES / "@socket.io" / "admin-ui" / "ui" / "dist"
MDI = MODULES / "@mdi" / "font"
MDI_CDN = "https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css"
ROBOTO = ('<link rel="stylesheet" '
          'href="https://fonts.googleapis.com/css?family=Roboto:100,300,400,500,700,900">')
NOT_INSTALLED = (
    "The Socket.IO Admin UI is not installed: run `npm ci` in client_demo/ (`make run` "
    "does), which installs @socket.io/admin-ui. Its protocol is served all the same: the "
    "hosted UI at https://admin.socket.io can connect with --cors-origins "
    "https://admin.socket.io.\n")
NO_FRAMES = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


def add_routes(app: web.Application, or_bridge: Callable[[Any], Any]) -> None:
    """``/admin`` (to ``/admin/``), the page and its files; ``or_bridge`` hands WebSocket
    upgrades on these paths to the bridge (``/admin`` is a namespace there too)."""
    app.router.add_get("/admin", or_bridge(to_page))
    app.router.add_get("/admin/", or_bridge(index))
    app.router.add_get("/admin/{name:.+}", or_bridge(ui_file))


async def to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/admin/")


def page() -> str:
    """index.html with the fonts taken off the CDNs."""
    text = (UI_DIST / "index.html").read_text()
    if (MDI / "css" / "materialdesignicons.min.css").is_file():
        text = text.replace(MDI_CDN, "mdi/css/materialdesignicons.min.css")
    return text.replace(ROBOTO, "")


async def index(request: web.Request) -> web.StreamResponse:
    if not (UI_DIST / "index.html").is_file():
        raise web.HTTPNotFound(text=NOT_INSTALLED)
    return web.Response(text=page(), content_type="text/html",
                        headers={"Cache-Control": "no-cache", **NO_FRAMES})


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` if it is a file under ``root`` (no ``..``, no link out of it)."""
    base = root.resolve()
    path = (base / name).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


async def ui_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "index.html":
        return await index(request)
    if not UI_DIST.is_dir():
        raise web.HTTPNotFound(text=NOT_INSTALLED)
    if name.startswith("mdi/"):
        path = _inside(MDI, name[len("mdi/"):]) if name.startswith(("mdi/css/", "mdi/fonts/")) else None
    else:
        path = _inside(UI_DIST, name)
    if path is None:
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # the UI's own files carry a content hash in their names; the fonts a version query
    return web.FileResponse(path, headers={"Content-Type": kind,
                                           "Cache-Control": "public, max-age=86400"})
