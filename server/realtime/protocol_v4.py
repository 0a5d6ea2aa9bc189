"""Socket.IO protocol v4: socket.io-client 2.x, over Engine.IO v3 (``--allow-eio3``).

Node's socket.io serves these clients where ``conn.protocol === 3``
(packages/socket.io/lib: index.ts, client.ts, socket.ts, namespace.ts); openline does as it
does. The packets are v5's (socket.io-parser 3 and 4 write EVENT, ACK, their binary forms
and DISCONNECT alike), except:

- the default namespace is joined implicitly: right after the handshake the server
  connects the session to ``/`` (``opened``), as if the client had sent a CONNECT with no
  auth; socket.io-client 2.x never sends one for ``/``. Where no plugin serves ``/`` the
  session is simply not connected there (Node always has ``/``; an error packet for it would
  reach every socket of the client as an ``error`` event);
- a CONNECT carries no payload: its auth is the query string after the namespace
  (``0/chat?nickname=ann,``, from socket.io-client 2.x's ``query`` option), as Node reads it
  (``URLSearchParams``: strings, the last of a repeated key);
- the CONNECT ack carries no payload (socket.io-client 2.x refuses one): no sid, no pid;
- a refusal is CONNECT_ERROR with a plain value, Node's ``err.data || err.message``: the
  refusal's data when it has one (JavaScript's truthiness), else its message;
  ``{"message": "Invalid namespace"}`` goes as the object, as Node sends it;
- a socket's sid is the Engine.IO sid in ``/`` and ``<namespace>#<Engine.IO sid>`` in
  another namespace: socket.io-client 2.x computes its ``socket.id`` so. (Node, and openline
  for v5 clients, use a sid of its own, as the Engine.IO sid is a polling session's
  credential: a plugin that shows sids to other clients shows them the v3 clients'.)
- no connection state recovery: no pid is made, a CONNECT's ``pid`` is not looked up, and
  the manager appends no offsets for this parser (``recovers``).

JSON only, as in Node (a socket.io-client 2.x with a msgpack parser is not served).
"""

from __future__ import annotations

import math
from typing import Any, Protocol
from urllib.parse import parse_qsl

from socketio import packet as sio_packet

from .parsers import JsonPacket

INVALID_NAMESPACE = {"message": "Invalid namespace"}


class Host(Protocol):
    """What ``opened`` uses of the server (server.py's OpenlineServer)."""

    def _session_of(self, eio_sid: str) -> Any: ...

    def serves(self, namespace: str) -> bool: ...

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> Any: ...


class LegacyPacket(JsonPacket):
    """socket.io-client 2.x's packets: JSON, CONNECT and CONNECT_ERROR in v4's forms."""

    recovers = False  # no connection state recovery: the manager appends no offsets

    def encode(self) -> Any:
        ptype = self.packet_type
        if ptype == sio_packet.CONNECT:
            return "0" + _namespace_part(self.namespace)
        if ptype == sio_packet.CONNECT_ERROR:
            return "4" + _namespace_part(self.namespace) + self.json.dumps(refusal(self.data))
        return super().encode()

    def decode(self, encoded_packet: Any) -> int:
        attachments = int(super().decode(encoded_packet) or 0)
        if self.packet_type == sio_packet.CONNECT:
            # stock's decode drops the query after the namespace, and any payload: the
            # query is the auth (Node: Object.fromEntries(url.searchParams))
            self.data = connect_query(encoded_packet)
        return attachments


def _namespace_part(namespace: str | None) -> str:
    return "" if namespace is None or namespace == "/" else namespace + ","


def connect_query(encoded: str) -> dict[str, str]:
    """The query string of a CONNECT packet's namespace (``0/chat?a=1&b=2,``) as a dict."""
    if encoded[1:2] != "/":
        return {}
    comma = encoded.find(",", 1)
    namespace = encoded[1:] if comma == -1 else encoded[1:comma]
    question = namespace.find("?")
    if question == -1:
        return {}
    return dict(parse_qsl(namespace[question + 1:], keep_blank_values=True))


def refusal(data: Any) -> Any:
    """A v5 CONNECT_ERROR payload (``{"message", "data"?}``) as v4 sends it."""
    if not isinstance(data, dict) or data == INVALID_NAMESPACE:
        return data
    extra = data.get("data")
    return extra if _truthy(extra) else data.get("message")


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness of a JSON value (an empty list or object is true there)."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def is_legacy(parser: Any) -> bool:
    return parser is LegacyPacket


def sid_for(namespace: str, eio_sid: str) -> str:
    """A v4-protocol socket's sid, as socket.io-client 2.x computes its ``socket.id``."""
    return eio_sid if namespace == "/" else f"{namespace}#{eio_sid}"


async def opened(server: Host, eio_sid: str) -> None:
    """An Engine.IO v3 session has opened: its parser is fixed, and it joins ``/``."""
    server._session_of(eio_sid).parser = LegacyPacket
    if server.serves("/"):
        await server._handle_connect(eio_sid, "/", {})
