"""The listening socket and its HTTP/1.1 guards, below every protocol.

Owns: the accept loop with descriptor headroom (accept.py), aiohttp's request handler
with head, body and idle timeouts and per-address limits (http_guard.py), serving one
aiohttp app until a signal (listen.py), one route served past aiohttp's router
(fast_dispatch.py), and who the peer is behind trusted proxies
(remote.py), and the Redis client a --redis-url names, in any of its forms (redis_url.py).
Knows requests and sockets, not Engine.IO or Socket.IO.

May import: the foundation modules (``openline.errors``, ``openline.config``,
``openline.logsafe``) and the libraries. Nothing above it.
"""
