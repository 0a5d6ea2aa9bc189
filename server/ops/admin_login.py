"""Who may connect to the Admin UI's namespace (--admin): the credentials, the login
sessions, the failed logins per address.

``{username, password}`` in the CONNECT's auth are compared as SHA-256 digests in
constant time (both, always: neither the user name nor the length of either shows in
the timing). A success is answered with a ``session`` id (128 random bits) the UI sends
instead on its next visit; only its digest is kept, SESSION_TTL long, in Redis too with
--redis-url, so a UI reloaded onto another node stays logged in. Wrong passwords count
against --api-max-failures per address (IPv6 per /64) as wrong API tokens do; a session
id that is unknown (expired, or the server restarted) is refused without counting, as
guessing one is hopeless. --admin-no-auth admits anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from socketio.exceptions import ConnectionRefusedError

from ..cluster.api import Failures
from ..config import Config
from .admin_link import AdminLink

log = logging.getLogger("openline.admin")

SESSION_TTL = 86400.0  # seconds a login session stays valid (Node's RedisStore default)
MAX_SESSIONS = 10_000  # sessions kept per node; past it the oldest go


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Logins:
    """Who may connect to /admin: the credentials, the sessions, the failure counts."""

    def __init__(self, config: Config) -> None:
        self.open = config.admin_no_auth
        self.user = _digest(config.admin_user)
        self.password = _digest(config.admin_password or "")
        self.failures = Failures(config.api_max_failures)
        self.sessions: dict[str, float] = {}  # session id's SHA-256 hex -> expiry (time.time)
        self.link: AdminLink | None = None

    async def check(self, environ: dict[str, Any], auth: Any) -> str | None:
        """None: admitted on a session or with no login; a new session id: admitted by
        the password. Refused: ConnectionRefusedError (its message is what the UI shows)."""
        if self.open:
            return None
        auth = auth if isinstance(auth, dict) else {}
        session = auth.get("sessionId")
        if isinstance(session, str) and session and await self._known(session):
            return None
        user, password = auth.get("username"), auth.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise ConnectionRefusedError("invalid credentials")
        address, now = str(environ.get("REMOTE_ADDR", "")), time.monotonic()
        wait = self.failures.retry_after(address, now)
        if wait:
            raise ConnectionRefusedError(f"too many failed logins; retry in {wait}s")
        right_user = hmac.compare_digest(_digest(user), self.user)
        if hmac.compare_digest(_digest(password), self.password) and right_user:
            return await self._new()
        count = self.failures.add(address, now)
        log.warning("Admin UI login refused from %s (%d in the last minute)", address, count)
        raise ConnectionRefusedError("invalid credentials")

    async def _known(self, session: str) -> bool:
        key = hashlib.sha256(session.encode()).hexdigest()
        expiry = self.sessions.get(key)
        if expiry is not None:
            if expiry > time.time():
                return True
            del self.sessions[key]
        return self.link is not None and await self.link.has_session(key)

    async def _new(self) -> str:
        session = secrets.token_urlsafe(16)
        key = hashlib.sha256(session.encode()).hexdigest()
        while len(self.sessions) >= MAX_SESSIONS:
            del self.sessions[next(iter(self.sessions))]
        self.sessions[key] = time.time() + SESSION_TTL
        if self.link is not None:
            await self.link.save_session(key, SESSION_TTL)
        return session
