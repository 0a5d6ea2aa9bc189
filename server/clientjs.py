"""socket.io-client's browser bundles at ``<--path>socket.io.js`` and the like, as Node's
socket.io serves them (its ``serveClient``, on by default; ``--no-serve-client``: off).

The files are Node's eight (``CLIENT_FILES``), read from the installed socket.io-client
package (``client_demo/node_modules``: ``npm ci`` there, which ``make run`` does); absent,
they are a 404 saying so. As in Node: ``ETag`` is the package version, quoted, and an
``If-None-Match`` with it (or its weak form) gets 304; ``Cache-Control: public,
max-age=0``; ``application/javascript`` (the maps: ``application/json``), UTF-8; the
origin policy's CORS headers for an allowed page (an ES module import needs them).
Beyond Node: an ``If-None-Match`` list or ``*`` is understood, ``Vary: Accept-Encoding``
is sent, and each file is compressed once per coding (gzip or deflate as
``Accept-Encoding`` chooses, engine/compress.py; Node also offers brotli) and kept.
``--no-http-compression`` turns that off as well.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .config import Config
from .demo import SOCKETIO_DIST
from .engine.compress import compress, negotiate
from .engine.request import policy_for

log = logging.getLogger("openline.clientjs")

CLIENT_FILES = (
    "socket.io.js", "socket.io.js.map", "socket.io.min.js", "socket.io.min.js.map",
    "socket.io.msgpack.min.js", "socket.io.msgpack.min.js.map",
    "socket.io.esm.min.js", "socket.io.esm.min.js.map",
)
DIST = SOCKETIO_DIST  # read when the app is made (tests point it elsewhere)
MISSING = "socket.io-client is not installed: run make run / npm ci in client_demo\n"
LEVEL = 9  # compressed once and kept: the smallest output is worth the one-off cost


@dataclass
class _Bundle:
    stamp: tuple[int, int]  # (mtime_ns, size) of the file when read
    body: bytes
    etag: str
    encoded: dict[str, bytes] = field(default_factory=dict)


class Bundles:
    """The bundle routes of one app: each file read on first request (again when it
    changes on disk) and kept, with its compressed forms."""

    def __init__(self, config: Config, dist: Path) -> None:
        self.config = config
        self.dist = dist
        self.files: dict[str, _Bundle] = {}

    def add_routes(self, app: web.Application) -> None:
        for name in CLIENT_FILES:
            app.router.add_get(self.config.path + name, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.path.rsplit("/", 1)[-1]
        bundle = self._load(name)
        if bundle is None:
            return web.Response(status=404, text=MISSING)
        headers = {"ETag": bundle.etag, "Cache-Control": "public, max-age=0"}
        if self.config.http_compression:
            headers["Vary"] = "Accept-Encoding"
        headers.update(policy_for(self.config).check(request) or {})
        if _matches(request.headers.get("If-None-Match"), bundle.etag):
            return web.Response(status=304, headers=headers)
        body = bundle.body
        encoding = negotiate(request.headers.get("Accept-Encoding")) \
            if self.config.http_compression else None
        if encoding is not None:
            encoded = bundle.encoded.get(encoding)
            if encoded is None:  # ~50 ms for the largest map at level 9: off the loop
                encoded = await asyncio.get_running_loop().run_in_executor(
                    None, compress, body, encoding, LEVEL)
                bundle.encoded[encoding] = encoded
            body = encoded
            headers["Content-Encoding"] = encoding
        kind = "json" if name.endswith(".map") else "javascript"
        return web.Response(body=body, headers=headers, content_type=f"application/{kind}",
                            charset="utf-8")

    def _load(self, name: str) -> _Bundle | None:
        path = self.dist / name
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            bundle = self.files.get(name)
            if bundle is None or bundle.stamp != stamp:
                bundle = self.files[name] = _Bundle(stamp, path.read_bytes(), self._etag(stamp))
        except OSError:
            self.files.pop(name, None)
            return None
        return bundle

    def _etag(self, stamp: tuple[int, int]) -> str:
        """The package version quoted, as Node's (``"4.8.4"``); without a readable
        package.json, the file's mtime and size."""
        try:
            version = json.loads((self.dist.parent / "package.json").read_text())["version"]
            if isinstance(version, str) and version.isprintable() and '"' not in version:
                return f'"{version}"'
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return f'"{stamp[0]:x}-{stamp[1]:x}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison, as If-None-Match uses it: a list, ``W/`` forms, ``*``."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def add_routes(app: web.Application, config: Config) -> None:
    """Serve the bundles under ``config.path``; say at start when they are missing."""
    bundles = Bundles(config, DIST)
    bundles.add_routes(app)
    if not os.path.isdir(DIST):
        log.info("%s and the other client bundles answer 404: socket.io-client is not "
                 "installed in %s", config.path + CLIENT_FILES[0], DIST)
