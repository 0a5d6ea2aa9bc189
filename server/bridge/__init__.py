"""Plain-WebSocket clients (the browser's bare ``WebSocket``) as Socket.IO sessions.

Owns: the bridge session (sessions.py), its writes and their budget (outbound.py), its
route (route.py), its handshake rules (handshake.py) and its framing, pure functions
with no sockets (envelope.py). A bridge session is another kind of session beside the
engine's: it registers with the Socket.IO layer and then connects, emits and receives
exactly as an Engine.IO session does.

May import: ``openline.realtime``, ``openline.engine`` (frame headers, origin policy,
send-buffer accounting), ``openline.net``, the foundation modules. Not the cluster.
"""
