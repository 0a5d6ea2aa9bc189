"""The exception tree of openline.

::

    OpenlineError                  base of everything openline raises on purpose
    ├── ConfigError                a setting has a value it cannot take (names the flag)
    ├── PluginError                a namespace plugin cannot be loaded (names the file)
    ├── EventError                 public: a handler refuses an event with its own message
    │                              (also a limit a handler ran into: --max-rooms)
    ├── ClusterError               Redis cannot be reached or refused a publish (names the URL)
    └── ProtocolError              the peer sent bytes the protocol does not allow, or past
        │                          a limit no conforming client reaches (attachments,
        │                          nesting); the peer misbehaved, not us; the connection closes
        └── EnvelopeError          a plain-WebSocket client's JSON envelope is malformed
                                   (it gets an ``error`` event; the connection stays)

Handlers refuse a connection with ``ConnectionRefusedError`` (Python's builtin or
``socketio.exceptions.ConnectionRefusedError``), as python-socketio documents; that is
not part of this tree because plugin code already knows it.
"""

from __future__ import annotations


class OpenlineError(Exception):
    """Base class of the errors openline raises on purpose."""


class ConfigError(OpenlineError):
    """A configuration value is out of range; ``str()`` is the one line the CLI prints."""

    def __init__(self, flag: str, accepted: str, got: object) -> None:
        self.flag = flag
        self.accepted = accepted
        self.got = got
        super().__init__(flag, accepted, got)

    def __str__(self) -> str:
        return f"{self.flag}: expected {self.accepted}, got {self.got!r}"


class PluginError(OpenlineError):
    """A plugin module is unusable; ``str()`` names the file(s) and the reason."""

    def __init__(self, origin: str, reason: str) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(origin, reason)

    def __str__(self) -> str:
        return f"plugin {self.origin}: {self.reason}"


class EventError(OpenlineError):
    """Raised by an event handler to send the client ``error`` with this message.

    Unlike any other exception escaping a handler, the text is meant for the client.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class ClusterError(OpenlineError):
    """Publishing through Redis failed (``openline emit``, ``Emitter``), or a node's Redis
    did not answer at start (``--redis-connect-timeout``); names the URL.

    A running node never raises it: it survives Redis outages and logs them instead.
    """

    def __init__(self, url: str, cause: BaseException, permanent: bool = False) -> None:
        self.url = url
        self.cause = cause
        self.permanent = permanent  # waiting will not help: a wrong URL, password or db
        super().__init__(url, cause)

    def __str__(self) -> str:
        cause = type(self.cause).__name__
        text = " ".join(str(self.cause).split())  # one line, whatever redis-py wrote
        return f"Redis at {self.url}: {cause}: {text}" if text else f"Redis at {self.url}: {cause}"


class ProtocolError(OpenlineError):
    """The peer sent something the Engine.IO/Socket.IO protocol does not allow."""


class EnvelopeError(ProtocolError):
    """A bridge client's ``{"event": …}`` envelope is malformed; ``str()`` says how.

    Unlike other protocol errors this one is answered, not punished: a person typing
    into a browser console should learn what was wrong and keep the connection.
    """
