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
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import contextvars
import functools
import importlib
import inspect
import json
import math
import os
import re
import sys
import textwrap
import threading
import time
import traceback
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import pydantic_core
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Message

from .app import JambonzApp
from .decoding import Decoded
from .env import EnvVar, EnvVarError
from .events import SpeechResult
from .hooks import HookContext, UnroutedHandlerError, current_context
from .injection import HookKind, build_arguments, env_values
from .payload import CallInfo
from .response import collect_verbs, encode_verbs
from .rest.access import ApiAccess
from .rest.errors import APIError
from .rest.settings import ENV_API_KEY
from .routing import HookRoute
from .security import DEFAULT_TOLERANCE, ENV_PASSWORD, ENV_SECRET, ENV_USERNAME, SIGNATURE_HEADER, env_secrets
from .session import CallSession
from .state import SESSION_KEY, MemoryStore
from .targets import Release
from .testing import sign as sign_body
from .verbs import VERB_MODELS

if TYPE_CHECKING:
    from .testing import Call

__all__ = ["CliError", "load_app", "main"]

PROG = "jambonz-webhooks"
DEFAULT_PORT = 3000
HANDLER_TIMEOUT = 5.0
"""Seconds a handler may take to answer a sample payload in ``routes`` before it is given up."""
MAX_SAMPLES = 64
"""The most sample payloads ``routes`` runs one handler with."""

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage error the command reports in one line (exit status 2), without a traceback."""


# -- loading an app ---------------------------------------------------------------------------


def load_app(spec: str, app_dir: str | None = ".", *, factory: bool = False) -> Any:
    """Import the object ``spec`` names (``module:attribute``, the attribute may be dotted).

    ``app_dir`` is put first on ``sys.path``, as uvicorn does. With ``factory``, the attribute is
    called (without arguments) and what it returns is the app.

    Raises:
        CliError: ``spec`` is malformed, the module is not found, the attribute is missing, or
            importing the module failed (its traceback is printed to stderr first).

    """
    module_name, attribute = _split_spec(spec)
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
        target = target()
    return target


def _split_spec(spec: str) -> tuple[str, str]:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(
            f"APP must be written 'module:attribute', like uvicorn's (for example app:app), not {spec!r}"
        )
    return module_name, attribute


# -- run ----------------------------------------------------------------------------------------


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
    from . import serving

    _split_spec(args.app)
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
    _note(f"serving {args.app} on http://{shown}:{port} ({how}); Ctrl+C stops it")
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
        config.load_app()  # an app that cannot be imported fails here, before the socket is bound
    return serving.run(config)


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


# -- routes -------------------------------------------------------------------------------------

Level = Literal["problem", "warning"]


@dataclass
class HookEntry:
    """One hook of the app, as ``routes`` lists it."""

    path: str
    kind: str
    handler: str
    methods: list[str]
    samples_run: int = 0
    """How many sample payloads the handler answered (0: not run)."""


@dataclass
class Reference:
    """A hook a verb (or a handler's source) names, and what serves it."""

    hook: str
    """The path of the hook whose answer holds the reference, or ``(fallback)``."""
    field: str
    target: str
    method: str
    status: Literal["ok", "external", "unserved", "unrouted", "invalid"]
    served_by: str | None
    found_by: list[str]
    """How it was found: ``run`` (in the answer to a sample payload), ``source`` (in the handler's code)."""


@dataclass
class Finding:
    """Something ``routes`` flags: a problem (exit status 1) or a warning."""

    level: Level
    hook: str
    handler: str
    message: str


@dataclass
class RoutesReport:
    """What ``routes`` found: the hooks, the references in their answers, and what is wrong."""

    app: str
    hooks: list[HookEntry] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    _seen: set[tuple[str, ...]] = field(default_factory=set, repr=False)

    def flag(self, level: Level, hook: str, handler: str, message: str) -> None:
        """Record a finding once, however many sample payloads lead to it."""
        key = (level, hook, message)
        if key in self._seen:
            return
        self._seen.add(key)
        (self.problems if level == "problem" else self.warnings).append(
            Finding(level, hook, handler, message)
        )

    def add_reference(self, reference: Reference) -> bool:
        """Record a reference once (merging how it was found); False if it was already known."""
        for known in self.references:
            if (known.hook, known.field, known.target, known.method) == (
                reference.hook,
                reference.field,
                reference.target,
                reference.method,
            ):
                known.found_by.extend(how for how in reference.found_by if how not in known.found_by)
                return False
        self.references.append(reference)
        return True

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON document."""
        return {
            "app": self.app,
            "hooks": [asdict(hook) for hook in self.hooks],
            "references": [asdict(reference) for reference in self.references],
            "problems": [asdict(finding) for finding in self.problems],
            "warnings": [asdict(finding) for finding in self.warnings],
        }


@dataclass(frozen=True)
class MountedApp:
    """A JambonzApp found in the app, and the prefix it is mounted under."""

    prefix: str
    app: JambonzApp


def find_jambonz_apps(app: Any, prefix: str = "") -> list[MountedApp]:
    """Every :class:`JambonzApp` of ``app``: itself, or mounted in it (at any depth)."""
    found = [MountedApp(prefix, app)] if isinstance(app, JambonzApp) else []
    for route in getattr(app, "routes", None) or ():
        if isinstance(route, Mount):
            # The mounted app itself, not the middleware a Mount may wrap it in.
            inner = getattr(route, "_base_app", route.app)
            found.extend(find_jambonz_apps(inner, prefix + route.path))
    return found


def route_for(routes: Sequence[BaseRoute], path: str, method: str) -> tuple[BaseRoute, Match] | None:
    """The route Starlette's router would give a request, with how it matched (None: a 404).

    As the router does: the first full match wins (inside a Mount, only the mounted app's
    routes are tried then), else the first partial one (the path matches, not the method).
    """
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "path_params": {},
        "headers": [],
        "query_string": b"",
    }
    return _route_for(routes, scope)


def _route_for(routes: Sequence[BaseRoute], scope: dict[str, Any]) -> tuple[BaseRoute, Match] | None:
    partial: tuple[BaseRoute, Match] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount) and route.routes:
                return _route_for(route.routes, {**scope, **child})
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = (route, match)
    return partial


def _handler_name(handler: Callable[..., Any]) -> str:
    while isinstance(handler, functools.partial):
        handler = handler.func
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{module}.{name}" if module else name


def _methods(route: HookRoute) -> list[str]:
    return ["POST", "GET", "OPTIONS"] if route.kind is HookKind.CALL else ["POST", "GET"]


def _route_name(route: BaseRoute) -> str:
    if isinstance(route, HookRoute):
        return f"{route.kind.value} hook: {route.name}"
    path = getattr(route, "path", None)
    return f"route {path}" if path else type(route).__name__


class _Checker:
    """Checks the hook references of the JambonzApps of one app, against that app's routes."""

    def __init__(self, top: Any, report: RoutesReport) -> None:
        self.routes: Sequence[BaseRoute] = getattr(top, "routes", None) or ()
        self.report = report

    def check(
        self,
        hook: str,
        handler: str,
        field_name: str,
        value: Any,
        method: str,
        found_by: Literal["run", "source"],
    ) -> None:
        """Check one reference: ``value`` is a path or URL (already carrying the mount prefix)."""
        if not isinstance(value, str):
            return
        target = value
        field_name = _wire_name(field_name)
        status: Literal["ok", "external", "unserved", "unrouted", "invalid"]
        served_by: str | None = None
        problem: str | None = None
        warning: str | None = None
        lowered = target.lower()
        if lowered.startswith(("http://", "https://", "ws://", "wss://")):
            status = "external"
        elif not target.startswith("/"):
            status = "invalid"
            problem = (
                f'{field_name} "{target}" is neither a path starting with "/" nor an absolute URL: '
                "jambonz cannot call it"
            )
        else:
            path = target.split("#", 1)[0].split("?", 1)[0]
            found = route_for(self.routes, path, method)
            if found is None:
                status = "unserved"
                problem = f'{field_name} "{target}": no route of the app serves {path}'
            else:
                route, match = found
                served_by = _route_name(route)
                if match is Match.PARTIAL:
                    status = "unserved"
                    problem = f'{field_name} "{target}": {served_by} does not accept {method}'
                else:
                    status = "ok"
                    if (
                        isinstance(route, HookRoute)
                        and route.kind is HookKind.STATUS
                        and field_name.lower() in ("actionhook", "action_hook")
                    ):
                        warning = (
                            f'{field_name} "{target}" is served by a status hook: it answers 204 without '
                            "verbs, whatever its handler returns"
                        )
        added = self.report.add_reference(
            Reference(hook, field_name, target, method, status, served_by, [found_by])
        )
        if added and problem is not None:
            self.report.flag("problem", hook, handler, problem)
        if added and warning is not None:
            self.report.flag("warning", hook, handler, warning)

    def check_verbs(self, hook: str, handler: str, verbs: Any) -> None:
        """Check every hook field of verbs in their JSON form."""
        for field_name, value in _hook_fields(verbs):
            if isinstance(value, Mapping):
                url = value.get("url")
                method = str(value.get("method") or "POST").upper()
                self.check(hook, handler, field_name, url, method, "run")
            else:
                self.check(hook, handler, field_name, value, "POST", "run")


def _wire_name(name: str) -> str:
    """A field as jambonz names it: ``action_hook`` (a builder's keyword) -> ``actionHook``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_hook_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().endswith("hook")


def _hook_fields(value: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of a JSON value whose key names a hook (``actionHook``, ``eventHook``...)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_hook_key(key) and (isinstance(item, str) or (isinstance(item, Mapping) and "url" in item)):
                yield key, item
            else:
                yield from _hook_fields(item)
    elif isinstance(value, list):
        for item in value:
            yield from _hook_fields(item)


# Sample payloads: what a handler is run with to see the verbs it answers.

_SAMPLE_CALL_SID = "00000000-0000-4000-8000-00000000c11a"
_PATH_PARAM_SAMPLES = ("1", "sample", "00000000-0000-4000-8000-000000000001", "1.0")
_DIGITS = tuple("0123456789*#")
_SPEECH = {"is_final": True, "alternatives": [{"transcript": "yes", "confidence": 0.9}]}


SAMPLE_API_BASE_URL = "https://api.invalid/v1"
"""Where the sample payloads' REST calls go: a name that never resolves (RFC 6761)."""


def _placeholder(var: EnvVar) -> Any:
    """An env var's sample value: its default, else its first allowed value, else one of its type."""
    if var.default is not None:
        return var.default
    if var.enum:
        return var.enum[0]
    return {"string": "sample", "number": 0, "boolean": False}[var.type]


def _sample_env_vars(app: JambonzApp, route: HookRoute | None = None) -> dict[str, Any]:
    """Env vars for the sample payloads: every variable the app or the handler declares has a value.

    A required variable has no default; the portal makes its user set one, so a real call always
    carries it. The samples give it a placeholder of its type, so that a handler asking for its
    :class:`EnvVars` gets them instead of the ``EnvVarError`` no real call would raise.
    """
    declared: dict[str, EnvVar] = dict(app.env_vars)
    for param in route.plan.params if route is not None else ():
        if param.env is not None:
            with contextlib.suppress(TypeError, ValidationError):  # a class the portal cannot show
                declared = {**param.env.declarations(), **declared}
    return {name: _placeholder(var) for name, var in declared.items()}


def _base_payload(app: JambonzApp, route: HookRoute | None = None) -> dict[str, Any]:
    """A call hook payload with every field jambonz always sends, and a value for each declared env var."""
    env_vars = _sample_env_vars(app, route)
    return {
        "call_sid": _SAMPLE_CALL_SID,
        "account_sid": "00000000-0000-4000-8000-0000000acc01",
        "application_sid": "00000000-0000-4000-8000-0000000a9901",
        "direction": "inbound",
        "from": "+15550100001",
        "to": "+15550100002",
        "call_id": "sample-call-id@127.0.0.1",
        "call_status": "in-progress",
        "sip_status": 200,
        "sip_reason": "OK",
        # A domain that never resolves: a handler that calls the REST API fails instead of acting.
        "api_base_url": SAMPLE_API_BASE_URL,
        "env_vars": env_vars,
    }


def _sample(annotation: Any, depth: int = 0) -> Any:
    """A value of the JSON shape ``annotation`` describes, to fill a required field."""
    if depth > 8:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _sample(typing.get_args(annotation)[0], depth + 1)
    if origin is Literal:
        return typing.get_args(annotation)[0]
    if origin is typing.Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        members.sort(key=lambda arg: not _literals(arg))  # a literal's value first: it surely validates
        return _sample(members[0], depth + 1) if members else None
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        return []
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int):
            return 0
        if issubclass(annotation, float):
            return 0.0
        if issubclass(annotation, str):
            return "sample"
        if issubclass(annotation, BaseModel):
            return {
                info.alias or name: _sample(info.annotation, depth + 1)
                for name, info in annotation.model_fields.items()
                if info.is_required()
            }
    return None


def _literals(annotation: Any) -> list[Any]:
    """The literal values an annotation allows (through unions), in order."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return list(typing.get_args(annotation))
    if origin is typing.Union or origin is types.UnionType or origin is typing.Annotated:
        return [value for arg in typing.get_args(annotation) for value in _literals(arg)]
    return []


def _mentions(annotation: Any, model: type[BaseModel]) -> bool:
    if annotation is model:
        return True
    return any(_mentions(arg, model) for arg in typing.get_args(annotation))


def sample_payloads(models: Sequence[type[CallInfo]], base: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Payloads to run a handler with: ``base`` completed for ``models``, then varied field by field.

    Each field a payload model adds to the call information is varied alone: each value of a
    literal field (``reason``, ``dial_call_status``...), each key for ``digits``, a transcript
    for ``speech``; so that a handler's branches (``if result.digits == "1"``) are run too.
    """
    first = dict(base)
    for model in models:
        for name, info in model.model_fields.items():
            key = info.alias or name
            if info.is_required() and key not in first:
                first[key] = _sample(info.annotation)
    samples = [first]
    common = set(CallSession.model_fields)
    for model in models:
        fields = {info.alias or name: info for name, info in model.model_fields.items() if name not in common}
        has_reason = "reason" in fields
        for key, info in fields.items():
            values: list[dict[str, Any]] = [{key: value} for value in _literals(info.annotation)]
            if key == "digits":
                values += [
                    {key: digit, **({"reason": "dtmfDetected"} if has_reason else {})} for digit in _DIGITS
                ]
            if _mentions(info.annotation, SpeechResult):
                values.append({key: _SPEECH, **({"reason": "speechDetected"} if has_reason else {})})
            samples.extend({**first, **change} for change in values)
    return samples[:MAX_SAMPLES]


def _path_params(route: HookRoute) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, convertor in route.param_convertors.items():
        for text in _PATH_PARAM_SAMPLES:
            if re.fullmatch(convertor.regex, text) is not None:
                params[name] = convertor.convert(text)
                break
        else:
            params[name] = _PATH_PARAM_SAMPLES[0]
    return params


async def _arguments(
    route: HookRoute, payload: dict[str, Any], prefix: str, store: MemoryStore
) -> dict[str, Any]:
    """The handler's arguments for one sample payload, built by the pipeline's own builder."""
    body = pydantic_core.to_json(payload)
    path_params = _path_params(route)
    models: dict[type[CallInfo], CallInfo] = {
        model: model.model_validate(payload) for model in route.plan.models
    }
    call = next(iter(models.values()), None)
    if call is None and route.plan.uses_state:
        call = CallInfo.model_validate(payload)
    decoded = Decoded(models, dict(payload), call)
    env = await env_values(call, store) if route.plan.reads_env and call is not None else None
    return build_arguments(
        route.plan, decoded, path_params, store, lambda: _request(route, prefix, body, path_params), env=env
    )


def _request(route: HookRoute, prefix: str, body: bytes, path_params: dict[str, Any]) -> Request:
    path = prefix + route.path_format.format(**{name: str(value) for name, value in path_params.items()})

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": prefix,
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "path_params": path_params,
    }
    return Request(scope, receive)


def _in_thread(handler: Callable[..., Any], arguments: dict[str, Any]) -> asyncio.Future[Any]:
    """Run a sync handler in a daemon thread (one stuck forever must not keep the command alive)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()  # current_context, for the verbs it builds

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        try:
            result = context.run(handler, **arguments)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=target, name="jambonz-webhooks-routes", daemon=True).start()
    return future


async def _answer(route: HookRoute, arguments: dict[str, Any], context: HookContext) -> Any:
    """The JSON verbs the handler answers (hooks written out with the app's context)."""
    token = current_context.set(context)
    try:
        if route.plan.is_async:
            result = await asyncio.wait_for(route.handler(**arguments), HANDLER_TIMEOUT)
        else:
            result = await asyncio.wait_for(_in_thread(route.handler, arguments), HANDLER_TIMEOUT)
        return pydantic_core.from_json(encode_verbs(collect_verbs(result), context))
    finally:
        current_context.reset(token)


# A placeholder key too: a handler's REST call fails at the address, as for want of a reachable API,
# not for a key the command's environment has no reason to hold.
_NOWHERE = ApiAccess(SAMPLE_API_BASE_URL, environ={ENV_API_KEY: "placeholder"})


async def _run_hook(
    checker: _Checker,
    mounted: MountedApp,
    route: HookRoute,
    entry: HookEntry,
    store: MemoryStore,
    release: Release | None = None,
) -> None:
    """Run a call or action hook's handler on sample payloads and check the hooks of its answers.

    With a ``release``, what that jambonz release would refuse in an answer is a problem.
    """
    app, prefix = mounted.app, mounted.prefix
    # REST calls of the handlers go to an address that does not resolve, whatever the app's is.
    context = replace(app.hook_settings.context(prefix), api=_NOWHERE)
    hook, handler = entry.path, entry.handler
    session = pydantic_core.to_json(_base_payload(app, route))
    # The handler's own failures, in order: a handler that answers no sample at all is a problem.
    failures: dict[str, None] = {}
    unanswerable = False  # a failure that says nothing of the handler (no REST API, no answer in time)
    for payload in sample_payloads(route.plan.models, _base_payload(app, route)):
        # A fresh state per sample, holding the call hook's payload as the framework keeps it.
        await store.drop(_SAMPLE_CALL_SID)
        await store.set(_SAMPLE_CALL_SID, {SESSION_KEY: session})
        try:
            arguments = await _arguments(route, payload, prefix, store)
        except Exception as exc:  # whatever the app's models raise, the command reports it and goes on
            unanswerable = True
            checker.report.flag(
                "warning", hook, handler, f"could not build a sample payload: {_failure(exc)}"
            )
            continue
        try:
            verbs = await _answer(route, arguments, context)
        except UnroutedHandlerError as exc:
            checker.report.flag("problem", hook, handler, str(exc))
            continue
        except HTTPException:
            entry.samples_run += 1  # the handler chose an HTTP answer (a 403, say): no verbs to check
            continue
        except TimeoutError:
            unanswerable = True
            checker.report.flag(
                "warning", hook, handler, f"could not build its answer: no answer in {HANDLER_TIMEOUT:g} s"
            )
            break  # waiting on something that does not answer here: the other samples would wait too
        except (APIError, OSError) as exc:
            unanswerable = True  # the samples' REST API is nowhere: a real call's may well answer
            checker.report.flag(
                "warning", hook, handler, f"could not build its answer (no REST API here): {_failure(exc)}"
            )
            continue
        except Exception as exc:
            failures[_failure(exc)] = None
            continue
        entry.samples_run += 1
        if not verbs and route.kind is HookKind.CALL:
            checker.report.flag(
                "warning", hook, handler, "answered no verbs to a sample call (jambonz would fail the call)"
            )
        checker.check_verbs(hook, handler, verbs)
        if release is not None:
            for refusal in release.refusals(verbs):
                checker.report.flag("problem", hook, handler, refusal.describe(release))
    # Failing on every sample, and not for want of a REST API: every call would get the fallback.
    always = bool(failures) and entry.samples_run == 0 and not unanswerable
    for reason in failures:
        if always:
            checker.report.flag("problem", hook, handler, f"fails on every sample call: {reason}")
        else:
            checker.report.flag("warning", hook, handler, f"could not build its answer: {reason}")


_VERB_NAMES = {model.__name__: name for name, model in VERB_MODELS.items()}


def _failure(exc: BaseException) -> str:
    """An exception in full for a report: a verb's validation error names the verb and each field."""
    if isinstance(exc, ValidationError):
        verb = _VERB_NAMES.get(exc.title)
        what = f"the {verb} verb" if verb is not None else exc.title
        errors = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(value)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        return f"{what}: {errors}"
    if isinstance(exc, EnvVarError):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _source_references(handler: Callable[..., Any]) -> Iterator[tuple[str, Any]]:
    """Hooks a handler's source names: ``action_hook=...`` keywords and ``"...Hook": ...`` dict keys.

    Each value is given as the Python object it names when it can be found (a string constant,
    a module-level name, a handler); what cannot be known without running the code is skipped.
    """
    while isinstance(handler, functools.partial):
        handler = handler.func
    function = inspect.unwrap(handler)
    if not inspect.isfunction(function):
        return
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return
    names: dict[str, Any] = dict(function.__globals__)
    if function.__closure__:
        names.update(inspect.getclosurevars(function).nonlocals)
    # A local (a parameter, say) shadows a global of the same name, and its value is not known.
    code = function.__code__
    for local in (*code.co_varnames, *code.co_cellvars):
        names.pop(local, None)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg is not None and _is_hook_key(node.arg):
            yield from _values_of(node.arg, node.value, names)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and _is_hook_key(key.value):
                    yield from _values_of(str(key.value), value, names)


_UNKNOWN = object()


def _evaluate(node: ast.expr, names: Mapping[str, Any]) -> Any:
    """The value of a constant, a name or a dotted name, or ``_UNKNOWN``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id, _UNKNOWN)
    if isinstance(node, ast.Attribute):
        base = _evaluate(node.value, names)
        return _UNKNOWN if base is _UNKNOWN else getattr(base, node.attr, _UNKNOWN)
    return _UNKNOWN


def _values_of(key: str, node: ast.expr, names: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if isinstance(node, ast.Dict):
        for item_key, item in zip(node.keys, node.values, strict=True):
            if isinstance(item_key, ast.Constant) and item_key.value == "url":
                yield from _values_of(key, item, names)
        return
    if isinstance(node, ast.Call):
        for keyword in node.keywords:  # HookObject(url=..., method=...)
            if keyword.arg == "url":
                yield from _values_of(key, keyword.value, names)
        return
    value = _evaluate(node, names)
    if value is not _UNKNOWN and value is not None:
        yield key, value


def _check_source(checker: _Checker, mounted: MountedApp, route: HookRoute, entry: HookEntry) -> None:
    context = mounted.app.hook_settings.context(mounted.prefix)
    for key, value in _source_references(route.handler):
        if isinstance(value, str):
            resolved = context.resolve(value)  # write_hook, as the answer's hooks are written
            checker.check(entry.path, entry.handler, key, resolved, "POST", "source")
        elif callable(value) and not isinstance(value, type):
            try:
                resolved = context.resolve(value)
            except UnroutedHandlerError as exc:
                checker.report.add_reference(
                    Reference(
                        entry.path,
                        _wire_name(key),
                        _handler_name(value),
                        "POST",
                        "unrouted",
                        None,
                        ["source"],
                    )
                )
                checker.report.flag("problem", entry.path, entry.handler, str(exc))
                continue
            checker.check(entry.path, entry.handler, key, resolved, "POST", "source")


async def _inspect_apps(
    top: Any, spec: str, mounted_apps: list[MountedApp], run: bool, release: Release | None = None
) -> RoutesReport:
    report = RoutesReport(spec)
    checker = _Checker(top, report)
    store = MemoryStore()
    for mounted in mounted_apps:
        app = mounted.app
        for route in app.hooks:
            entry = HookEntry(
                mounted.prefix + route.path, route.kind.value, _handler_name(route.handler), _methods(route)
            )
            report.hooks.append(entry)
        for route in app.hooks:
            entry = next(hook for hook in report.hooks if hook.path == mounted.prefix + route.path)
            _check_source(checker, mounted, route, entry)
            if run and route.kind is not HookKind.STATUS:
                # --target, else the release the app declares (JambonzApp(target=...)).
                target = release or app.hook_settings.target
                await _run_hook(checker, mounted, route, entry, store, target)
        fallback = app.fallback
        if fallback is not None:
            where = f"{mounted.prefix or '/'} (fallback)"
            context = app.hook_settings.context(mounted.prefix)
            try:
                verbs = pydantic_core.from_json(encode_verbs(fallback.verbs, context))
            except UnroutedHandlerError as exc:
                report.flag("problem", where, "fallback", str(exc))
            else:
                checker.check_verbs(where, "fallback", verbs)
                target = release or app.hook_settings.target
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
    mounted_apps = find_jambonz_apps(app)
    if not mounted_apps:
        raise CliError(f"{args.app} is not a JambonzApp and mounts none (found {type(app).__name__})")
    # What handlers print while they run goes to stderr: stdout is the report (maybe JSON).
    with contextlib.redirect_stdout(sys.stderr):
        report = asyncio.run(_inspect_apps(app, args.app, mounted_apps, not args.no_run, args.target))
    failed = bool(report.problems) or (args.strict and bool(report.warnings))
    if args.json:
        document = report.to_json()
        document["ok"] = not failed
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(_format_report(report, ran=not args.no_run, strict=args.strict))
    return EXIT_PROBLEMS if failed else EXIT_OK


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _format_report(report: RoutesReport, *, ran: bool, strict: bool) -> str:
    lines = [f"Hooks of {report.app}:", ""]
    rows = [("PATH", "KIND", "METHODS", "HANDLER")] + [
        (hook.path, hook.kind, ", ".join(hook.methods), hook.handler) for hook in report.hooks
    ]
    lines += _table(rows) if report.hooks else ["  (none)"]
    how = (
        "by running each call and action hook on sample payloads, and in the handlers' source"
        if ran
        else "in the handlers' source only (--no-run)"
    )
    lines += ["", f"Hook references, found {how}:", ""]
    if report.references:
        references = [("FROM", "FIELD", "TO", "STATUS", "FOUND BY")] + [
            (
                reference.hook,
                reference.field,
                reference.target,
                reference.status + (f" ({reference.served_by})" if reference.served_by else ""),
                "+".join(reference.found_by),
            )
            for reference in report.references
        ]
        lines += _table(references)
    else:
        lines.append("  (none)")
    for title, findings in (("Problems", report.problems), ("Warnings", report.warnings)):
        if findings:
            lines += ["", f"{title} ({len(findings)}):"]
            lines += [f"  {finding.hook} [{finding.handler}]: {finding.message}" for finding in findings]
    failed = bool(report.problems) or (strict and bool(report.warnings))
    summary = (
        f"{len(report.hooks)} hook(s), {len(report.problems)} problem(s), {len(report.warnings)} warning(s)"
    )
    lines += ["", summary + (": exit status 1" if failed else "")]
    return "\n".join(lines)


# -- sign ---------------------------------------------------------------------------------------


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
    _note(f"signed {len(body)} bytes from {source} at t={timestamp}")
    if body.endswith(b"\n"):
        _note("the body ends with a newline (echo adds one; printf '%s' does not): it is signed too")
    try:
        json.loads(body)
    except ValueError:
        _note("the body is not JSON text: a hook will refuse it (400) whatever its signature")
    age = time.time() - timestamp
    if abs(age) > DEFAULT_TOLERANCE:
        when = "ago" if age > 0 else "ahead"
        _note(
            f"t is {abs(age):.0f} s {when}: an app with the default tolerance ({DEFAULT_TOLERANCE:g} s) "
            "refuses it"
        )
    else:
        _note(f"valid for {DEFAULT_TOLERANCE:g} s by default; send exactly these bytes: curl --data-binary")
    print(f"{SIGNATURE_HEADER}: {value}", flush=True)
    return EXIT_OK


# -- simulate -----------------------------------------------------------------------------------

_OUTCOMES = ("answered", "busy", "no-answer", "failed")
_KEYS = frozenset("0123456789*#ABCDabcd")
_STEP_HELP = (
    "press DIGITS | say TEXT | silence | dial answered|busy|no-answer|failed | hangup | "
    "expect TEXT | expect-end"
)


@dataclass(frozen=True)
class Step:
    """One line of a simulation script: what the caller (or the dialed party) does, or an expectation."""

    action: Literal["press", "say", "silence", "dial", "hangup", "expect", "expect-end"]
    argument: str = ""
    line: int = 0


def parse_step(text: str, line: int = 0, waiting_for: str | None = None) -> Step | None:
    """Read one script line (None for a blank line or a comment).

    ``press 1``, ``say I want sales`` (or ``speak``), ``silence`` (or ``timeout``),
    ``dial busy`` (answered, busy, no-answer, failed), ``hangup``, ``expect TEXT`` (the caller
    heard TEXT since the last step, ignoring case), ``expect-end`` (the call is over). Typed at
    the prompt, keys alone are pressed, other words said, an empty line is silence and a dial's
    outcome may be given alone (``waiting_for`` says what the call waits on).

    Raises:
        CliError: the line is none of these.

    """
    stripped = text.strip()
    if stripped.startswith("#"):
        return None
    word, _, rest = stripped.partition(" ")
    keyword, rest = word.lower(), rest.strip()
    where = f"line {line}: " if line else ""
    if keyword == "press":
        if not rest or not set(rest) <= _KEYS:
            raise CliError(f"{where}press takes keys (0-9, *, #, A-D), not {rest!r}")
        return Step("press", rest, line)
    if keyword in ("say", "speak"):
        if not rest:
            raise CliError(f"{where}{keyword} takes the words the caller says")
        return Step("say", rest, line)
    if keyword in ("silence", "timeout") and not rest:
        return Step("silence", "", line)
    if keyword == "hangup" and not rest:
        return Step("hangup", "", line)
    if keyword == "dial":
        if rest.lower() not in _OUTCOMES:
            raise CliError(f"{where}dial takes one of {', '.join(_OUTCOMES)}, not {rest!r}")
        return Step("dial", rest.lower(), line)
    if keyword == "expect":
        if not rest:
            raise CliError(f"{where}expect takes the text the caller should have heard")
        return Step("expect", rest, line)
    if keyword == "expect-end" and not rest:
        return Step("expect-end", "", line)
    if waiting_for == "gather":
        if not stripped:
            return Step("silence", "", line)
        return Step("press", stripped, line) if set(stripped) <= _KEYS else Step("say", stripped, line)
    if waiting_for == "dial" and stripped.lower() in _OUTCOMES:
        return Step("dial", stripped.lower(), line)
    if not stripped:
        return None
    raise CliError(f"{where}not a step: {stripped!r} (one of: {_STEP_HELP})")


def _read_script(path: str) -> list[Step]:
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as exc:
        raise CliError(f"cannot read the script {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"the script {path} is not UTF-8 text") from None
    steps = [parse_step(text, number) for number, text in enumerate(lines, start=1)]
    return [step for step in steps if step is not None]


def _env_vars(pairs: Sequence[str]) -> dict[str, Any] | None:
    if not pairs:
        return None
    env: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--env takes NAME=VALUE, not {pair!r}")
        try:
            value: Any = json.loads(text)  # 3 is a number, true a boolean; anything else is text
        except ValueError:
            value = text
        env[name] = value if isinstance(value, str | int | float | bool) else text
    return env


def _credentials(value: str | None) -> tuple[str, str] | None:
    if value is None:
        username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
        return (username, password) if username and password else None
    username, sep, password = value.partition(":")
    if not sep or not username or not password:
        raise CliError("--basic-auth takes USERNAME:PASSWORD")
    return username, password


class _Simulation:
    """One call played against the app, its steps from a script or from the terminal."""

    def __init__(self, call: Call, *, quiet: bool) -> None:
        self.call = call
        self.shown = 0
        self.mark = 0
        """How much of what the caller heard was there before the last step."""
        self.out = sys.stderr if quiet else sys.stdout
        self.failures: list[str] = []

    def show(self) -> None:
        """Print the call's new log lines: what the app said, what the caller did."""
        log: list[str] = self.call.log
        for line in log[self.shown :]:
            print(f"  {line}", file=self.out, flush=True)
        self.shown = len(log)

    def step(self, step: Step) -> bool:
        """Play one step; False when an expectation failed."""
        call = self.call
        if step.action == "expect":
            heard: list[str] = call.heard[self.mark :]
            if any(step.argument.lower() in text.lower() for text in heard):
                print(f"  ok: heard {step.argument!r}", file=self.out, flush=True)
                return True
            where = f"line {step.line}: " if step.line else ""
            self.failures.append(
                f"{where}expected to hear {step.argument!r}; heard since the last step: {heard!r}"
            )
            return False
        if step.action == "expect-end":
            if call.ended:
                print("  ok: the call is over", file=self.out, flush=True)
                return True
            where = f"line {step.line}: " if step.line else ""
            self.failures.append(f"{where}expected the call to be over; it waits for {call.waiting_for}")
            return False
        self.mark = len(call.heard)
        if step.action == "press":
            call.press(step.argument)
        elif step.action == "say":
            call.speak(step.argument)
        elif step.action == "silence":
            call.silence()
        elif step.action == "dial":
            {
                "answered": call.dial_answered,
                "busy": call.dial_busy,
                "no-answer": call.dial_no_answer,
                "failed": call.dial_failed,
            }[step.argument]()
        else:
            call.hangup()
        return True

    def end(self) -> None:
        """Hang up as the caller if the call is still on (its status hook then gets ``completed``)."""
        if not self.call.ended:
            self.call.hangup()


def _prompt(call: Call) -> str:
    verb: dict[str, Any] = call.waiting_verb or {}
    if call.waiting_for == "gather":
        value = verb.get("input")
        inputs = [str(item) for item in value] if isinstance(value, list) else ["digits"]
        kinds = " or ".join(("keys to press" if item == "digits" else "words to say") for item in inputs)
        return f"[gather {'/'.join(inputs)}] {kinds}; empty line: silence; hangup: "
    targets = ", ".join(
        str(target.get("number") or target.get("name") or target.get("sipUri") or target.get("type"))
        for target in verb.get("target", [])
        if isinstance(target, dict)
    )
    return f"[dial {targets}] answered, busy, no-answer or failed; hangup: "


def command_simulate(args: argparse.Namespace) -> int:
    """Play a call against the app served at URL: from a script, or typed at the terminal."""
    import httpx2

    from .testing import CallSimulator, SimulatorError

    steps = _read_script(args.script) if args.script is not None else None
    secret: str | None = args.secret
    if secret is None:
        secrets = env_secrets(os.environ)
        secret = secrets[0] if secrets else None
    try:
        simulator = CallSimulator(
            args.url,
            call_hook=args.call_hook,
            status_hook=None if args.no_status_hook else args.status_hook,
            secret=secret or False,
            basic_auth=_credentials(args.basic_auth) or False,
            method=args.method,
            timeout=args.timeout,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    simulation: _Simulation | None = None
    error: str | None = None
    with simulator:
        try:
            _note(f"calling {simulator.call_hook_url} from {args.from_} to {args.to}")
            call = simulator.start(from_=args.from_, to=args.to, env_vars=_env_vars(args.env or ()))
            simulation = _Simulation(call, quiet=args.json)
            simulation.show()
            if steps is not None:
                for step in steps:
                    if not simulation.step(step):
                        break
                    simulation.show()
            else:
                interactive = sys.stdin.isatty()
                while not call.ended:
                    if interactive:
                        print(_prompt(call), end="", file=sys.stderr, flush=True)
                    line = sys.stdin.readline()
                    if not line:  # end of input: the caller hangs up
                        break
                    try:
                        typed = parse_step(line, 0, call.waiting_for)
                    except CliError as exc:
                        if not interactive:
                            raise
                        print(f"  {exc}", file=sys.stderr)
                        continue
                    if typed is None:
                        continue
                    try:
                        simulation.step(typed)
                    except SimulatorError as exc:
                        if not interactive or exc.status_code is not None:
                            raise
                        print(f"  {exc}", file=sys.stderr)
                    simulation.show()
            if not call.ended and steps is not None and not simulation.failures:
                _note(f"the script ended while the call waits for {call.waiting_for}: the caller hangs up")
            simulation.end()
            simulation.show()
        except SimulatorError as exc:
            error = str(exc)
            if simulation is not None:
                simulation.show()
        except (httpx2.HTTPError, OSError) as exc:  # OSError: a WebSocket that cannot be opened
            raise CliError(f"cannot reach {args.url}: {exc}") from None
    failures = ([error] if error is not None else []) + (simulation.failures if simulation else [])
    if args.json:
        print(json.dumps(_simulation_json(simulation, failures), indent=2, ensure_ascii=False))
    for failure in failures:
        print(f"{PROG} simulate: {failure}", file=sys.stderr)
    if simulation is not None and not args.json:
        call = simulation.call
        ended = f"hung up by {call.hung_up_by}" if call.ended else f"waiting for {call.waiting_for}"
        print(f"call {call.sid}: {len(call.requests)} request(s), {ended}", flush=True)
    return EXIT_PROBLEMS if failures else EXIT_OK


def _simulation_json(simulation: _Simulation | None, failures: list[str]) -> dict[str, Any]:
    call = simulation.call if simulation is not None else None
    return {
        "ok": not failures,
        "failures": failures,
        "call_sid": call.sid if call else None,
        "heard": list(call.heard) if call else [],
        "log": list(call.log) if call else [],
        "verbs": list(call.verbs) if call else [],
        "dialed": list(call.dialed) if call else [],
        "ended": bool(call.ended) if call else False,
        "hung_up_by": call.hung_up_by if call else None,
        "requests": [
            {"kind": sent.kind, "method": sent.method, "url": sent.url, "status_code": sent.status_code}
            for sent in (call.requests if call else [])
        ],
    }


# -- the parser ---------------------------------------------------------------------------------


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


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


def _add_app_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help="the app, as module:attribute (like uvicorn's)")
    parser.add_argument(
        "--app-dir",
        default=".",
        help="the directory APP's module is imported from (default: the current one)",
    )
    parser.add_argument("--factory", action="store_true", help="APP is a function that returns the app")


def build_parser() -> argparse.ArgumentParser:
    """The command line parser of ``jambonz-webhooks``."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a jambonz-webhooks app, list and check its hooks, play a call, sign requests.",
        epilog="Exit status: 0 ok, 1 problems found (routes) or the call failed (simulate), 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="serve APP with uvicorn",
        description=(
            "Serve APP with uvicorn (uvloop and httptools), with bounds on slow and idle clients and a "
            "drain on SIGTERM. The port is --port, else the PORT environment variable, else "
            f"{DEFAULT_PORT}. In a container, give --host 0.0.0.0."
        ),
    )
    _add_app_arguments(run)
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
    from .serving import Limits, Shutdown

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
    _add_app_arguments(routes)
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

    simulate = commands.add_parser(
        "simulate",
        help="play a call against the app served at URL",
        description=(
            "Play a call against the app served at URL (its origin, with the path it is mounted under), "
            "as jambonz would: the call hook, then each verb's hook, signed with the webhook secret "
            "(over HTTP), or over jambonz's WebSocket API when URL is ws:// or wss:// (one socket for "
            "the call, opened with the basic auth credentials). "
            "Shows what the caller hears; asks, at each gather, for keys or words and, at each dial, for "
            "its outcome. With --script, the steps come from a file instead, one a line: "
            + _STEP_HELP.replace("%", "%%")
            + ". expect checks, ignoring case, that the caller heard the text since the last step. "
            "Exit status 1 when the app answers an error or an expectation fails."
        ),
    )
    simulate.add_argument(
        "url",
        metavar="URL",
        help="where the app is served, e.g. http://127.0.0.1:3000 (ws://127.0.0.1:3000: the WebSocket API)",
    )
    simulate.add_argument("--script", metavar="FILE", default=None, help="play the steps of FILE")
    simulate.add_argument(
        "--call-hook", default="/incoming", help="the call hook, under URL (default /incoming)"
    )
    simulate.add_argument("--status-hook", default="/status", help="the call status hook (default /status)")
    simulate.add_argument("--no-status-hook", action="store_true", help="send no call status hooks")
    simulate.add_argument(
        "--secret",
        default=None,
        help=f"the webhook secret to sign with (default: the first of ${ENV_SECRET})",
    )
    simulate.add_argument(
        "--basic-auth",
        metavar="USER:PASSWORD",
        default=None,
        help=f"credentials to send (default: ${ENV_USERNAME} and ${ENV_PASSWORD})",
    )
    simulate.add_argument("--method", choices=["POST", "GET"], default="POST", help="how hooks are called")
    simulate.add_argument("--from", dest="from_", default="+15551230000", help="the caller's number")
    simulate.add_argument("--to", default="+15559870000", help="the number called")
    simulate.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="an env var the call hook carries (repeatable)"
    )
    simulate.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer")
    simulate.add_argument(
        "--json",
        action="store_true",
        help="print the call as a JSON document (the transcript goes to stderr)",
    )
    simulate.set_defaults(func=command_simulate)
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
