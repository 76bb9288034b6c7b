"""``jambonz-webhooks routes``: list an app's hooks and check every hook their answers name.

A check a CI can trust: the hooks are read from the app's own route objects (see
:mod:`.listing`), each call and action hook's handler answers sample payloads through its own
pipeline (see :mod:`.samples`), and each hook an answer or a handler's source names is looked up
among the app's routes (see :mod:`.references`, :mod:`.source`). It never crashes on an app;
exit status 1 on a hook no route serves, a handler no route serves, or a handler that fails on
every sample call (naming the verb and field); warnings fail only with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

import pydantic_core

from ..hooks import UnroutedHandlerError
from ..injection import HookKind
from ..response import encode_verbs
from ..state import MemoryStore
from ..targets import Release
from .console import EXIT_OK, EXIT_PROBLEMS, CliError, Subcommands
from .listing import MountedHooks, find_hooks, list_hooks
from .loading import add_app_arguments, load_app
from .references import Checker
from .report import RoutesReport, format_report
from .samples import run_hook
from .source import check_source

__all__ = ["add_parser", "command_routes", "inspect_app"]


async def inspect_app(
    top: Any, spec: str, found: list[MountedHooks], run: bool, release: Release | None = None
) -> RoutesReport:
    """List the hooks ``found`` in ``top`` and check the hooks they name against ``top``'s routes.

    With ``run``, each app's state store is replaced by an in-memory one first (in this process
    only): the sample calls never reach the app's Redis.
    """
    report = RoutesReport(spec)
    checker = Checker(top, report)
    for mounted in found:
        prefix, settings = mounted.prefix, mounted.settings
        rows = list_hooks(mounted)
        report.hooks.extend(entry for entry, _ in rows)
        if run:
            settings.state = MemoryStore()
        context = settings.context(prefix)
        for entry, route in rows:
            if route is None:
                continue
            check_source(checker, context, route, entry)
            if run and route.kind is not HookKind.STATUS:
                await run_hook(checker, prefix, route, entry, release)
        fallback = settings.fallback
        if fallback is not None:
            where = f"{prefix or '/'} (fallback)"
            try:
                verbs = pydantic_core.from_json(encode_verbs(fallback.verbs, context))
            except UnroutedHandlerError as exc:
                report.flag("problem", where, "fallback", str(exc))
            else:
                checker.check_verbs(where, "fallback", verbs)
                target = release or settings.target
                if target is not None:
                    for refusal in target.refusals(verbs):
                        report.flag("problem", where, "fallback", refusal.describe(target))
    return report


def _release(text: str) -> Release:
    """``--target``'s value as a release (argparse reports a ValueError as a usage error)."""
    try:
        return Release(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command_routes(args: argparse.Namespace) -> int:
    """List the hooks of APP and check the hook references of their answers."""
    app = load_app(args.app, args.app_dir, factory=args.factory)
    found = find_hooks(app)
    if not found:
        raise CliError(f"{args.app} is not a JambonzApp and mounts none (found {type(app).__name__})")
    # What handlers print while they run goes to stderr: stdout is the report (maybe JSON).
    with contextlib.redirect_stdout(sys.stderr):
        report = asyncio.run(inspect_app(app, args.app, found, not args.no_run, args.target))
    failed = bool(report.problems) or (args.strict and bool(report.warnings))
    if args.json:
        document = report.to_json()
        document["ok"] = not failed
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(format_report(report, ran=not args.no_run, strict=args.strict))
    status = EXIT_PROBLEMS if failed else EXIT_OK
    if report.stuck_threads:
        # A sync handler's thread still runs and cannot be stopped; the interpreter would wait
        # for it at exit, maybe forever: the report is out, so the process ends without it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def add_parser(commands: Subcommands) -> None:
    """Add ``routes`` to the command line's subcommands."""
    routes = commands.add_parser(
        "routes",
        help="list APP's hooks and check the hooks their verbs name",
        description=(
            "List every hook of APP (its path, kind, methods and handler), then check every hook its "
            "verbs name (actionHook and the other ...Hook fields) against APP's routes: each call and "
            "action hook's handler is run on sample payloads (with an in-memory CallState, and a REST "
            "API address that does not resolve), and its source is read. Exit status 1 when a hook "
            "names a path no route serves, or a handler no route serves."
        ),
    )
    add_app_arguments(routes)
    routes.add_argument(
        "--json", action="store_true", help="print a JSON document (hooks, references, problems)"
    )
    routes.add_argument(
        "--no-run", action="store_true", help="do not run handlers: read their source only (no side effects)"
    )
    routes.add_argument("--strict", action="store_true", help="warnings fail too (exit status 1)")
    routes.add_argument(
        "--target",
        type=_release,
        metavar="RELEASE",
        help=(
            "report, per hook, the verbs and properties of its answers that this jambonz release refuses "
            "(0.9.8, 11.x, ...): each is a problem; default: the app's own target, if it declares one"
        ),
    )
    routes.set_defaults(func=command_routes)
