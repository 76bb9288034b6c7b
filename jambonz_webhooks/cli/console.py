"""How the command talks to its user: notes on stderr, the one-line usage error, exit statuses."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "PROG", "CliError", "Subcommands", "env_values", "note"]

PROG = "jambonz-webhooks"

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage error the command reports in one line (exit status 2), without a traceback."""


def note(message: str) -> None:
    """Write a note for the person at the terminal to stderr (stdout is the command's output)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def env_values(pairs: Sequence[str]) -> dict[str, Any]:
    """``--env NAME=VALUE`` options as env vars: ``3`` is a number, ``true`` a boolean, else text.

    Raises:
        CliError: a pair without ``=`` or without a name.

    """
    env: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--env takes NAME=VALUE, not {pair!r}")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        env[name] = value if isinstance(value, str | int | float | bool) else text
    return env


class Subcommands(Protocol):
    """What a command module adds its parser to (the parser's subcommands: ``add_subparsers()``)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A new subcommand's parser."""
        ...
