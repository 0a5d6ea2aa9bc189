"""The Socket.IO layer: python-socketio's ``AsyncServer`` with openline's policies.

Owns: the ``OpenlineServer`` subclass (server.py), the path of a client's event from
frame to handler to ack (events.py), per-client ordering (client_steps.py, write_scope.py),
the in-memory client manager (manager.py), the JSON and msgpack packet classes
(parsers.py), the rules a decoded packet must meet (packet_rules.py), connection state
recovery (resume.py), socket.io-client 2.x's Socket.IO protocol v4 (protocol_v4.py), and
every python-socketio seam openline relies on (seams.py).

May import: ``openline.engine``, the foundation modules and the libraries. It knows
nothing of the bridge or the cluster: they reach it, and it reaches a cluster only
through python-socketio's client-manager interface.
"""
