"""The CLI's log hygiene: one line per record, a bounded number of records per template."""

from __future__ import annotations

import io
import logging

from openline.logsafe import RateLimitFilter, SafeFormatter, escape


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
