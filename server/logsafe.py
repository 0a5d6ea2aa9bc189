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
"""

from __future__ import annotations

import logging
import re
import time
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


class SafeFormatter(logging.Formatter):
    """A Formatter whose message part is always one line (see the module docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape(record.message)
        return super().formatMessage(record)


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
