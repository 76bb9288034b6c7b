"""Sample payloads, and a hook's handler run on them the way the app runs it.

Each sample is decoded by the hook's own :class:`~jambonz_webhooks.decoding.PayloadReader`
(``pipeline.reader``) and answered by :meth:`HookPipeline.produce
<jambonz_webhooks.pipeline.HookPipeline.produce>`: the session kept, the env vars and the
arguments built, a sync handler run in the pipeline's own worker thread, the answer checked
against the app's target and encoded; only the fallback is left out, so that a failure says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from ..env import EnvVar, EnvVarError
from ..errors import HookError
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


def _sample_env_vars(settings: HookSettings, route: HookRoute) -> dict[str, Any]:
    """Env vars for the sample payloads: every variable the app or the handler declares has a value.

    The app's declarations are read from its answer to the portal's discovery request
    (``settings.env_schema``), the handler's from the EnvVars class it asks for. A required
    variable has no default; the portal makes its user set one, so a real call always carries
    it. The samples give it a placeholder of its type, so that a handler asking for its
    :class:`EnvVars` gets them instead of the ``EnvVarError`` no real call would raise.
    """
    schema: dict[str, Any] = pydantic_core.from_json(settings.env_schema)
    declared = {name: EnvVar.model_validate(declaration) for name, declaration in schema.items()}
    for param in route.plan.params:
        if param.env is not None:
            with contextlib.suppress(TypeError, ValidationError):  # a class the portal cannot show
                declared = {**param.env.declarations(), **declared}
    return {name: _placeholder(var) for name, var in declared.items()}


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


def _request(route: HookRoute, prefix: str, body: bytes, path_params: Mapping[str, Any]) -> Request:
    """The HTTP request of a sample, for a handler that asks for the Starlette request."""
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
        "path_params": dict(path_params),
    }
    return Request(scope, receive)


async def run_hook(
    checker: Checker, prefix: str, route: HookRoute, entry: HookEntry, release: Release | None = None
) -> None:
    """Run a call or action hook's handler on sample payloads and check the hooks of its answers.

    The app's state store must be an in-memory one (``routes`` gives the app one): each sample
    starts from a state holding the call hook's payload, as the framework keeps it. With a
    ``release`` (``--target``), what that jambonz release would refuse in an answer is a problem;
    the app's own target, if it declares one, is checked by the pipeline itself.
    """
    report = checker.report
    pipeline = route.pipeline
    settings = route.settings
    # REST calls of the handlers go to an address that does not resolve, whatever the app's is.
    context = replace(settings.context(prefix), api=_NOWHERE)
    hook, handler = entry.path, entry.handler
    base = _base_payload(_sample_env_vars(settings, route))
    session = pydantic_core.to_json(base)
    path_params = _path_params(route)
    # The handler's own failures, in order: a handler that answers no sample at all is a problem.
    failures: dict[str, None] = {}
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
        request = functools.partial(_request, route, prefix, body, path_params)
        token = current_context.set(context)  # copied into the task: REST calls write hooks with it
        try:
            work = pipeline.produce(decoded, body, path_params, context, request)
            data, _ = await asyncio.wait_for(work, HANDLER_TIMEOUT)
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
        except Exception as exc:
            failures[_failure(exc)] = None
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
    for reason in failures:
        if always:
            report.flag("problem", hook, handler, f"fails on every sample call: {reason}")
        else:
            report.flag("warning", hook, handler, f"could not build its answer: {reason}")


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
    if isinstance(exc, EnvVarError | EmptyCallHookAnswer):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
