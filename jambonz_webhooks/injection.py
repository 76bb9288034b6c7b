"""Reading a handler's signature, once, to know what to pass it on every request.

A handler asks for what it needs by annotation:

- :class:`~jambonz_webhooks.CallSession` or a hook payload model (``GatherResult``,
  ``DialResult``, ``CallStatus``, ...; any subclass of :class:`~jambonz_webhooks.payload.CallInfo`);
  ``X | None`` gets None when the request carries no payload. On an action or status hook a
  ``CallSession`` is the session kept from the call hook, updated with the hook's own payload
  (:func:`kept_session`);
- Starlette's :class:`~starlette.requests.Request`;
- ``dict`` (or ``dict[str, Any]``, ``Mapping[str, Any]``): the raw payload;
- :class:`~jambonz_webhooks.CallState`: the call's state, shared by all its hooks;
- a subclass of :class:`~jambonz_webhooks.EnvVars`: the application's environment variables, typed;
- :class:`~jambonz_webhooks.Continuation`: lets the handler continue in the background;
- :class:`~jambonz_webhooks.CallControl`: live control of the call (commands over its socket, or
  the REST API over HTTP).

A parameter named like a parameter of the hook's path (``/menu/{step}``) gets its value,
converted to its annotation (``step: int``) as FastAPI does.

Anything else is an error when the route is registered, not when a call comes in. The plan is
made once per handler (:func:`plan_handler`); :func:`build_arguments`, beside it, turns a
request's decoded payload into the handler's arguments, for the route and for anything else
that runs a handler (the command line's checks).
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
import typing
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from .background import Continuation
from .control import CallControl
from .decoding import Decoded
from .env import EnvVar, EnvVars
from .errors import HookError
from .events import CallStatus, SessionRedirect
from .payload import CallInfo, prepare
from .session import CallSession, LaterCallSession
from .state import SESSION_KEY, CallState, StateStore, StateStoreError, store_outage

__all__ = [
    "HandlerPlan",
    "HandlerWarning",
    "HookKind",
    "Param",
    "build_arguments",
    "env_values",
    "kept_session",
    "plan_handler",
    "warn_of_mismatches",
]

logger = logging.getLogger("jambonz_webhooks")


class HookKind(StrEnum):
    """The three kinds of webhook jambonz sends."""

    CALL = "call"
    """The call hook: a new call; the answer is the call's first verbs."""
    ACTION = "action"
    """An action hook: a verb finished; the answer replaces the rest of the verb list."""
    STATUS = "status"
    """The call status hook: the call's status changed; jambonz ignores the answer."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a handler and where its value comes from."""

    name: str
    source: Literal["model", "request", "payload", "path", "state", "env", "continuation", "control"]
    model: type[CallInfo] | None = None
    optional: bool = False
    env: type[EnvVars] | None = None
    convert: Callable[[Any], Any] | None = None
    """For a path parameter whose annotation the path's converter does not give: the conversion."""


@dataclass(frozen=True, slots=True)
class HandlerPlan:
    """Everything the route needs to know about a handler, worked out at registration."""

    handler: Callable[..., Any]
    is_async: bool
    params: tuple[Param, ...]
    models: tuple[type[CallInfo], ...]
    """The distinct models asked for, in the order of the parameters."""
    wants_payload: bool
    """Whether a parameter asks for the raw payload dict."""

    @property
    def requires_payload(self) -> bool:
        """Whether a request without payload cannot be served (a model or the call's state is asked for)."""
        return any(
            (param.source == "model" and not param.optional) or param.source in ("state", "env")
            for param in self.params
        )

    @property
    def wants_continuation(self) -> bool:
        """Whether the handler may ask to continue in the background."""
        return any(param.source == "continuation" for param in self.params)

    @property
    def reads_env(self) -> bool:
        """Whether a parameter asks for the call's env vars (read from its state: the one wait)."""
        return any(param.source == "env" for param in self.params)

    @property
    def session_model(self) -> type[CallSession] | None:
        """The ``CallSession`` (or subclass) a parameter asks for, if any.

        On a hook after the call hook it is the kept session, updated (see :func:`kept_session`).
        """
        for model in self.models:
            if issubclass(model, CallSession):
                return model
        return None

    @property
    def uses_state(self) -> bool:
        """Whether the handler reads the call's state (directly, or through its env vars)."""
        return any(param.source in ("state", "env") for param in self.params)


def plan_handler(
    handler: Callable[..., Any], path_params: Mapping[str, type] | frozenset[str] = frozenset()
) -> HandlerPlan:
    """Read ``handler``'s signature and say where each argument will come from.

    A parameter named like a parameter of the route's path (``/menu/{step}``) gets its value;
    ``path_params`` maps each to the type its converter gives (``str`` for ``{step}``, ``int``
    for ``{step:int}``), and a parameter annotated otherwise is converted as pydantic does.
    The models the handler names are built now, so the first call does not pay for them.

    Raises:
        TypeError: a parameter has no annotation, or one the framework cannot supply; the call's
            state or env vars are asked for with a payload that carries no call_sid; a path
            parameter's annotation cannot be built from text.

    """
    if not isinstance(path_params, Mapping):
        path_params = dict.fromkeys(path_params, str)
    name = getattr(handler, "__qualname__", repr(handler))
    try:
        hints = typing.get_type_hints(_annotated(handler))
    except NameError as exc:
        raise TypeError(f"cannot read the annotations of handler {name}: {exc}") from None
    params: list[Param] = []
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"parameter {parameter.name!r} of handler {name} is positional-only: "
                "the framework passes arguments by name"
            )
        if parameter.name in path_params:
            params.append(_path_param(name, parameter.name, hints.get(parameter.name), path_params))
            continue
        if parameter.name not in hints:
            raise TypeError(
                f"parameter {parameter.name!r} of handler {name} has no annotation: annotate it with "
                "CallSession, a hook payload model (GatherResult, ...), CallState, CallControl, Request "
                "or dict"
            )
        param = _param(parameter.name, hints[parameter.name])
        if param is None:
            raise TypeError(
                f"cannot supply parameter {parameter.name!r} of handler {name}: its annotation "
                f"{hints[parameter.name]!r} is none of CallSession, a hook payload model, CallState, "
                "CallControl, Request or dict"
            )
        params.append(param)
    models = tuple(dict.fromkeys(param.model for param in params if param.model is not None))
    is_async = _is_async(handler)
    if not is_async and any(param.source == "state" for param in params):
        raise TypeError(f"handler {name} asks for CallState, whose methods are coroutines: make it async")
    if models and all(not model.model_fields["call_sid"].is_required() for model in models):
        # The state is keyed by call_sid: a payload that may lack it would share one key.
        for param in params:
            if param.source in ("state", "env"):
                what = "CallState" if param.source == "state" else "its env vars"
                payloads = ", ".join(model.__name__ for model in models)
                raise TypeError(
                    f"handler {name} asks for {what}, but {payloads} may come without a call_sid, "
                    "which the call's state is kept by: ask for a payload that carries the call"
                )
    for model in models:
        prepare(model)
    return HandlerPlan(
        handler=handler,
        is_async=is_async,
        params=tuple(params),
        models=models,
        wants_payload=any(param.source == "payload" for param in params),
    )


def _path_param(handler: str, name: str, annotation: Any, converted: Mapping[str, type]) -> Param:
    """A path parameter, with the conversion its annotation asks for beyond its converter's."""
    given = converted[name]
    if annotation is None or annotation is Any or annotation is given:
        return Param(name, "path")
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except Exception as exc:  # pydantic cannot build a validator for it
        raise TypeError(
            f"path parameter {name!r} of handler {handler}: cannot convert its text to {annotation!r} ({exc})"
        ) from None

    def convert(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            raise HookError(422, f"invalid path parameter: {name}") from None

    return Param(name, "path", convert=convert)


def build_arguments(
    plan: HandlerPlan,
    payload: Decoded,
    path_params: Mapping[str, Any],
    store: StateStore,
    request: Callable[[], Request] | None = None,
    continuation: Continuation | None = None,
    env: Any = None,
    session: CallSession | None = None,
) -> dict[str, Any]:
    """The handler's arguments for one request, as its plan says.

    Nothing here waits: a handler that asks for env vars (``plan.reads_env``) is given them as
    ``env``, read first with :func:`env_values` (a step that may wait on the store); one that
    asks for a ``CallSession`` on a hook after the call hook is given ``session``, read first
    with :func:`kept_session`.

    Args:
        plan: the handler's plan.
        payload: the request's decoded payload.
        path_params: the values of the hook path's parameters.
        store: where calls' state lives.
        request: makes the Starlette request, for a handler that asks for it (None where there
            is no HTTP request).
        continuation: the handle given to a handler that asks for one.
        env: the call's env vars, from :func:`env_values`.
        session: the call's session, from :func:`kept_session` (None: the payload's own).

    Raises:
        HookError: 422 for a path parameter that does not convert.
        EnvVarError: an env var does not fit its declared type.

    """
    arguments: dict[str, Any] = {}
    models = payload.models
    for param in plan.params:
        source = param.source
        if source == "model":
            model = param.model
            if session is not None and type(session) is model:
                arguments[param.name] = session
            else:
                arguments[param.name] = models.get(model)  # type: ignore[arg-type]
        elif source == "path":
            value = path_params[param.name]
            arguments[param.name] = value if param.convert is None else param.convert(value)
        elif source == "payload":
            arguments[param.name] = payload.raw
        elif source == "state":
            assert payload.call is not None  # required: a request without a payload was refused
            arguments[param.name] = CallState(store, str(payload.call.call_sid))
        elif source == "env":
            assert param.env is not None
            arguments[param.name] = param.env.from_values(env)
        elif source == "continuation":
            arguments[param.name] = continuation if continuation is not None else Continuation()
        elif source == "control":
            arguments[param.name] = CallControl.of(payload.call)
        else:
            if request is None:
                raise TypeError(f"{param.name!r} asks for the HTTP request, and there is none")
            arguments[param.name] = request()
    return arguments


async def env_values(call: CallInfo, store: StateStore) -> Any:
    """The call's env vars: its own payload's (a call hook's), else the ones its state kept.

    Raises:
        StateStoreError: the store failed while they were read from the call's state.

    """
    values: Any = getattr(call, "env_vars", None)
    if values is None:
        values = await CallState(store, str(call.call_sid)).env_vars()
    return values


async def kept_session(call: CallSession, store: StateStore) -> CallSession:
    """The call as its call hook described it, updated with ``call``, a later hook's payload.

    The session the call hook kept (its SIP INVITE, env vars, defaults, ...) with every field
    ``call`` carries taken from ``call``: the call's status, its customerData, the hook's own
    extra keys are this hook's. ``call`` itself when nothing was kept (the call hook reached
    another process of a memory store, or went to another app, or this is a dialed leg's first
    hook) or the store fails (logged): the handler still runs on the payload it was sent.
    """
    # The kept session is a whole one: read as the handler's model, not the lenient one.
    model = CallSession if isinstance(call, LaterCallSession) else type(call)
    try:
        raw = await store.get(call.call_sid, SESSION_KEY)
    except StateStoreError as exc:
        store_outage.warn(
            "could not read call %s's session from the state store: %s",
            call.call_sid,
            exc,
            call_sid=call.call_sid,
        )
        return _whole(call)
    if raw is None:
        logger.debug("call %s has no session kept from a call hook", call.call_sid)
        return _whole(call)
    try:
        kept = model.model_validate_json(raw)
    except ValidationError:
        return _whole(call)  # kept by another version of the app, say: this hook's payload
    extra = call.__pydantic_extra__ or {}
    update = {name: extra[name] if name in extra else getattr(call, name) for name in call.model_fields_set}
    return kept.model_copy(update=update)


_REQUIRED = tuple(
    (name, field.alias or name) for name, field in CallSession.model_fields.items() if field.is_required()
)


def _whole(call: CallSession) -> CallSession:
    """``call`` when it has every field of a CallSession; else the 422 its payload would get.

    A later hook's payload is read leniently (:class:`~jambonz_webhooks.session.LaterCallSession`):
    what it lacks comes from the kept session. With none kept, a handler that asked for a
    CallSession cannot be given one.

    Raises:
        HookError: 422 naming the missing fields.

    """
    if not isinstance(call, LaterCallSession):
        return call
    missing = [alias for name, alias in _REQUIRED if getattr(call, name, None) is None]
    if missing:
        raise HookError(
            422, "invalid payload: " + ", ".join(missing) + " (no session was kept from the call hook)"
        )
    # Every field is there: the handler gets the CallSession it asked for.
    return CallSession.model_validate(call.model_dump(by_alias=True, exclude_unset=True))


def _annotated(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The function whose annotations describe ``handler`` (a partial's function, an object's __call__)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if inspect.isfunction(handler) or inspect.ismethod(handler):
        return handler
    call: Callable[..., Any] = getattr(handler, "__call__", handler)  # noqa: B004
    return call


def _is_async(handler: Callable[..., Any]) -> bool:
    while isinstance(handler, functools.partial):
        handler = handler.func
    call = getattr(handler, "__call__", None)  # noqa: B004 (an object with an async __call__)
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def _param(name: str, annotation: Any) -> Param | None:
    optional = False
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            return None
        annotation, optional = members[0], True
        origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, CallInfo):
        return Param(name, "model", annotation, optional)
    if isinstance(annotation, type) and issubclass(annotation, Request):
        return Param(name, "request")
    if annotation in (dict, Mapping) or origin in (dict, Mapping):
        return Param(name, "payload")
    if annotation is CallState:
        return Param(name, "state")
    if annotation is Continuation:
        return Param(name, "continuation")
    if annotation is CallControl:
        return Param(name, "control")
    if isinstance(annotation, type) and issubclass(annotation, EnvVars) and annotation is not EnvVars:
        return Param(name, "env", env=annotation)
    return None


class HandlerWarning(UserWarning):
    """A handler asks for what its hook never gets: another kind's payload, or undeclared env vars.

    Warned once per handler, at registration, pointing at the handler's ``def`` line.
    """


def _unreceived(model: type[CallInfo], kind: HookKind) -> str | None:
    """Why a hook of ``kind`` never receives ``model``, or None when it may.

    A call hook gets the call as a new call (or a redirect) describes it: a ``CallSession``.
    An action hook gets the result of the verb it was given to (``GatherResult``,
    ``DialResult``, ...), never a call status. A status-kind hook may serve any hook whose
    answer jambonz ignores (the call status hook, but also a conference's ``statusHook``, a
    ``transcribe``'s ``transcriptionHook``, ``amd``'s ``actionHook``...): nothing is ruled out.
    """
    if model is CallInfo or issubclass(model, CallSession | SessionRedirect):
        return None
    if kind is HookKind.CALL:
        what = "the call status hook's" if issubclass(model, CallStatus) else "a verb's result"
        return f"a call hook gets a new call (ask for CallSession), never {what} ({model.__name__})"
    if kind is HookKind.ACTION and issubclass(model, CallStatus):
        return (
            "an action hook gets the result of the verb it is given to, never a call status "
            "(CallStatus is the call status hook's: register that handler with status_hook)"
        )
    return None


# The warnings already given, by handler function: each once, however often it is registered.
_warned: weakref.WeakKeyDictionary[Callable[..., Any], set[str]] = weakref.WeakKeyDictionary()


def warn_of_mismatches(plan: HandlerPlan, kind: HookKind, env_vars: Mapping[str, EnvVar]) -> None:
    """Warn (:class:`HandlerWarning`) of what ``plan``'s handler asks for but will never get.

    A payload model its hook kind never receives (see :func:`_unreceived`), and an
    :class:`~jambonz_webhooks.EnvVars` class whose variables the app does not declare: the portal's
    discovery request asks the app, so those variables are never set and the handler fails on
    every call. Each warning is given once per handler, at the handler's own line.
    """
    reasons = [reason for model in plan.models if (reason := _unreceived(model, kind)) is not None]
    for param in plan.params:
        if param.env is not None:
            missing = [name for name in param.env.model_fields if name not in env_vars]
            if missing:
                reasons.append(
                    f"{param.env.__name__} declares {', '.join(missing)}, which the app does not: the "
                    "portal never asks for them (give the class to the app: "
                    f"JambonzApp(env_vars={param.env.__name__}))"
                )
    if not reasons:
        return
    function = inspect.unwrap(_annotated(plan.handler))
    function = getattr(function, "__func__", function)  # a bound method: its function
    code = getattr(function, "__code__", None)
    filename = code.co_filename if code is not None else "<unknown>"
    lineno = code.co_firstlineno if code is not None else 0
    name = getattr(plan.handler, "__qualname__", repr(plan.handler))
    try:
        given = _warned.setdefault(function, set())
    except TypeError:  # not weakly referenceable: warned every time
        given = set()
    for reason in reasons:
        if reason in given:
            continue
        given.add(reason)
        module = getattr(function, "__module__", None) or "jambonz_webhooks"
        warnings.warn_explicit(f"handler {name}: {reason}", HandlerWarning, filename, lineno, module=module)
