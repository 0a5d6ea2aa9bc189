"""``/status``: the node now, as JSON for machines (``Accept: application/json``) or a
small page for people. Neither names a plugin's class or file, nor the Redis URL.

JSON keys: ``version``, ``node`` (its id; a cluster node's is its Redis host id),
``uptime_seconds``, ``ready`` (as /readyz), ``clients`` (``total`` and ``namespaces``:
namespace -> transport -> connected sockets, every served namespace and transport
listed), ``rooms`` (namespace -> rooms with members, sids' own rooms left out), ``redis``
(null without --redis-url, else ``{"up", "published", "dropped"}``).
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from . import census
from .node import NODE_KEY, Node


def snapshot(node: Node) -> dict[str, Any]:
    """The JSON document (module docstring)."""
    clients = census.clients(node.sio)
    redis = node.redis
    return {
        "version": node.version,
        "node": node.id,
        "uptime_seconds": round(node.uptime(), 3),
        "ready": not node.not_ready(),
        "clients": {"total": sum(sum(t.values()) for t in clients.values()), "namespaces": clients},
        "rooms": census.rooms(node.sio),
        "redis": None if redis is None else {
            "up": redis.up.is_set(), "published": redis.published,
            "dropped": redis.dropped_publishes},
    }


def wants_json(request: web.Request) -> bool:
    """Whether the Accept header prefers JSON to HTML (a browser's names HTML first)."""
    accept = request.headers.get("Accept", "")
    at_json, at_html = accept.find("application/json"), accept.find("text/html")
    return at_json != -1 and (at_html == -1 or at_json < at_html)


async def status(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    doc = snapshot(node)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}
    if wants_json(request):
        return web.json_response(doc, headers=headers)
    return web.Response(text=page(doc, node, f"{request.scheme}://{request.host}"),
                        content_type="text/html", headers=headers)


def _rows(doc: dict[str, Any], transports: list[str]) -> str:
    rows = []
    for namespace, by_transport in doc["clients"]["namespaces"].items():
        cells = "".join(f"<td>{by_transport.get(t, 0)}</td>" for t in transports)
        rows.append(f"<tr><td><code>{html.escape(namespace)}</code></td>{cells}"
                    f"<td>{doc['rooms'].get(namespace, 0)}</td></tr>")
    return "\n".join(rows)


def page(doc: dict[str, Any], node: Node, origin: str) -> str:
    transports = census.transports(node.sio)
    redis = doc["redis"]
    cluster = "not configured" if redis is None else (
        f"{'up' if redis['up'] else 'unreachable'}; {redis['published']} published, "
        f"{redis['dropped']} dropped")
    config = node.config
    head = "".join(f"<th>{html.escape(t)}</th>" for t in transports)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openline status</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}}
pre{{background:#f4f4f4;padding:.8rem}}</style></head><body>
<h1>openline {html.escape(doc["version"])}</h1>
<p>Node <code>{html.escape(doc["node"])}</code>, up {doc["uptime_seconds"]:.0f} s,
{"ready" if doc["ready"] else "<strong>not ready</strong> (" + ", ".join(node.not_ready()) + ")"};
{doc["clients"]["total"]} client(s). Redis: {html.escape(cluster)}.
Transports: {html.escape(", ".join(config.transports))}; serializer: {html.escape(config.serializer)}.
The same as JSON: <code>Accept: application/json</code>.</p>
<h2>Namespaces</h2>
<table><tr><th>path</th>{head}<th>rooms</th></tr>
{_rows(doc, transports)}
</table>
<h2>Connect</h2>
<pre>import {{ io }} from "socket.io-client";
const socket = io("{html.escape(origin)}");          // namespace "/"
socket.on("message", (m) =&gt; console.log(m));
socket.send("hello");</pre>
</body></html>"""
