"""Config parsing: every option's accepted and refused values, env names, precedence."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from openline.cli import build_parser, config_from_args
from openline.config import OPTIONS, OPTIONS_BY_NAME, Config, options_from_env
from openline.errors import ConfigError

# A refused raw value for every option that can refuse one (a meta-test below keeps it
# complete); host, api_token, admin_password and admin_server_id take any text.
BAD = {
    "port": ["-1", "65536", "http", "1.5", ""],
    "plugins_dirs": ["/no/such/dir"],
    "builtins": ["maybe", "2"],
    "metrics": ["maybe"],
    "demo": ["perhaps", "2"],
    "serializer": ["yaml", ""],
    "transports": ["", "polling,carrier-pigeon", "websocket,websocket", "polling;websocket"],
    "cors_origins": ["*,http://a.example", "a.example"],
    "trusted_proxies": ["10.0.0.300", "proxy.example"],
    "ping_interval": ["0", "-1", "nan", "fast", "86400"],
    "ping_timeout": ["0", "inf", "x"],
    "connect_timeout": ["0", "-5", "soon"],
    "max_payload": ["0", "-1", "1e6", "lots"],
    "path": ["/", "", "/a//b/", "/../", "/a b/", "/{x}/", "/a?b"],
    "allow_upgrades": ["maybe"],
    "allow_eio3": ["maybe", "3"],
    "upgrade_timeout": ["0", "x"],
    "cookie": ["io; SameSite=None", "io; Foo", "io; Path", "io; Secure=1", "a b", "io; Path=/; Path=/x",
               "io; Max-Age=-1", "io; Path=rt", ";Path=/", "io; SameSite=Sometimes"],
    "http_compression": ["maybe"],
    "http_compression_threshold": ["0", "1KiB"],
    "serve_client": ["maybe"],
    "websocket_compression": ["sometimes"],
    "dev_origins": ["maybe"],
    "status": ["maybe"],
    "redis_url": ["http://localhost:6379", "localhost:6379", "redis://h:0/0", "redis://h:x",
                  "redis://h:6379/one", "unix://", "redis+sentinel://h/0/svc",
                  "redis+sentinel://h:26379,h2/0", "valkey+tls://h"],
    "redis_connect_timeout": ["0", "x"],
    "redis_start_anyway": ["maybe"],
    "cluster_format": ["single", ""],
    "cluster_timeout": ["0", "-1", "x", "nan"],
    "cluster_heartbeat": ["0", "x"],
    "cluster_heartbeat_timeout": ["0", "x"],
    "cluster_max_requests": ["0", "-1", "x", "1.5"],
    "log_level": ["verbose", "trace"],
    "log_format": ["xml", "JSONL", ""],
    "reload": ["perhaps"],
    "send_budget": ["0", "-1", "1MiB"],
    "send_grace": ["0", "never"],
    "max_attachments": ["0", "-3", "ten"],
    "max_queued_events": ["0", "many"],
    "handler_overlap": ["0", "-1", "two"],
    "max_queued_bytes": ["0", "4MiB"],
    "max_rooms": ["0", "x"],
    "max_namespaces": ["0", "x"],
    "rate_limit": ["-1", "nan", "fast"],
    "rate_burst": ["0", "x"],
    "max_connections_per_address": ["-1", "lots"],
    "max_json_depth": ["0", "deep"],
    "public_origins": ["example.com", "*,http://a.example"],
    "header_timeout": ["0", "x"],
    "body_timeout": ["0", "x"],
    "idle_timeout": ["0", "x"],
    "fd_headroom": ["0", "x"],
    "redis_publish_timeout": ["0", "x"],
    "recovery_window": ["-1", "nan", "inf", "soon"],
    "recovery_max_packets": ["0", "x"],
    "drain_timeout": ["0", "-3", "x"],
    "api_max_failures": ["0", "x"],
    "admin": ["maybe"],
    "admin_user": ["", "   "],
    "admin_no_auth": ["perhaps"],
    "admin_readonly": ["2"],
    "admin_mode": ["debug", ""],
}
NO_BAD_VALUE = {"host", "api_token", "admin_password", "admin_server_id"}

GOOD = [
    ("host", "0.0.0.0", "0.0.0.0"),
    ("port", "0", 0),
    ("port", "65535", 65535),
    ("builtins", "true", False),  # --no-builtins / OPENLINE_NO_BUILTINS=true
    ("builtins", "0", True),
    ("metrics", "1", False),  # --no-metrics / OPENLINE_NO_METRICS=1
    ("metrics", "false", True),
    ("demo", "yes", False),  # --no-demo / OPENLINE_NO_DEMO=yes
    ("serializer", "MsgPack", "msgpack"),
    ("transports", "websocket", ("websocket",)),
    ("transports", "websocket, polling", ("websocket", "polling")),
    ("cors_origins", "*", ("*",)),
    ("cors_origins", "http://a.example, https://b.example:8443", ("http://a.example", "https://b.example:8443")),
    ("cors_origins", "", None),
    ("trusted_proxies", "10.0.0.1,192.168.0.0/16",
     (ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("192.168.0.0/16"))),
    ("ping_interval", "0.25", 0.25),
    ("ping_timeout", "3", 3.0),
    ("connect_timeout", "1.5", 1.5),
    ("max_payload", "1024", 1024),
    ("path", "rt", "/rt/"),
    ("path", "/a/b", "/a/b/"),
    ("allow_upgrades", "1", False),  # --no-upgrades / OPENLINE_NO_UPGRADES=1
    ("upgrade_timeout", "0.3", 0.3),
    ("cookie", "io", "io; Path=/; HttpOnly; SameSite=Lax"),
    ("cookie", "off", None),
    ("cookie", "lb;path=/;secure;samesite=none", "lb; Path=/; Secure; SameSite=None"),
    ("http_compression", "true", False),  # --no-http-compression
    ("http_compression_threshold", "1", 1),
    ("serve_client", "yes", False),  # --no-serve-client
    ("websocket_compression", "yes", True),
    ("redis_url", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("redis_url", "", None),
    ("redis_url", "unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
    ("redis_url", "valkeys://:pw@h:6380/2", "valkeys://:pw@h:6380/2"),
    ("redis_url", "redis+sentinel://:pw@s1:26379,s2:26380/0/mymaster",
     "redis+sentinel://:pw@s1:26379,s2:26380/0/mymaster"),
    ("cluster_format", "STOCK", "stock"),
    ("redis_start_anyway", "yes", True),
    ("api_token", "s3cret", "s3cret"),
    ("log_level", "DEBUG", "debug"),
    ("reload", "off", False),
    ("send_budget", "65536", 65536),
    ("send_grace", "0.5", 0.5),
    ("max_attachments", "3", 3),
    ("rate_limit", "50", 50.0),
    ("rate_limit", "off", None),
    ("recovery_window", "120", 120.0),
    ("recovery_window", "0.5", 0.5),
    ("recovery_window", "off", None),
    ("recovery_window", "0", None),
    ("recovery_max_packets", "50", 50),
    ("drain_timeout", "2.5", 2.5),
    ("max_connections_per_address", "0", None),
    ("max_connections_per_address", "20", 20),
    ("public_origins", "https://chat.example", ("https://chat.example",)),
]


def test_every_option_has_refused_values_listed():
    """Each option that can refuse a value has bad values in this test's table."""
    assert set(BAD) | NO_BAD_VALUE == {opt.name for opt in OPTIONS}


@pytest.mark.parametrize("name,raw", [(n, v) for n, values in BAD.items() for v in values])
def test_bad_value_is_config_error_naming_the_flag(name, raw):
    """A refused value raises ConfigError whose one-line text names the flag and the range."""
    opt = OPTIONS_BY_NAME[name]
    with pytest.raises(ConfigError) as info:
        Config.from_options({name: raw})
    text = str(info.value)
    assert text == f"{opt.flag}: expected {opt.accepted}, got {raw!r}"
    assert "\n" not in text


@pytest.mark.parametrize("name,raw,value", GOOD)
def test_good_value_is_parsed(name, raw, value):
    """Accepted raw text becomes the typed Config value."""
    assert getattr(Config.from_options({name: raw}), name) == value


def test_defaults():
    """No options at all gives the documented defaults (port 1740, auto serializer, ...)."""
    config = Config.from_options({})
    assert config == Config()
    assert (config.host, config.port, config.serializer, config.transports) == (
        "127.0.0.1", 1740, "auto", ("polling", "websocket"))
    assert (config.ping_interval, config.ping_timeout, config.max_payload) == (25.0, 20.0, 1_000_000)
    assert (config.builtins, config.cors_origins, config.trusted_proxies) == (True, None, ())


def test_config_is_frozen():
    """Config cannot be changed after it is built."""
    with pytest.raises(AttributeError):
        Config().port = 1  # type: ignore[misc]


def test_env_names():
    """Every option's environment name is OPENLINE_ + its flag in upper snake case."""
    for opt in OPTIONS:
        assert opt.env == "OPENLINE_" + opt.flag[2:].upper().replace("-", "_")
    assert OPTIONS_BY_NAME["builtins"].env == "OPENLINE_NO_BUILTINS"
    assert OPTIONS_BY_NAME["plugins_dirs"].env == "OPENLINE_PLUGINS_DIR"


def test_values_from_environment(tmp_path: Path):
    """OPENLINE_* variables set options; unrelated variables are ignored."""
    other = tmp_path / "more"
    other.mkdir()
    env = {"OPENLINE_PORT": "8080", "OPENLINE_PING_INTERVAL": "0.5", "OPENLINE_NO_BUILTINS": "1",
           "OPENLINE_PLUGINS_DIR": f"{tmp_path}:{other}", "OPENLINE_TRANSPORTS": "websocket",
           "OPENLINE_CORS_ORIGINS": "*", "PORT": "1", "OPENLINE_NOT_AN_OPTION": "x"}
    args = build_parser().parse_args(["run"])
    config = config_from_args(args, env)
    assert (config.port, config.ping_interval, config.builtins) == (8080, 0.5, False)
    assert config.plugins_dirs == (tmp_path, other)
    assert (config.transports, config.cors_origins) == (("websocket",), ("*",))
    assert options_from_env(env) == {
        "port": "8080", "ping_interval": "0.5", "builtins": "1", "transports": "websocket",
        "plugins_dirs": f"{tmp_path}:{other}", "cors_origins": "*"}


def test_flags_override_environment(tmp_path: Path):
    """A flag wins over its OPENLINE_* variable; other variables still apply."""
    env = {"OPENLINE_PORT": "8080", "OPENLINE_SERIALIZER": "json", "OPENLINE_PLUGINS_DIR": "/nope"}
    args = build_parser().parse_args(
        ["run", "--port", "9090", "--plugins-dir", str(tmp_path), "--plugins-dir", str(tmp_path)])
    config = config_from_args(args, env)
    assert (config.port, config.serializer, config.plugins_dirs) == (9090, "json", (tmp_path, tmp_path))


def test_bad_environment_value_names_the_flag():
    """A bad OPENLINE_* value is reported under its flag name."""
    args = build_parser().parse_args(["run"])
    with pytest.raises(ConfigError, match=r"^--ping-timeout: expected seconds > 0"):
        config_from_args(args, {"OPENLINE_PING_TIMEOUT": "-3"})


def test_repeatable_flag_names_the_bad_item(tmp_path: Path):
    """One bad --plugins-dir among good ones is the one named."""
    with pytest.raises(ConfigError) as info:
        Config.from_options({"plugins_dirs": [str(tmp_path), "/no/such/dir"]})
    assert str(info.value) == "--plugins-dir: expected an existing directory, got '/no/such/dir'"


def test_empty_transports_refused_by_check():
    """A Config built directly with no transports is refused by check()."""
    with pytest.raises(ConfigError, match="--transports"):
        Config(transports=()).check()


def test_heartbeat_timeout_must_exceed_heartbeat():
    """check() refuses a --cluster-heartbeat-timeout not longer than --cluster-heartbeat."""
    with pytest.raises(ConfigError) as info:
        Config(cluster_heartbeat=5.0, cluster_heartbeat_timeout=5.0).check()
    assert str(info.value) == ("--cluster-heartbeat-timeout: expected more seconds than "
                               "--cluster-heartbeat (5), got 5.0")
