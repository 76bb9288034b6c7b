"""The ``jambonz-webhooks`` command: serve an app, list and check its hooks, play a call, sign a body.

::

    jambonz-webhooks run example_app.app:app --port 3000
    jambonz-webhooks routes example_app.app:app            # --json for a machine
    jambonz-webhooks simulate http://127.0.0.1:3000 --script call.txt
    jambonz-webhooks simulate ws://127.0.0.1:3000 --script call.txt   (jambonz's WebSocket API)
    printf '%s' '{"call_sid":"abc"}' | jambonz-webhooks sign --secret wh_secret

``APP`` is written ``module:attribute``, as for uvicorn. Exit status: 0 when all went well, 1 when
``routes`` found a problem or a simulated call failed, 2 for a usage error (an APP that cannot be
loaded, a missing secret, an app that cannot be reached).

This module is the parser and its dispatch; each command is a module of its own (:mod:`.run`,
:mod:`.routes`, :mod:`.sign`, :mod:`.simulate`), and what they share is named for its job
(:mod:`.loading` imports APP, :mod:`.console` holds the usage error and the exit statuses).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import routes, run, sign, simulate
from .console import EXIT_USAGE, PROG, CliError
from .loading import load_app

__all__ = ["CliError", "build_parser", "load_app", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line parser of ``jambonz-webhooks``."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a jambonz-webhooks app, list and check its hooks, play a call, sign requests.",
        epilog="Exit status: 0 ok, 1 problems found (routes) or the call failed (simulate), 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (run, routes, sign, simulate):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the process's) and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except CliError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
