"""The ``openline`` command: ``openline run`` serves; flags mirror ``Config``.

Only this module configures logging and only this module exits the process.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__, emit_command
from .config import OPTIONS, Config, options_from_env
from .errors import ConfigError, OpenlineError
from .logsafe import ConnectionFilter, JsonFormatter, RateLimitFilter, SafeFormatter

log = logging.getLogger("openline.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag costs one line and exit status 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"openline: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="openline", description="Socket.IO-compatible real-time server.")
    parser.add_argument("--version", action="version", version=f"openline {__version__} "
                        f"(python-socketio {_version('python-socketio')}, aiohttp {_version('aiohttp')})")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="serve Socket.IO (and plain WebSocket) clients",
                              description="Serve Socket.IO and plain WebSocket clients. Every flag "
                              "can also be set as its OPENLINE_* environment variable; a flag wins.")
    for opt in OPTIONS:
        help_text = f"{opt.help}; accepts {opt.accepted}; default: {opt.default_text} [env {opt.env}]"
        if opt.metavar is None:
            help_text = f"{opt.help}; default: {opt.default_text} [env {opt.env}: {opt.accepted}]"
        if opt.metavar is None:
            run.add_argument(opt.flag, dest=opt.name, action="store_const", const=True, help=help_text)
        elif opt.repeatable:
            run.add_argument(opt.flag, dest=opt.name, action="append", metavar=opt.metavar, help=help_text)
        else:
            run.add_argument(opt.flag, dest=opt.name, metavar=opt.metavar, help=help_text)
    emit_command.add_parser(commands)
    return parser


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def config_from_args(args: argparse.Namespace, environ: dict[str, str]) -> Config:
    """Flags win over OPENLINE_* variables, which win over defaults."""
    raw: dict[str, Any] = options_from_env(environ)
    for opt in OPTIONS:
        value = getattr(args, opt.name, None)
        if value is not None:
            raw[opt.name] = value
    return Config.from_options(raw)


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    # client-influenced lines: escaped to one line each (JSON escapes them its own way),
    # and rate-limited per template; a line logged by a connection's handler gets its id
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         SafeFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RateLimitFilter())
    handler.addFilter(ConnectionFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # python-socketio and python-engineio log every packet at INFO; keep them quieter.
    for name in ("socketio", "engineio", "aiohttp.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(emit_command.glue_option_values(argv))
    if args.command == "emit":
        try:
            print(emit_command.run_command(args, dict(os.environ)))
        except OpenlineError as exc:
            print(f"openline: error: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, ConfigError) else 1
        return 0
    try:
        config = config_from_args(args, dict(os.environ))
    except OpenlineError as exc:
        print(f"openline: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    if args.command == "run":
        from .serve import serve, serve_with_reload

        try:
            if config.reload:
                return serve_with_reload(argv, config)
            return serve(config)
        except OpenlineError as exc:
            print(f"openline: error: {exc}", file=sys.stderr)
            return 2
    return 2  # pragma: no cover - argparse requires a command


def entry() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
