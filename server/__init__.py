"""openline: a Socket.IO-compatible real-time server on aiohttp and python-socketio.

The public names::

    from openline import EventError   # a handler refuses an event with its own message
    from openline import Config       # every setting, as the CLI and environment give them
    from openline import create_app   # Config -> aiohttp web.Application
    from openline import Emitter      # emit to a cluster's clients from another process
    from openline import Namespace    # AsyncNamespace + connect hooks (use) and pattern params

The layers, top down (each package's docstring says what it owns and may import):

    cli, serve, app, plugins, demo    the shell: the command, the app factory, plugins
    ops/                              /metrics, /healthz, /readyz, /status
    bridge/  cluster/                 plain-WebSocket clients; scale-out through Redis
    realtime/                         the Socket.IO layer (python-socketio's AsyncServer)
    engine/                           the Engine.IO v4 layer
    net/                              the listening socket and its HTTP guards
    errors, config, values, logsafe   the foundation every layer may import

``create_app``, ``Emitter`` and ``Namespace`` load on first use, so ``import openline`` (and
``python -m openline.engine``) does not import the whole server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import EventError

if TYPE_CHECKING:
    from .app import create_app
    from .cluster.emitter import Emitter
    from .realtime.namespaces import Namespace

__version__ = "0.1.0"
__all__ = ["Config", "Emitter", "EventError", "Namespace", "__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Emitter":
        from .cluster.emitter import Emitter

        return Emitter
    if name == "Namespace":
        from .realtime.namespaces import Namespace

        return Namespace
    raise AttributeError(f"module 'openline' has no attribute {name!r}")
