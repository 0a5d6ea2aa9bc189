"""openline: a Socket.IO-compatible real-time server on aiohttp and python-socketio."""

__version__ = "0.1.0"
