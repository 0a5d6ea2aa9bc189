"""The Engine.IO v4 layer: openline's own server on aiohttp (``Engine``, server.py).

Owns: sessions and their bounded send buffers (session.py), the two transports
(polling.py, websocket.py, direct.py), heartbeats (heartbeat.py), stalled peers
(stall.py), the packet codec as pure functions (packets.py), Engine.IO v3 beside v4 for
``--allow-eio3`` (eio3.py, its codec; eio3_session.py, its sessions), and request
checks: origins, CORS, environ (request.py), its text answers written in one piece
(answer.py), and the common long-polling requests answered in the connection's read
callback, past aiohttp's request loop (inline.py). Knows frames and sessions, not
namespaces; never awaits a peer. ``python -m openline.engine`` runs it alone as an echo
server at /engine.io/.

May import: ``openline.net``, the foundation modules (``openline.errors``,
``openline.config``, ``openline.logsafe``) and the libraries. Sessions and transports
reach the engine through ``session.Host``, never by importing server.py.
"""

from .server import Engine

__all__ = ["Engine"]
