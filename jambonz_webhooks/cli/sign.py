"""``jambonz-webhooks sign``: the ``Jambonz-Signature`` header jambonz would send with a body."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..security import DEFAULT_TOLERANCE, ENV_SECRET, SIGNATURE_HEADER, env_secrets
from ..testing import sign as sign_body
from .console import EXIT_OK, CliError, Subcommands, note

__all__ = ["add_parser", "command_sign"]


def command_sign(args: argparse.Namespace) -> int:
    """Print the ``Jambonz-Signature`` header jambonz would send with a body, as the last line."""
    secret: str | None = args.secret
    if secret is None:
        secrets = env_secrets(os.environ)
        if not secrets:
            raise CliError(f"give the webhook secret with --secret, or in {ENV_SECRET}")
        secret = secrets[0]
    if not secret:
        raise CliError("the webhook secret cannot be empty")
    if args.file is None or args.file == "-":
        body = sys.stdin.buffer.read()
        source = "standard input"
    else:
        try:
            with open(args.file, "rb") as file:
                body = file.read()
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        source = args.file
    timestamp: int = int(time.time()) if args.timestamp is None else args.timestamp
    if timestamp < 0:
        raise CliError("--timestamp is a number of seconds since 1970, not negative")
    value = sign_body(body, secret, timestamp=timestamp)
    note(f"signed {len(body)} bytes from {source} at t={timestamp}")
    if body.endswith(b"\n"):
        note("the body ends with a newline (echo adds one; printf '%s' does not): it is signed too")
    try:
        json.loads(body)
    except ValueError:
        note("the body is not JSON text: a hook will refuse it (400) whatever its signature")
    age = time.time() - timestamp
    if abs(age) > DEFAULT_TOLERANCE:
        when = "ago" if age > 0 else "ahead"
        note(
            f"t is {abs(age):.0f} s {when}: an app with the default tolerance ({DEFAULT_TOLERANCE:g} s) "
            "refuses it"
        )
    else:
        note(f"valid for {DEFAULT_TOLERANCE:g} s by default; send exactly these bytes: curl --data-binary")
    print(f"{SIGNATURE_HEADER}: {value}", flush=True)
    return EXIT_OK


def add_parser(commands: Subcommands) -> None:
    """Add ``sign`` to the command line's subcommands."""
    sign = commands.add_parser(
        "sign",
        help="print the Jambonz-Signature header of a body",
        description=(
            "Read a body from FILE (or standard input) and print, as the last line of standard output, the "
            "Jambonz-Signature header jambonz would send with it. The signature covers the exact bytes: "
            "echo adds a newline, printf '%s' does not; send the body with curl --data-binary "
            "(curl -d strips newlines)."
        ),
        epilog=(
            "example: printf '%s' \"$BODY\" > body.json; curl -H 'Content-Type: application/json' "
            '-H "$(jambonz-webhooks sign --secret S body.json | tail -n 1)" --data-binary @body.json URL'
        ),  # argparse expands only %(prog) in a description or epilog: '%s' is shown as written
    )
    sign.add_argument("file", metavar="FILE", nargs="?", default=None, help="the body ('-' or none: stdin)")
    sign.add_argument(
        "--secret", default=None, help=f"the webhook secret (default: the first of ${ENV_SECRET})"
    )
    sign.add_argument("--timestamp", type=int, default=None, help="unix seconds to sign at (default: now)")
    sign.set_defaults(func=command_sign)
