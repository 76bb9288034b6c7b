"""Reading a handler's signature, once, to know what to pass it on every request.

A handler asks for what it needs by annotation:

- :class:`~jambonz_webhooks.CallSession` or a hook payload model (``GatherResult``,
  ``DialResult``, ``CallStatus``, ...; any subclass of :class:`~jambonz_webhooks.payload.CallInfo`);
  ``X | None`` gets None when the request carries no payload;
- Starlette's :class:`~starlette.requests.Request`;
- ``dict`` (or ``dict[str, Any]``, ``Mapping[str, Any]``): the raw payload;
- :class:`~jambonz_webhooks.CallState`: the call's state, shared by all its hooks;
- a subclass of :class:`~jambonz_webhooks.EnvVars`: the application's environment variables, typed.

Anything else is an error when the route is registered, not when a call comes in.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from starlette.requests import Request

from .decoding import JsonShape, json_shape
from .env import EnvVars
from .payload import CallInfo
from .state import CallState

__all__ = ["HandlerPlan", "HookKind", "Param", "plan_handler"]


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
    source: Literal["model", "request", "payload", "path", "state", "env"]
    model: type[CallInfo] | None = None
    optional: bool = False
    env: type[EnvVars] | None = None


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
    shapes: Mapping[type[CallInfo], JsonShape]
    """Where each model expects objects, to read JSON text out of a query string."""

    @property
    def requires_payload(self) -> bool:
        """Whether a request without payload cannot be served (a model or the call's state is asked for)."""
        return any(
            (param.source == "model" and not param.optional) or param.source in ("state", "env")
            for param in self.params
        )


def plan_handler(handler: Callable[..., Any], path_params: frozenset[str] = frozenset()) -> HandlerPlan:
    """Read ``handler``'s signature and say where each argument will come from.

    A parameter named like a parameter of the route's path (``/menu/{step}``) gets its value.

    Raises:
        TypeError: a parameter has no annotation, or one the framework cannot supply.

    """
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
            params.append(Param(parameter.name, "path"))
            continue
        if parameter.name not in hints:
            raise TypeError(
                f"parameter {parameter.name!r} of handler {name} has no annotation: annotate it with "
                "CallSession, a hook payload model (GatherResult, ...), CallState, Request or dict"
            )
        param = _param(parameter.name, hints[parameter.name])
        if param is None:
            raise TypeError(
                f"cannot supply parameter {parameter.name!r} of handler {name}: its annotation "
                f"{hints[parameter.name]!r} is none of CallSession, a hook payload model, CallState, "
                "Request or dict"
            )
        params.append(param)
    models = tuple(dict.fromkeys(param.model for param in params if param.model is not None))
    is_async = _is_async(handler)
    if not is_async and any(param.source == "state" for param in params):
        raise TypeError(f"handler {name} asks for CallState, whose methods are coroutines: make it async")
    return HandlerPlan(
        handler=handler,
        is_async=is_async,
        params=tuple(params),
        models=models,
        wants_payload=any(param.source == "payload" for param in params),
        shapes={model: json_shape(model) for model in models},
    )


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
    if isinstance(annotation, type) and issubclass(annotation, EnvVars) and annotation is not EnvVars:
        return Param(name, "env", env=annotation)
    return None
