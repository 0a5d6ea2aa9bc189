"""Log hygiene for lines a client can influence, installed on the CLI's handler.

- ``SafeFormatter`` escapes control characters in the message (a newline in a namespace
  name or an event must not forge a second log line); tracebacks, which are ours, keep
  their lines.
- ``RateLimitFilter`` lets through at most ``burst`` records per message template per
  ``interval`` seconds and notes how many it held back on the next one it lets through,
  so ten thousand bad frames cost a handful of lines, not ten megabytes.

Only the CLI configures logging (``server/cli.py``); code logs with its named logger.
Where one kind of refusal is worth a line with a count (descriptor headroom, refused
origins), code says so itself with ``Throttle``.

One id per connection: its session id (the Engine.IO sid, or a bridge session's). A line
about a connection says ``session <id>`` in its text and passes ``extra=about(id)``; a
line logged while a connection's handler runs (a plugin's own lines) gets the id from
``CONNECTION`` through ``ConnectionFilter``, shown as `` [session <id>]`` after its text.
``JsonFormatter`` (``--log-format json``) writes each record as one JSON object with the
id as its own ``session`` field.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """``text`` with every control character written as an escape, on one line."""
    return _CONTROL.sub(_escape_one, text)


# --- the connection a line is about ------------------------------------------------

SESSION = "session"  # the record attribute, and the JSON field, holding the session id
# The session whose handler is running: set by the Socket.IO layer for a client's steps
# (server/realtime/client_steps.py) and its disconnect handler.
CONNECTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("openline_session",
                                                                        default=None)


def about(session_id: str) -> dict[str, str]:
    """``extra=`` for a line about one connection whose text names it already."""
    return {SESSION: session_id}


class ConnectionFilter(logging.Filter):
    """Gives a record logged while a connection's handler runs that connection's id,
    unless the line names one itself (``about``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SESSION, None) is None:
            session_id = CONNECTION.get()
            if session_id is not None:
                setattr(record, SESSION, session_id)
                record.openline_session_implied = True
        return True


def _implied(record: logging.LogRecord) -> str | None:
    """The session id a record's text does not show (given by ``ConnectionFilter``)."""
    return getattr(record, SESSION, None) if getattr(record, "openline_session_implied", False) \
        else None


class SafeFormatter(logging.Formatter):
    """A Formatter whose message part is always one line (see the module docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape(record.message)
        implied = _implied(record)
        if implied is not None:
            record.message += f" [session {escape(implied)}]"
        return super().formatMessage(record)


# JSON escapes C0 controls, but a raw DEL, C1 control (NEL splits lines for Python's
# splitlines) or U+2028/9 would stay: written as \uXXXX escapes, the same JSON string.
_JSON_EXTRA = re.compile("[\x7f-\x9f\u2028\u2029]")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time`` (UTC, ISO 8601, milliseconds),
    ``level``, ``logger``, ``message``; ``session`` when the line is about a connection;
    ``traceback`` when it has one (ours: the text keeps its lines as escaped newlines)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        session_id = getattr(record, SESSION, None)
        if session_id is not None:
            entry[SESSION] = session_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        return _JSON_EXTRA.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def preview(data: str | bytes, limit: int = 200) -> str:
    """A packet as a DEBUG line shows it: text cut at ``limit`` characters, bytes as a
    count. Only ever called behind a check that DEBUG is on."""
    if not isinstance(data, str):
        return f"<{len(data)} bytes>"
    return data if len(data) <= limit else f"{data[:limit]}... ({len(data)} characters)"


class RateLimitFilter(logging.Filter):
    """At most ``burst`` records per (logger, template) per ``interval`` seconds."""

    MAX_KEYS = 4096  # templates are code constants; a bound all the same

    def __init__(self, burst: int = 20, interval: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._windows: dict[tuple[str, object], list[float]] = {}  # key -> [start, passed, held]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.interval:
            held = int(window[2]) if window is not None else 0
            if len(self._windows) >= self.MAX_KEYS:
                self._windows.clear()
            self._windows[key] = [now, 1, 0]
            if held:
                record.msg = f"{record.msg} [{held} similar lines suppressed in {self.interval:g}s]"
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False


class Throttle:
    """One log line now, then at most one per ``interval``, counting what it skipped."""

    __slots__ = ("logger", "level", "interval", "_next", "_skipped")

    def __init__(self, logger: logging.Logger, level: int, interval: float = 10.0) -> None:
        self.logger = logger
        self.level = level
        self.interval = interval
        self._next = 0.0
        self._skipped = 0

    def note(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now < self._next:
            self._skipped += 1
            return
        self._next = now + self.interval
        if self._skipped:
            message += " (and %d more since the last such line)"
            args = (*args, self._skipped)
            self._skipped = 0
        self.logger.log(self.level, message, *args)
