"""Finding the app a command is given: ``module:attribute``, imported as uvicorn imports it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Any

from .console import CliError

__all__ = ["add_app_arguments", "load_app", "split_spec"]


def load_app(spec: str, app_dir: str | None = ".", *, factory: bool = False) -> Any:
    """Import the object ``spec`` names (``module:attribute``, the attribute may be dotted).

    ``app_dir`` is put first on ``sys.path``, as uvicorn does. With ``factory``, the attribute is
    called (without arguments) and what it returns is the app.

    Raises:
        CliError: ``spec`` is malformed, the module is not found, the attribute is missing, or
            importing the module or calling the factory failed (its traceback is printed to
            stderr first).

    """
    module_name, attribute = split_spec(spec)
    if app_dir is not None:
        path = os.path.abspath(app_dir)
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise CliError(
                f"cannot import module {module_name!r} (run from the project's directory, or give --app-dir)"
            ) from None
        traceback.print_exc()
        raise CliError(f"importing {module_name!r} failed (traceback above)") from None
    except Exception:
        traceback.print_exc()
        raise CliError(f"importing {module_name!r} failed (traceback above)") from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CliError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if factory:
        if not callable(target):
            raise CliError(f"{spec!r} is not callable, so it cannot be an app factory")
        try:
            target = target()
        except Exception:
            traceback.print_exc()
            raise CliError(f"calling the app factory {spec!r} failed (traceback above)") from None
    return target


def split_spec(spec: str) -> tuple[str, str]:
    """``module:attribute`` as its two parts.

    Raises:
        CliError: ``spec`` is not written so.

    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(
            f"APP must be written 'module:attribute', like uvicorn's (for example app:app), not {spec!r}"
        )
    return module_name, attribute


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """The APP argument and the options of how it is imported (``run`` and ``routes``)."""
    parser.add_argument("app", metavar="APP", help="the app, as module:attribute (like uvicorn's)")
    parser.add_argument(
        "--app-dir",
        default=".",
        help="the directory APP's module is imported from (default: the current one)",
    )
    parser.add_argument("--factory", action="store_true", help="APP is a function that returns the app")
