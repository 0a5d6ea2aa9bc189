"""openline's Engine.IO v4 server (see server.py); ``python -m server.engine`` runs it
alone as an echo server at /engine.io/."""

from .server import Engine

__all__ = ["Engine"]
