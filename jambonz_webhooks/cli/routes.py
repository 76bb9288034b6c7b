"""``jambonz-webhooks routes``: list an app's hooks and check every hook their answers name.

A check a CI can trust: the hooks are read from the app's own route objects (see
:mod:`.listing`), the app's lifespan is run around the check, each call and action hook's handler
answers sample payloads through its own pipeline (see :mod:`.samples`), and each hook an answer or
a handler's source names is looked up among the app's routes (see :mod:`.references`,
:mod:`.source`). It never crashes on an app; exit status 1 on a hook no route serves, a handler no
route serves, a handler that fails on every sample call or builds a verb wrong on any (naming the
verb and field), or a verb the target refuses; warnings fail only with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import sys
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pydantic_core
from starlette.routing import Router
from starlette.types import Message

from ..hooks import UnroutedHandlerError
from ..injection import HandlerWarning, HookKind
from ..response import encode_verbs
from ..state import MemoryStore
from ..targets import Release
from .console import EXIT_OK, EXIT_PROBLEMS, CliError, Subcommands, env_values, note
from .listing import MountedHooks, find_hooks, handler_name, list_hooks, unwrap
from .loading import add_app_arguments, load_app
from .references import Checker
from .report import RoutesReport, format_report
from .samples import ServedBy, run_hook
from .source import check_source

__all__ = ["add_parser", "command_routes", "inspect_app", "lifespan", "stand_in"]


async def inspect_app(
    top: Any,
    spec: str,
    found: list[MountedHooks],
    run: bool,
    release: Release | None = None,
    served: ServedBy | None = None,
    report: RoutesReport | None = None,
) -> RoutesReport:
    """List the hooks ``found`` in ``top`` and check the hooks they name against ``top``'s routes.

    With ``run``, each app's state store should be an in-memory one (see :func:`stand_in`): the
    sample calls must not reach the app's Redis. ``served`` is what a request's scope holds beside
    the request (the lifespan's state, the router) and the ``--env`` values; each app's own
    Starlette app is taken from ``found``. Each registered action hook that no reference reaches
    is a warning (the framework's own hooks aside).
    """
    report = report if report is not None else RoutesReport(spec)
    served = served or ServedBy()
    checker = Checker(top, report)
    for mounted in found:
        prefix, settings = mounted.prefix, mounted.settings
        checker.hosts = mounted.hosts
        rows = list_hooks(mounted)
        report.hooks.extend(entry for entry, _ in rows)
        context = settings.context(prefix)
        for entry, route in rows:
            if route is None:
                continue
            check_source(checker, context, route, entry)
            if run and route.kind is not HookKind.STATUS:
                await run_hook(checker, prefix, route, entry, release, replace(served, app=mounted.app))
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
    for mounted in found:
        for route in mounted.hooks:
            name = handler_name(route.handler)
            if route.kind is HookKind.ACTION and id(route) not in checker.reached and not _framework(name):
                report.flag(
                    "warning",
                    mounted.prefix + route.path,
                    name,
                    "no verb names it: unreachable, or named only by the REST API?",
                )
    return report


def _framework(handler: str) -> bool:
    """Whether a handler is the framework's own (the hook it adds for continuations, say)."""
    return handler.startswith(f"{__package__.split('.')[0]}.")


def stand_in(found: list[MountedHooks]) -> None:
    """Make the apps safe to inspect, in this process only: in-memory state, and not closed.

    The sample calls never reach the app's Redis. An app with neither a secret nor basic auth
    refuses to start (a server's concern: ``routes`` answers no request), so it is given
    stand-in credentials for its lifespan's start-up check to pass.
    """
    for mounted in found:
        settings = mounted.settings
        settings.state = MemoryStore()
        if not settings.security.protected:
            settings.security = settings.security.with_stand_in("routes")


LIFESPAN_TIMEOUT = 30.0
"""Seconds the app's lifespan has to start (or stop): a check must end, whatever the app does."""


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Run ``app``'s ASGI lifespan around the block (startup before, shutdown after): its state.

    An app that does not speak the lifespan protocol (it returns or raises before answering
    the startup) is inspected without one, as uvicorn's default does.

    Raises:
        CliError: the startup failed (the message's last line says why), or did not finish
            within ``LIFESPAN_TIMEOUT`` seconds.

    """
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    answers: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await answers.put(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.ensure_future(app(scope, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    try:
        answer = await _answer(task, answers)
    except TimeoutError:
        task.cancel()
        raise CliError(f"the app's lifespan did not finish its startup in {LIFESPAN_TIMEOUT:g} s") from None
    if answer is None:  # no lifespan here
        yield state
        return
    if answer["type"] != "lifespan.startup.complete":
        with contextlib.suppress(Exception):
            await task
        raise CliError(f"the app's lifespan failed at startup: {_last_line(answer.get('message'))}")
    try:
        yield state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            answer = await _answer(task, answers)
        except TimeoutError:
            task.cancel()
            answer = {
                "type": "lifespan.shutdown.failed",
                "message": f"not finished in {LIFESPAN_TIMEOUT:g} s",
            }
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
        if answer is not None and answer["type"] != "lifespan.shutdown.complete":
            note(f"the app's lifespan failed at shutdown: {_last_line(answer.get('message'))}")


async def _answer(task: asyncio.Future[Any], answers: asyncio.Queue[Message]) -> Message | None:
    """The app's next lifespan message, or None when it ended without one.

    Raises:
        TimeoutError: none came within ``LIFESPAN_TIMEOUT`` seconds.

    """
    getting = asyncio.ensure_future(answers.get())
    await asyncio.wait({task, getting}, timeout=LIFESPAN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if not getting.done() and not task.done():
        getting.cancel()
        raise TimeoutError
    if getting.done():
        return getting.result()
    getting.cancel()
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        note(f"the app's lifespan ended without answering: {type(exc).__name__}: {_last_line(str(exc))}")
    return None


def _last_line(text: object) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


async def _check(app: Any, args: argparse.Namespace, found: list[MountedHooks], report: RoutesReport) -> None:
    """The app started (its lifespan), inspected, and stopped."""
    top = unwrap(app)
    router = getattr(top, "router", top if isinstance(top, Router) else None)
    async with lifespan(app) as state:
        served = ServedBy(router=router, state=state, env=env_values(args.env or ()))
        await inspect_app(app, args.app, found, not args.no_run, args.target, served, report)


def _registration_warnings(
    caught: list[warnings.WarningMessage], found: list[MountedHooks], report: RoutesReport
) -> None:
    """Put the HandlerWarnings of the app's registration in the report, at their hook; re-show others."""
    where: dict[tuple[str, int], tuple[str, str]] = {}
    for mounted in found:
        for route in mounted.hooks:
            code = getattr(inspect.unwrap(route.handler), "__code__", None)
            if code is not None:
                where.setdefault(
                    (code.co_filename, code.co_firstlineno),
                    (mounted.prefix + route.path, handler_name(route.handler)),
                )
    for caught_warning in caught:
        if not issubclass(caught_warning.category, HandlerWarning):
            warnings.showwarning(
                caught_warning.message,
                caught_warning.category,
                caught_warning.filename,
                caught_warning.lineno,
                caught_warning.file,
                caught_warning.line,
            )
            continue
        location = f"{caught_warning.filename}:{caught_warning.lineno}"
        hook, handler = where.get((caught_warning.filename, caught_warning.lineno), (location, location))
        report.flag("warning", hook, handler, str(caught_warning.message))


def _release(text: str) -> Release:
    """``--target``'s value as a release (argparse reports a ValueError as a usage error)."""
    try:
        return Release(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command_routes(args: argparse.Namespace) -> int:
    """List the hooks of APP and check the hook references of their answers."""
    env_values(args.env or ())  # a malformed --env is a usage error before anything runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HandlerWarning)
        app = load_app(args.app, args.app_dir, factory=args.factory)
    skipped: list[str] = []
    found = find_hooks(app, skipped.append)
    if not found:
        raise CliError(f"{args.app} is not a JambonzApp and mounts none (found {type(app).__name__})")
    report = RoutesReport(args.app)
    for message in skipped:
        report.flag("warning", args.app, "", message)
    _registration_warnings(caught, found, report)
    if not args.no_run:
        stand_in(found)
    # What handlers print while they run goes to stderr: stdout is the report (maybe JSON).
    with contextlib.redirect_stdout(sys.stderr):
        if args.no_run:  # nothing of the app runs: not its lifespan either
            asyncio.run(inspect_app(app, args.app, found, False, args.target, report=report))
        else:
            asyncio.run(_check(app, args, found, report))
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
            "verbs name (actionHook and the other ...Hook fields) against APP's routes: APP's lifespan "
            "is run around the check, each call and action hook's handler is run on sample payloads "
            "(with an in-memory CallState, and a REST API address that does not resolve), and its "
            "source is read. Exit status 1 on a problem: a hook that names a path no route serves, or "
            "a handler no route serves; a handler that fails on every sample call, or builds a verb "
            "wrong on any (naming the verb and field); a verb the target release refuses. Warnings "
            "(a handler failing on some samples, or for want of the REST API; an action hook no verb "
            "names; a handler asking for env vars the app does not declare) fail only with --strict. "
            "Exit status 2 when APP cannot be loaded or its lifespan fails at startup."
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
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help=(
            "an env var the sample calls carry (repeatable), in place of the placeholder of a "
            "required one: for a variable whose placeholder does not fit its constraints"
        ),
    )
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
