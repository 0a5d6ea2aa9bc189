"""The CLI's log hygiene: one line per record, a bounded number of records per template,
the session a line is about, JSON lines (--log-format json)."""

from __future__ import annotations

import io
import json
import logging
import re

from openline.logsafe import (
    CONNECTION,
    ConnectionFilter,
    JsonFormatter,
    RateLimitFilter,
    SafeFormatter,
    about,
    escape,
    preview,
)


def _logger(stream: io.StringIO, burst: int = 3, interval: float = 60.0) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RateLimitFilter(burst=burst, interval=interval))
    logger = logging.getLogger(f"openline.test.logsafe.{id(stream)}")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    return logger


def test_escape_writes_control_characters_as_escapes():
    """Newlines, carriage returns, NUL, DEL, C1 and U+2028 become visible escapes."""
    assert escape("a\nb\rc\td\x00e\x7ff\x85g\u2028h") == "a\\nb\\rc\\td\\x00e\\x7ff\\x85g\\u2028h"
    assert escape("plain é ü") == "plain é ü"


def test_a_newline_in_an_argument_cannot_forge_a_log_line():
    """A client-chosen namespace with a newline and a fake record stays on its own line."""
    stream = io.StringIO()
    _logger(stream).warning("bad namespace %s", "/x\n2026-12-01 INFO openline.app: forged")
    assert stream.getvalue() == f"WARNING openline.test.logsafe.{id(stream)}: bad namespace " \
        "/x\\n2026-12-01 INFO openline.app: forged\n"


def test_tracebacks_keep_their_lines():
    """An exception's traceback (our bug) is still printed line by line."""
    stream = io.StringIO()
    logger = _logger(stream)
    try:
        raise KeyError("k")
    except KeyError:
        logger.exception("handler failed")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("handler failed")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "KeyError: 'k'"


def test_rate_limit_lets_burst_records_per_template_through():
    """10,000 records of one template print 3 lines; another template is counted apart."""
    stream = io.StringIO()
    logger = _logger(stream, burst=3)
    for i in range(10_000):
        logger.warning("bad frame from %s", i)
    logger.warning("other kind")
    assert stream.getvalue().count("\n") == 4


def test_rate_limit_reports_what_it_held_back():
    """The first record of a new window says how many similar lines were suppressed."""
    stream = io.StringIO()
    logger = _logger(stream, burst=1, interval=0.0)
    flt = logger.handlers[0].filters[0]
    assert isinstance(flt, RateLimitFilter)
    flt.interval = 3600.0
    for _ in range(5):
        logger.warning("flood")
    flt.interval = 0.0
    logger.warning("flood")
    assert stream.getvalue().splitlines()[-1] == \
        f"WARNING {logger.name}: flood [4 similar lines suppressed in 0s]"


def _json_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimitFilter(burst=3, interval=60.0))
    handler.addFilter(ConnectionFilter())
    logger = logging.getLogger(f"openline.test.logsafe.json.{id(stream)}")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    return logger


def test_json_lines_have_exact_keys_and_escape_every_line_break():
    """A JSON line has time, level, logger, message (and session for a connection's line);
    newline, CR, NEL and U+2028 in a client's text are escapes, so each record is one line."""
    stream = io.StringIO()
    logger = _json_logger(stream)
    logger.info("started")
    logger.warning("session %s: bad namespace %s", "s1", "/x\n\r\x85\u2028y", extra=about("s1"))
    lines = stream.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert stream.getvalue().splitlines() == lines[:2]  # no NEL or U+2028 left raw
    first, second = (json.loads(line) for line in lines[:2])
    assert sorted(first) == ["level", "logger", "message", "time"]
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second == {"time": second["time"], "level": "WARNING", "logger": logger.name,
                      "message": "session s1: bad namespace /x\n\r\x85\u2028y", "session": "s1"}
    assert '/x\\n\\r\\u0085\\u2028y' in lines[1]


def test_json_line_carries_a_traceback_on_the_same_line():
    """An exception's traceback is the ``traceback`` field of the record's one line."""
    stream = io.StringIO()
    try:
        raise KeyError("k")
    except KeyError:
        _json_logger(stream).exception("handler failed")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert sorted(record) == ["level", "logger", "message", "time", "traceback"]
    assert record["traceback"].startswith("Traceback (most recent call last):\n")
    assert record["traceback"].endswith("KeyError: 'k'")


def test_a_line_logged_while_a_connection_runs_names_its_session():
    """Inside a connection's context a plain line gets its session (`` [session s2]`` in
    text, the field in JSON); a line naming its own session keeps it, without the suffix."""
    text, as_json = io.StringIO(), io.StringIO()
    plain = _logger(text)
    plain.handlers[0].addFilter(ConnectionFilter())
    structured = _json_logger(as_json)
    token = CONNECTION.set("s2")
    try:
        plain.info("joined /chat as %s", "ann")
        plain.info("session %s upgraded", "s3", extra=about("s3"))
        structured.info("joined /chat as %s", "ann")
    finally:
        CONNECTION.reset(token)
    plain.info("no connection")
    assert text.getvalue().splitlines() == [
        f"INFO {plain.name}: joined /chat as ann [session s2]",
        f"INFO {plain.name}: session s3 upgraded",
        f"INFO {plain.name}: no connection",
    ]
    assert json.loads(as_json.getvalue())["session"] == "s2"


def test_preview_cuts_long_text_and_counts_bytes():
    """A DEBUG packet line shows at most 200 characters of text, and bytes as a count."""
    assert preview("42[1]") == "42[1]"
    assert preview("x" * 250) == "x" * 200 + "... (250 characters)"
    assert preview(b"\x00\x01\x02") == "<3 bytes>"
