"""One typed, frozen Config, and the table of options the CLI mirrors.

Every option lives once in ``OPTIONS``: its flag, environment name, default, parser and
help text. The CLI builds its flags from that table and the README's configuration
table is checked against it by a meta-test, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .values import (  # noqa: F401  (Network, TRANSPORTS: re-exported: other layers name them)
    TRANSPORTS,
    Network,
    _bool,
    _bytes,
    _choice,
    _cookie,
    _count,
    _dirs,
    _invert,
    _limit,
    _name,
    _networks,
    _origins,
    _path,
    _port,
    _positive_seconds,
    _rate,
    _redis_url,
    _text,
    _transports,
    _window,
)

ENV_PREFIX = "OPENLINE_"
SERIALIZERS = ("auto", "json", "msgpack")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ADMIN_MODES = ("development", "production")
LOG_FORMATS = ("text", "json")
CLUSTER_FORMATS = ("auto", "batch", "stock")
REDIS_URL_FORMS = ("a redis://, rediss://, unix://, valkey://, valkeys:// or "
                   "redis+sentinel://host:port[,host:port...]/db/service URL")

@dataclass(frozen=True, slots=True)
class Config:
    """Everything a server needs to know; built by ``Config.from_options`` or directly."""

    # Network
    host: str = "127.0.0.1"
    port: int = 1740
    reload: bool = False
    # Plugins
    plugins_dirs: tuple[Path, ...] = ()
    builtins: bool = True
    # Protocol
    serializer: str = "auto"
    transports: tuple[str, ...] = TRANSPORTS
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    connect_timeout: float = 45.0
    # Engine.IO v3 / Socket.IO protocol v4 clients too (socket.io-client 2.x), as Node's
    # allowEIO3; off by default, as there (engine/eio3.py, realtime/protocol_v4.py)
    allow_eio3: bool = False
    # Engine.IO (Node's engine.io and socket.io options: path, allowUpgrades, upgradeTimeout,
    # httpCompression, cookie, serveClient)
    path: str = "/socket.io/"  # where the engine answers, "/a/b/" form (config._path)
    allow_upgrades: bool = True  # off: no "websocket" in the handshake, upgrades get 400
    upgrade_timeout: float = 10.0  # seconds from an upgrade's WebSocket to its upgrade packet
    http_compression: bool = True  # gzip/deflate polling responses of the threshold or more
    http_compression_threshold: int = 1024  # bytes
    cookie: str | None = None  # "NAME; Attr; ..." normalized (config._cookie); None: none
    serve_client: bool = True  # socket.io-client's bundles at <path>socket.io.js and the like
    # Limits (each enforced in one place; docs/design.md says where)
    max_payload: int = 1_000_000
    websocket_compression: bool = False
    send_budget: int = 1 << 20  # unsent bytes held per client before it is closed
    send_grace: float = 5.0  # seconds a client's unsent data may make no progress
    max_attachments: int = 10  # binary attachments per packet (as Node's socket.io-parser)
    max_queued_events: int = 256  # events waiting for a client's handler: then back-pressure
    max_queued_bytes: int = 4 << 20  # frame bytes of those events: the same
    handler_overlap: int = 1  # a client's events whose handlers may run at once (1: in turn)
    max_rooms: int = 1000  # rooms one client (sid) may be in
    max_namespaces: int = 32  # namespaces one session may connect to
    rate_limit: float | None = None  # events per second per client (token bucket); None: off
    rate_burst: int = 100  # events a client may send at once before the rate applies
    max_connections_per_address: int | None = 1000  # None: unlimited
    max_json_depth: int = 64  # nesting of arrays/objects in any packet or body
    # HTTP
    cors_origins: tuple[str, ...] | None = None  # None: same origin only; ("*",): any
    dev_origins: bool = False  # also file:// pages (Origin null) and localhost on any port
    public_origins: tuple[str, ...] | None = None  # None: http://<host>:<port> and its loopback aliases
    trusted_proxies: tuple[Network, ...] = ()
    header_timeout: float = 10.0  # seconds to receive a request's head
    body_timeout: float = 30.0  # seconds to receive a request body (between chunks)
    idle_timeout: float = 60.0  # seconds a keep-alive connection may sit idle
    fd_headroom: int = 64  # descriptors kept free: new connections refused at once past it
    # Connection state recovery (None: off, as in Node: the offset it appends to events
    # reaches clients that do not expect it, such as python-socketio's)
    recovery_window: float | None = None  # seconds a dropped client may come back in
    recovery_max_packets: int = 10_000  # events kept per namespace for clients to catch up
    drain_timeout: float = 10.0  # seconds SIGTERM waits for sessions to be saved and closed
    # Cluster
    redis_url: str | None = None
    redis_publish_timeout: float = 2.0  # a publish stalled longer is dropped and counted
    redis_connect_timeout: float = 5.0  # at start: no answer by then is exit status 2
    redis_start_anyway: bool = False  # at start: serve without Redis, join when it answers
    cluster_format: str = "auto"  # batch (openline peers), stock (single), auto: detected
    cluster_timeout: float = 5.0  # a cluster-wide request waits this long for the nodes
    cluster_heartbeat: float = 5.0  # seconds between a node's heartbeats (Node's 5 s)
    cluster_heartbeat_timeout: float = 10.0  # silent this long: a node is gone (Node's 10 s)
    cluster_max_requests: int = 10_000  # cluster-wide requests waiting (and being answered) at once
    api_token: str | None = None
    api_max_failures: int = 10  # wrong tokens (Admin UI logins too) per minute per address
    # Operations (server/ops: /metrics, /healthz, /readyz, /status)
    metrics: bool = True  # Prometheus metrics at /metrics; off: nothing is counted per event
    demo: bool = True  # the demo page at /; off for production (then / is a 404)
    status: bool = True  # /status, the live status page and JSON; off: 404
    # The Socket.IO Admin UI (server/ops/admin.py): off unless --admin
    admin: bool = False
    admin_user: str = "admin"
    admin_password: str | None = None  # required with --admin unless admin_no_auth
    admin_no_auth: bool = False  # explicit opt-in to an Admin UI without a login
    admin_readonly: bool = False  # no join, leave, disconnect or emit from the UI
    admin_mode: str = "development"  # production: server stats only, nothing per socket
    admin_server_id: str | None = None  # None: <hostname>#<pid>
    # Logging
    log_level: str = "info"
    log_format: str = "text"  # json: one JSON object per line (server/logsafe.py)

    @classmethod
    def from_options(cls, raw: Mapping[str, Any]) -> Config:
        """Build a Config from raw option values (strings from argv or the environment).

        Keys are option names (``ping_interval``); values already of the right type pass.
        """
        kwargs: dict[str, Any] = {}
        for opt in OPTIONS:
            if opt.name in raw and raw[opt.name] is not None:
                kwargs[opt.name] = opt.convert(raw[opt.name])
        config = cls(**kwargs)
        config.check()
        return config

    def check(self) -> None:
        """Cross-field rules a single parser cannot see."""
        if not self.transports:
            raise ConfigError("--transports", "at least one of polling,websocket", "")
        if self.admin and self.admin_password is None and not self.admin_no_auth:
            raise ConfigError("--admin", "--admin-password (or OPENLINE_ADMIN_PASSWORD) to log "
                              "in with, or --admin-no-auth for a UI without a login", "no password")
        if self.admin_no_auth and self.admin_password is not None:
            raise ConfigError("--admin-no-auth", "no --admin-password beside it", "a password")
        if self.cluster_heartbeat_timeout <= self.cluster_heartbeat:
            raise ConfigError("--cluster-heartbeat-timeout", "more seconds than --cluster-heartbeat "
                              f"({self.cluster_heartbeat:g})", self.cluster_heartbeat_timeout)


@dataclass(frozen=True)
class Option:
    """One configuration option as the CLI, the environment and the README know it."""

    name: str
    parse: Callable[[Any], Any]
    accepted: str
    help: str
    metavar: str | None = None  # None: a boolean switch
    repeatable: bool = False
    flag_name: str | None = None  # when the flag differs from the field (--no-builtins)

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.name.replace("_", "-"))

    @property
    def env(self) -> str:
        return ENV_PREFIX + (self.flag_name or self.name).upper().replace("-", "_")

    @property
    def default(self) -> Any:
        return {f.name: f.default for f in fields(Config)}.get(self.name)

    @property
    def default_text(self) -> str:
        """The default as ``--help`` shows it."""
        value = self.default
        if self.metavar is None:  # a switch: given or not (--no-builtins inverts its field)
            return "off" if bool(value) == (self.flag_name is not None) else "on"
        if value is None or value == ():
            return "off" if "off" in self.accepted else "none"
        if isinstance(value, (tuple, list)):
            return ",".join(str(item) for item in value)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def convert(self, raw: Any) -> Any:
        if self.repeatable and isinstance(raw, (list, tuple)):
            for item in raw:  # name the one bad item, not the whole list
                self.convert(str(item))
        try:
            return self.parse(raw)
        except (ValueError, TypeError):
            raise ConfigError(self.flag, self.accepted, raw) from None


OPTIONS: tuple[Option, ...] = (
    Option("host", str, "a host name or address", "address to listen on", "HOST"),
    Option("port", _port, "an integer 0-65535", "port to listen on (0: any free port)", "PORT"),
    Option("plugins_dirs", _dirs, "an existing directory", "load every *.py here as a namespace plugin",
           "DIR", repeatable=True, flag_name="plugins-dir"),
    Option("builtins", _invert, "true or false", "do not load the built-in namespaces (/ and /chat)",
           flag_name="no-builtins"),
    Option("serializer", _choice(SERIALIZERS), "one of auto, json, msgpack",
           "packet format; auto detects it per connection", "NAME"),
    Option("transports", _transports, "a comma list of polling, websocket",
           "transports clients may use", "LIST"),
    Option("allow_eio3", _bool, "true or false",
           "also serve socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4), as Node's "
           "allowEIO3; JSON only, no connection state recovery"),
    Option("path", _path, "a URL path of letters, digits and . _ ~ - segments, not /",
           "where Socket.IO answers on both transports (the client's path option) and serves "
           "its client bundles", "PATH"),
    Option("allow_upgrades", _invert, "true or false",
           "do not offer or accept upgrades from long-polling to WebSocket", flag_name="no-upgrades"),
    Option("upgrade_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a client may take to complete an upgrade to WebSocket", "SECONDS"),
    Option("cookie", _cookie, "a cookie name, optionally followed by ; Path=, Domain=, Max-Age=, "
           "SameSite=, Secure, HttpOnly, Partitioned; or off",
           "set this cookie to the session id on each handshake (sticky sessions); a name alone "
           "gets Path=/; HttpOnly; SameSite=Lax", "NAME[;ATTRS]"),
    Option("http_compression", _invert, "true or false",
           "do not gzip or deflate HTTP responses (long-polling, client bundles)",
           flag_name="no-http-compression"),
    Option("http_compression_threshold", _bytes, "an integer number of bytes >= 1",
           "smallest long-polling response that is compressed", "BYTES"),
    Option("serve_client", _invert, "true or false",
           "do not serve the socket.io-client bundles at <path>socket.io.js and the like",
           flag_name="no-serve-client"),
    Option("cors_origins", _origins, "a comma list of origins (scheme://host[:port], null) or *",
           "origins allowed for CORS and WebSocket besides the same origin", "LIST"),
    Option("dev_origins", _bool, "true or false",
           "development (make run): also accept pages opened from a file (Origin null) and "
           "pages from localhost on any port; not for production"),
    Option("public_origins", _origins, "a comma list of origins (scheme://host[:port])",
           "origins this server is reached at, for the same-origin rule", "LIST"),
    Option("header_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a client may take to send a request's head", "SECONDS"),
    Option("body_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a request body may stall between chunks", "SECONDS"),
    Option("idle_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long an idle keep-alive HTTP connection is kept", "SECONDS"),
    Option("fd_headroom", _count, "an integer >= 1",
           "file descriptors kept free; new connections are refused at once past it", "N"),
    Option("trusted_proxies", _networks, "a comma list of IP addresses or networks",
           "peers whose X-Forwarded-For names the client address", "LIST"),
    Option("ping_interval", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how often the server pings", "SECONDS"),
    Option("ping_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a pong may take before the session closes", "SECONDS"),
    Option("connect_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a session may go without a Socket.IO CONNECT", "SECONDS"),
    Option("max_payload", _bytes, "an integer number of bytes >= 1",
           "largest message or HTTP body accepted", "BYTES"),
    Option("websocket_compression", _bool, "true or false",
           "negotiate permessage-deflate on WebSockets (costs ~130 KB per connection)"),
    Option("send_budget", _bytes, "an integer number of bytes >= 1",
           "unsent bytes held for one client; a client over it is closed", "BYTES"),
    Option("send_grace", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a client's unsent data may make no progress before it is closed", "SECONDS"),
    Option("max_attachments", _count, "an integer >= 1",
           "binary attachments per Socket.IO packet", "N"),
    Option("max_queued_events", _count, "an integer >= 1",
           "events a client may have waiting for its handler before it is not read from", "N"),
    Option("max_queued_bytes", _bytes, "an integer number of bytes >= 1",
           "frame bytes of a client's waiting events before it is not read from", "BYTES"),
    Option("handler_overlap", _count, "an integer >= 1",
           "a client's events whose handlers may run at once, started in the order sent", "N"),
    Option("max_rooms", _count, "an integer >= 1", "rooms one client may be in", "N"),
    Option("max_namespaces", _count, "an integer >= 1",
           "namespaces one connection may join", "N"),
    Option("rate_limit", _rate, "events per second > 0, or 0/off",
           "events per second one client may send (token bucket)", "PER_SECOND"),
    Option("rate_burst", _count, "an integer >= 1",
           "events a client may send at once before --rate-limit applies", "N"),
    Option("max_connections_per_address", _limit, "an integer >= 1, or 0/off",
           "open connections from one client address", "N"),
    Option("max_json_depth", _count, "an integer >= 1",
           "nesting depth of arrays and objects in any packet or request body", "N"),
    Option("recovery_window", _window, "seconds > 0 (fractions allowed), or 0/off",
           "connection state recovery: a client that drops may come back within this long "
           "with its sid, rooms, session data and the events it missed", "SECONDS"),
    Option("recovery_max_packets", _count, "an integer >= 1",
           "events kept per namespace for recovering clients (the oldest go first)", "N"),
    Option("drain_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "on SIGTERM, how long to save sessions for recovery and close transports", "SECONDS"),
    Option("redis_url", _redis_url, REDIS_URL_FORMS,
           "share rooms and broadcasts with other nodes through Redis", "URL"),
    Option("redis_publish_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "a publish to Redis stalled longer is dropped and counted, not sent late", "SECONDS"),
    Option("redis_connect_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "at start, how long Redis may take to answer; past it the node exits with status 2 "
           "(unless --redis-start-anyway)", "SECONDS"),
    Option("redis_start_anyway", _bool, "true or false",
           "start even if Redis does not answer at start: serve this node's clients and join "
           "the cluster when Redis answers (a wrong URL or password still exits)"),
    Option("cluster_format", _choice(CLUSTER_FORMATS), "one of auto, batch, stock",
           "messages to other nodes: batch (many emits per PUBLISH, openline nodes only), stock "
           "(one per PUBLISH, python-socketio's format), auto: stock whenever a "
           "python-socketio node listens on the channel, checked at each publish", "FORMAT"),
    Option("cluster_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "how long a cluster-wide request (fetch_sockets, server-side emit with acks, ...) "
           "waits for the other nodes; the nodes that did not answer are reported", "SECONDS"),
    Option("cluster_heartbeat", _positive_seconds, "seconds > 0 (fractions allowed)",
           "seconds between the heartbeats a node publishes so the others know it is alive",
           "SECONDS"),
    Option("cluster_heartbeat_timeout", _positive_seconds, "seconds > 0 (fractions allowed)",
           "a node silent this long is dropped from cluster-wide requests (more than "
           "--cluster-heartbeat)", "SECONDS"),
    Option("cluster_max_requests", _count, "an integer >= 1",
           "cluster-wide requests a node keeps waiting for answers at once, and as many from "
           "other nodes being answered; past it a request is not sent (every node is reported "
           "missing) or another node's is dropped, with a rate-limited warning", "N"),
    Option("api_max_failures", _count, "an integer >= 1",
           "wrong API tokens (or Admin UI logins) per minute from one address before it is "
           "refused for a while", "N"),
    Option("api_token", _text, "a non-empty token", "enable POST /api/v1/emit with this bearer token",
           "TOKEN"),
    Option("metrics", _invert, "true or false",
           "do not serve Prometheus metrics at /metrics (then nothing is counted per event)",
           flag_name="no-metrics"),
    Option("demo", _invert, "true or false", "do not serve the demo page at / (for production)",
           flag_name="no-demo"),
    Option("status", _invert, "true or false",
           "do not serve /status (the live status page and JSON); /healthz and /readyz stay",
           flag_name="no-status"),
    Option("admin", _bool, "true or false",
           "serve the Socket.IO Admin UI at /admin/ and its protocol on the /admin namespace"),
    Option("admin_user", _name, "a non-empty user name", "the Admin UI's login name", "NAME"),
    Option("admin_password", _text, "a non-empty password",
           "the Admin UI's password (compared in constant time); prefer the environment "
           "variable, which ps does not show", "PASSWORD"),
    Option("admin_no_auth", _bool, "true or false",
           "serve the Admin UI without a login (development only: anyone who reaches the "
           "server sees every client)"),
    Option("admin_readonly", _bool, "true or false",
           "the Admin UI only watches: no join, leave, disconnect or emit"),
    Option("admin_mode", _choice(ADMIN_MODES), "one of development, production",
           "production: the Admin UI gets server stats only, nothing per socket or event", "MODE"),
    Option("admin_server_id", _text, "a non-empty name",
           "this node's name in the Admin UI's server list (unset: <hostname>#<pid>)", "NAME"),
    Option("log_level", _choice(LOG_LEVELS), "one of debug, info, warning, error, critical",
           "logging threshold", "LEVEL"),
    Option("log_format", _choice(LOG_FORMATS), "one of text, json",
           "log lines as text, or as one JSON object each (time, level, logger, message, "
           "session)", "FORMAT"),
    Option("reload", _bool, "true or false", "restart when a Python file of the server or a plugin changes"),
)

OPTIONS_BY_NAME = {opt.name: opt for opt in OPTIONS}


def options_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The raw option values set as OPENLINE_<FLAG> in ``environ``."""
    return {opt.name: environ[opt.env] for opt in OPTIONS if opt.env in environ}
