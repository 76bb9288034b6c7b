"""Sample payloads, and a hook's handler run on them the way the app runs it.

Each sample is decoded by the hook's own :class:`~jambonz_webhooks.decoding.PayloadReader`
(``pipeline.reader``) and answered by :meth:`HookPipeline.produce
<jambonz_webhooks.pipeline.HookPipeline.produce>`: the session kept, the env vars and the
arguments built, a sync handler run in the pipeline's own worker thread, the answer checked
against the app's target and encoded; only the fallback is left out, so that a failure says why.
"""

from __future__ import annotations

import asyncio
import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from ..env import EnvVar, EnvVarError
from ..errors import AppExit, HookError
from ..events import SpeechResult
from ..hooks import UnroutedHandlerError, current_context
from ..payload import CallInfo
from ..pipeline import EmptyCallHookAnswer, HookSettings
from ..rest.access import ApiAccess
from ..rest.errors import APIError
from ..rest.settings import ENV_API_KEY
from ..routing import HookRoute
from ..session import CallSession
from ..state import keep_session
from ..targets import Release, ReleaseError
from ..verbs import VERB_MODELS
from .references import Checker
from .report import HookEntry

__all__ = [
    "HANDLER_TIMEOUT",
    "MAX_SAMPLES",
    "SAMPLE_API_BASE_URL",
    "SAMPLE_CALL_SID",
    "ServedBy",
    "run_hook",
    "sample_payloads",
]

HANDLER_TIMEOUT = 5.0
"""Seconds a handler may take to answer a sample payload in ``routes`` before it is given up."""
MAX_SAMPLES = 64
"""The most sample payloads ``routes`` runs one handler with."""

SAMPLE_CALL_SID = "00000000-0000-4000-8000-00000000c11a"
"""The call of every sample payload."""
_PATH_PARAM_SAMPLES = ("1", "sample", "00000000-0000-4000-8000-000000000001", "1.0")
_DIGITS = tuple("0123456789*#")
_SPEECH = {"is_final": True, "alternatives": [{"transcript": "yes", "confidence": 0.9}]}


SAMPLE_API_BASE_URL = "https://api.invalid/v1"
"""Where the sample payloads' REST calls go: a name that never resolves (RFC 6761)."""

# A placeholder key too: a handler's REST call fails at the address, as for want of a reachable API,
# not for a key the command's environment has no reason to hold.
_NOWHERE = ApiAccess(SAMPLE_API_BASE_URL, environ={ENV_API_KEY: "placeholder"})


def _placeholder(var: EnvVar) -> Any:
    """An env var's sample value: its default, else its first allowed value, else one of its type."""
    if var.default is not None:
        return var.default
    if var.enum:
        return var.enum[0]
    return {"string": "sample", "number": 0, "boolean": False}[var.type]


def _sample_env_vars(settings: HookSettings, given: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Env vars for the sample payloads, and the names of those given a placeholder.

    Only what the app declares (its answer to the portal's discovery request,
    ``settings.env_schema``) is set, as on a real call: a handler's EnvVars class that the app
    does not declare gets none of its variables. A required variable has no default; the portal
    makes its user set one, so a real call always carries it: the samples give it the value
    ``given`` (``--env``) has, else a placeholder of its type.
    """
    schema: dict[str, Any] = pydantic_core.from_json(settings.env_schema)
    values: dict[str, Any] = {}
    placeholders: set[str] = set()
    for name, declaration in schema.items():
        var = EnvVar.model_validate(declaration)
        if name in given:
            values[name] = given[name]
        else:
            values[name] = _placeholder(var)
            if var.default is None:
                placeholders.add(name)
    values.update(given)  # a variable the app does not declare: the call carries it all the same
    return values, placeholders


def _placeholders_refused(route: HookRoute, env_vars: Mapping[str, Any], placeholders: set[str]) -> list[str]:
    """The placeholders the handler's EnvVars classes refuse, if they refuse nothing else.

    Empty when they refuse a variable the samples set for real (a default, an ``--env`` value)
    or one they do not set at all: a real call fails the same way.
    """
    refused: set[str] = set()
    for param in route.plan.params:
        if param.env is not None:
            try:
                param.env.model_validate(env_vars)
            except ValidationError as exc:
                refused.update(str(error["loc"][0]) if error["loc"] else "" for error in exc.errors())
    return sorted(refused) if refused <= placeholders else []


def _base_payload(env_vars: Mapping[str, Any]) -> dict[str, Any]:
    """A call hook payload with every field jambonz always sends, and a value for each declared env var."""
    return {
        "call_sid": SAMPLE_CALL_SID,
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
        "env_vars": dict(env_vars),
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


def _request(
    route: HookRoute, prefix: str, body: bytes, path_params: Mapping[str, Any], served: ServedBy
) -> Request:
    """The HTTP request of a sample, for a handler that asks for the Starlette request."""
    path = prefix + route.path_format.format(**{name: str(value) for name, value in path_params.items()})

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    host = served.host.encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http",
        "server": (served.host, 80),
        "client": ("127.0.0.1", 50000),
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": prefix,
        "query_string": b"",
        "headers": [
            (b"host", host),
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
        ],
        "path_params": dict(path_params),
        # What Starlette sets before a route is reached: the app the route is in, the outermost
        # router (request.url_for asks it), and a copy of the lifespan's state (request.state).
        "app": served.app,
        "router": served.router,
        "state": dict(served.state),
    }
    if served.app is None:
        del scope["app"]
    if served.router is None:
        del scope["router"]
    return Request(scope, receive)


@dataclass(frozen=True)
class ServedBy:
    """What a request's scope holds beside the request itself, as the serving app would set it."""

    app: Any = None
    """The Starlette app the hook's route belongs to (``request.app``)."""
    router: Any = None
    """The outermost router (``scope["router"]``: ``request.url_for`` asks it)."""
    state: Mapping[str, Any] = field(default_factory=dict)
    """The state the app's lifespan yielded (copied into each request: ``request.state``)."""
    host: str = "sample.invalid"
    """The request's host (a name that never resolves, RFC 6761)."""
    env: Mapping[str, Any] = field(default_factory=dict)
    """Env var values given on the command line (``--env``): they replace the placeholders."""


async def run_hook(
    checker: Checker,
    prefix: str,
    route: HookRoute,
    entry: HookEntry,
    release: Release | None = None,
    served: ServedBy | None = None,
) -> None:
    """Run a call or action hook's handler on sample payloads and check the hooks of its answers.

    The app's state store must be an in-memory one (``routes`` gives the app one): each sample
    starts from a state holding the call hook's payload, as the framework keeps it. With a
    ``release`` (``--target``), what that jambonz release would refuse in an answer is a problem;
    the app's own target, if it declares one, is checked by the pipeline itself. ``served`` is
    what the request's scope holds (its app, router and lifespan state) and the ``--env`` values.

    A verb the handler builds wrong (its ValidationError) or the target refuses is a problem on
    any sample: that is the code's fault, whatever the payload. Other failures are problems only
    when the handler fails on every sample (every call would get the fallback), else warnings.
    """
    served = served or ServedBy()
    report = checker.report
    pipeline = route.pipeline
    settings = route.settings
    # REST calls of the handlers go to an address that does not resolve, whatever the app's is.
    context = replace(settings.context(prefix), api=_NOWHERE)
    hook, handler = entry.path, entry.handler
    env_vars, placeholders = _sample_env_vars(settings, served.env)
    base = _base_payload(env_vars)
    session = pydantic_core.to_json(base)
    path_params = _path_params(route)
    # The handler's own failures, in order: a handler that answers no sample at all is a problem.
    failures: dict[str, bool] = {}  # each reason, and whether it is a verb built wrong
    unanswerable = False  # a failure that says nothing of the handler (no REST API, no answer in time)
    for payload in sample_payloads(route.plan.models, base):
        await settings.state.drop(SAMPLE_CALL_SID)
        await keep_session(settings.state, SAMPLE_CALL_SID, session)
        body = pydantic_core.to_json(payload)
        try:
            decoded = pipeline.reader.read(body, b"", False)
        except HookError as exc:  # the app's own models refuse the sample: say so and go on
            unanswerable = True
            fields = "; ".join(" ".join(part.values()) for part in exc.fields or ())
            message = f"{exc.message}: {fields}" if fields else exc.message
            report.flag("warning", hook, handler, f"could not build a sample payload: {message}")
            continue
        request = functools.partial(_request, route, prefix, body, path_params, served)
        token = current_context.set(context)  # copied into the task: REST calls write hooks with it
        try:
            # Awaited in this task (asyncio.timeout, not wait_for's task of its own): what the
            # handler raises, a SystemExit or a KeyboardInterrupt too, comes here, not to the loop.
            async with asyncio.timeout(HANDLER_TIMEOUT):
                data, _ = await pipeline.produce(decoded, body, path_params, context, request)
        except UnroutedHandlerError as exc:
            report.flag("problem", hook, handler, str(exc))
            continue
        except ReleaseError as exc:  # the app's own target refuses the answer: every such call fails
            entry.samples_run += 1
            report.flag("problem", hook, handler, str(exc))
            continue
        except (HTTPException, HookError):
            entry.samples_run += 1  # the handler chose an HTTP answer (a 403, say): no verbs to check
            continue
        except TimeoutError:
            unanswerable = True
            if not route.plan.is_async:
                report.stuck_threads += 1  # the pipeline's worker thread goes on: it cannot be stopped
            report.flag(
                "warning", hook, handler, f"could not build its answer: no answer in {HANDLER_TIMEOUT:g} s"
            )
            break  # waiting on something that does not answer here: the other samples would wait too
        except (APIError, OSError) as exc:
            unanswerable = True  # the samples' REST API is nowhere: a real call's may well answer
            report.flag(
                "warning", hook, handler, f"could not build its answer (no REST API here): {_failure(exc)}"
            )
            continue
        except EnvVarError as exc:
            refused = _placeholders_refused(route, env_vars, placeholders)
            if not refused:
                failures[_failure(exc)] = False  # a variable no real call carries either
                continue
            unanswerable = True  # the portal's user sets real values: placeholders say nothing
            options = " ".join(f"--env {name}=VALUE" for name in refused)
            report.flag(
                "warning",
                hook,
                handler,
                f"could not build its answer: {exc} (placeholders: give values with {options})",
            )
            continue
        except asyncio.CancelledError:
            raise  # the command itself is stopped (Ctrl-C)
        except BaseException as exc:  # a handler's own SystemExit or KeyboardInterrupt too
            failures[_failure(exc)] = _is_verb_error(exc)
            continue
        finally:
            current_context.reset(token)
        entry.samples_run += 1
        verbs = pydantic_core.from_json(data)
        checker.check_verbs(hook, handler, verbs)
        if release is not None:
            for refusal in release.refusals(verbs):
                report.flag("problem", hook, handler, refusal.describe(release))
    # Failing on every sample, and not for want of a REST API: every call would get the fallback.
    always = bool(failures) and entry.samples_run == 0 and not unanswerable
    for reason, verb_error in failures.items():
        if always:
            report.flag("problem", hook, handler, f"fails on every sample call: {reason}")
        elif verb_error:  # a verb built wrong: the code's fault, whatever the payload
            report.flag("problem", hook, handler, f"fails on some sample calls: {reason}")
        else:
            report.flag("warning", hook, handler, f"could not build its answer: {reason}")


_VERB_NAMES = {model.__name__: name for name, model in VERB_MODELS.items()}


def _is_verb_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a verb's validation error (a verb built with a wrong field or value)."""
    return isinstance(exc, ValidationError) and exc.title in _VERB_NAMES


def _failure(exc: BaseException) -> str:
    """An exception in full for a report: a verb's validation error names the verb and each field."""
    if isinstance(exc, AppExit) and exc.__cause__ is not None:
        exc = exc.__cause__  # the SystemExit or KeyboardInterrupt the handler raised, by its name
    if isinstance(exc, ValidationError):
        verb = _VERB_NAMES.get(exc.title)
        what = f"the {verb} verb" if verb is not None else exc.title
        errors = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(value)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        return f"{what}: {errors}"
    if isinstance(exc, EnvVarError | EmptyCallHookAnswer):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
