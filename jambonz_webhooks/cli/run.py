"""``jambonz-webhooks run``: serve an app with uvicorn, through :mod:`jambonz_webhooks.serving`."""

from __future__ import annotations

import argparse
import math
import os
import sys

from ..app import HOW_TO_PROTECT
from .console import CliError, Subcommands, note
from .listing import find_hooks
from .loading import add_app_arguments, split_spec

__all__ = ["DEFAULT_PORT", "add_parser", "command_run"]

DEFAULT_PORT = 3000


def _default_port() -> int:
    value = os.environ.get("PORT")
    if value is None or not value.strip():
        return DEFAULT_PORT
    try:
        port = int(value)
    except ValueError:
        raise CliError(f"PORT must be a port number, not {value!r}") from None
    _check_port(port)
    return port


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise CliError(f"a port is a number from 0 to 65535, not {port}")


def command_run(args: argparse.Namespace) -> int:
    """Serve APP with uvicorn through :mod:`jambonz_webhooks.serving` (it imports APP in each worker)."""
    from .. import serving

    split_spec(args.app)
    port: int = args.port if args.port is not None else _default_port()
    _check_port(port)
    workers: int | None = args.workers
    if workers is not None and workers < 1:
        raise CliError("--workers must be at least 1")
    if args.reload and workers is not None and workers > 1:
        raise CliError("--reload and --workers go separately: reloading runs one worker")
    try:
        limits = serving.Limits(
            max_header_bytes=args.max_header_bytes,
            max_headers=args.max_headers,
            timeout_idle=args.timeout_idle,
            timeout_head=args.timeout_head,
            timeout_body=args.timeout_body or None,
            timeout_keep_alive=args.timeout_keep_alive,
        )
        shutdown = serving.Shutdown(drain=args.drain, grace=args.timeout_graceful_shutdown)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    shown = f"[{args.host}]" if ":" in args.host else args.host
    if args.reload:
        how = "reloading on changes"
    else:
        # uvicorn reads WEB_CONCURRENCY itself when no --workers is given.
        concurrency = os.environ.get("WEB_CONCURRENCY", "1")
        count = workers if workers is not None else int(concurrency) if concurrency.isdigit() else 1
        how = f"{count} worker{'' if count == 1 else 's'}"
    if args.app_dir is not None:
        sys.path.insert(0, args.app_dir)
    config = serving.ServingConfig(
        args.app,
        limits=limits,
        shutdown=shutdown,
        host=args.host,
        port=port,
        workers=workers,
        reload=args.reload,
        reload_dirs=args.reload_dir or None,
        log_level=args.log_level,
        access_log=args.access_log,
        loop="auto",
        factory=args.factory,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        root_path=args.root_path,
    )
    if not config.reload and config.workers == 1:
        # An app that cannot be imported, or would refuse to start, fails here, before the
        # socket is bound, in one line rather than as the startup's traceback.
        _check_protected(config.load_app())
    note(f"serving {args.app} on http://{shown}:{port} ({how}); Ctrl+C stops it")
    return serving.run(config)


def _check_protected(app: object) -> None:
    """Refuse at once an app whose hooks would have no authentication (it fails closed at start-up)."""
    if any(mounted.routes and mounted.settings.security.closed for mounted in find_hooks(app)):
        raise CliError(f"the app's hooks have no authentication: {HOW_TO_PROTECT}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"seconds are a finite number, at least 0: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _root_path(text: str) -> str:
    """``--root-path``'s value: empty, or a path starting with "/" (without a trailing one)."""
    if text and not text.startswith("/"):
        raise argparse.ArgumentTypeError(f'a root path starts with "/": {text!r}')
    return text.rstrip("/")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 0 to 65535: {port}")
    return port


def add_parser(commands: Subcommands) -> None:
    """Add ``run`` to the command line's subcommands (``argparse``'s subparsers action)."""
    run = commands.add_parser(
        "run",
        help="serve APP with uvicorn",
        description=(
            "Serve APP with uvicorn (uvloop and httptools), with bounds on slow and idle clients and a "
            "drain on SIGTERM. The port is --port, else the PORT environment variable, else "
            f"{DEFAULT_PORT}. In a container, give --host 0.0.0.0."
        ),
    )
    add_app_arguments(run)
    run.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    run.add_argument("--port", type=_port, default=None, help=f"default: $PORT, else {DEFAULT_PORT}")
    run.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: $WEB_CONCURRENCY, else 1)"
    )
    run.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    run.add_argument("--reload-dir", action="append", metavar="DIR", help="a directory to watch (repeatable)")
    run.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"]
    )
    run.add_argument(
        "--no-proxy-headers",
        dest="proxy_headers",
        action="store_false",
        help="ignore X-Forwarded-For/-Proto even from --forwarded-allow-ips",
    )
    run.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-* headers are trusted (default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    run.add_argument(
        "--root-path",
        default="",
        metavar="PATH",
        type=_root_path,
        help="the path prefix a reverse proxy strips (/voice): hook paths in verbs carry it",
    )
    # The app writes one access line per hook (jambonz_webhooks.access); uvicorn's own line per
    # request would say the same thing again, so it is off unless asked for.
    run.add_argument(
        "--access-log",
        dest="access_log",
        action="store_true",
        default=False,
        help="also write uvicorn's access line per request (the app writes one per hook already)",
    )
    run.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no uvicorn access line per request (the default)",
    )
    from ..serving import Limits, Shutdown

    limits, shutdown = Limits(), Shutdown()
    bounds = run.add_argument_group(
        "bounds on clients",
        "What one connection may take: a request over a size bound is answered 431, one over a time "
        "bound 408, and the connection is closed (an idle one without an answer).",
    )
    bounds.add_argument(
        "--max-header-bytes",
        type=_count,
        default=limits.max_header_bytes,
        metavar="BYTES",
        help="the most bytes of a request's line and header fields (default: %(default)s)",
    )
    bounds.add_argument(
        "--max-headers",
        type=_count,
        default=limits.max_headers,
        metavar="N",
        help="the most header fields of a request (default: %(default)s)",
    )
    bounds.add_argument(
        "--timeout-idle",
        type=_seconds,
        default=limits.timeout_idle,
        metavar="S",
        help="seconds a new connection may stay silent (default: %(default)s)",
    )
    bounds.add_argument(
        "--timeout-head",
        type=_seconds,
        default=limits.timeout_head,
        metavar="S",
        help="seconds a request's line and header fields may take to arrive (default: %(default)s)",
    )
    bounds.add_argument(
        "--timeout-body",
        type=_seconds,
        default=limits.timeout_body,
        metavar="S",
        help="seconds a request's body may take after its header fields; 0: no bound (default: %(default)s)",
    )
    bounds.add_argument(
        "--timeout-keep-alive",
        type=_count,
        default=limits.timeout_keep_alive,
        metavar="S",
        help="seconds an idle connection is kept between requests (default: %(default)s)",
    )
    stopping = run.add_argument_group(
        "stopping",
        "On SIGTERM /health answers 503 and the server serves on for --drain seconds (answers close "
        "their connections), then takes no new connection and gives requests in flight "
        "--timeout-graceful-shutdown seconds more; a hook still running then answers its fallback, "
        "another request 503. Keep the sum below the orchestrator's kill timeout (Docker: 10 s).",
    )
    stopping.add_argument(
        "--drain",
        type=_seconds,
        default=shutdown.drain,
        metavar="S",
        help="seconds of serving on after SIGTERM, /health answering 503 (default: %(default)s)",
    )
    stopping.add_argument(
        "--timeout-graceful-shutdown",
        type=_seconds,
        default=shutdown.grace,
        metavar="S",
        help="seconds requests in flight have to finish after that (default: %(default)s)",
    )
    run.set_defaults(func=command_run)
