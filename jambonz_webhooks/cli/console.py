"""How the command talks to its user: notes on stderr, the one-line usage error, exit statuses."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Protocol

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "PROG", "CliError", "Subcommands", "note"]

PROG = "jambonz-webhooks"

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage error the command reports in one line (exit status 2), without a traceback."""


def note(message: str) -> None:
    """Write a note for the person at the terminal to stderr (stdout is the command's output)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


class Subcommands(Protocol):
    """What a command module adds its parser to (the parser's subcommands: ``add_subparsers()``)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A new subcommand's parser."""
        ...
