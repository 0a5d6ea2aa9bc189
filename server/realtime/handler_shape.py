"""What shape a plugin's connect handler has, worked out once per handler."""

from __future__ import annotations

import functools
import inspect
from typing import Any


def accepts_auth(handler: Any, lead: int = 0) -> bool:
    """Whether a connect handler takes (sid, environ, auth) rather than (sid, environ),
    after ``lead`` arguments (1: the namespace a pattern's or "*"'s handlers take first);
    cached per handler: inspect.signature on every connect cost ~6% of a connect."""
    try:
        return _cached(handler, lead)
    except TypeError:  # an unhashable callable: work it out each time
        return _inspect(handler, lead)


def _inspect(handler: Any, lead: int = 0) -> bool:
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 + lead or any(p.kind is p.VAR_POSITIONAL for p in params)


# bound methods hash and compare by (instance, function), so one namespace's on_connect
# is one entry however often it is looked up
_cached = functools.lru_cache(maxsize=256)(_inspect)
