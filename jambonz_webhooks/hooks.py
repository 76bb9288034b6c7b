"""Hook references inside verbs: a path, a URL, a hook object, or the handler itself.

jambonz resolves a hook that starts with ``/`` against the *origin* of the application URL,
never against its path (PROTOCOL.md, section 1). So when an app is mounted under ``/voice``,
the ``actionHook`` it writes must read ``/voice/menu``, not ``/menu``.

A hook is written out in one place, :func:`write_hook`, at one moment: when the answer (or a
REST request's body) is encoded, with the :class:`HookContext` of the request being answered.
The mount prefix is only certain then, and a verb built outside a request (a module-level
answer, the app's fallback) is then written exactly as one built in a handler. Building a verb
validates its hooks and keeps them as they were given; only an absolute URL, the same in every
context, stays a plain string, the rest wait in a :class:`PendingHook`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FunctionType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    model_validator,
)
from pydantic_core import SchemaSerializer, core_schema

if TYPE_CHECKING:
    from .control import LiveCalls
    from .rest.access import ApiAccess

__all__ = [
    "BasicAuth",
    "Hook",
    "HookContext",
    "HookObject",
    "HookRef",
    "PendingHook",
    "UnroutedHandlerError",
    "current_context",
    "pending",
    "write_hook",
]


class UnroutedHandlerError(LookupError):
    """A verb names a handler function as its hook, but no route of the app serves it."""


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook's handler works with besides its arguments.

    The mount prefix and each handler's path (to write hook references out), and the app's
    REST API access (for ``call.client``).
    """

    prefix: str = ""
    paths: Mapping[Callable[..., Any], str] = field(default_factory=dict)
    api: ApiAccess | None = None
    """The app's REST client for ``call.client``; None outside an app's hook."""
    calls: LiveCalls | None = None
    """The app's live calls (their sockets and tasks); None outside an app's hook."""

    def resolve(self, hook: str | Callable[..., Any]) -> str:
        """Return the URL jambonz should call for a path, a URL or a handler (see :func:`write_hook`)."""
        written = write_hook(hook, self)
        assert isinstance(written, str)  # only a hook object is written as an object
        return written

    def write_pending(self, value: Any) -> Any:
        """Write a :class:`PendingHook` met while encoding (pydantic-core's ``fallback``)."""
        if isinstance(value, PendingHook):
            return encoding_hook(value.hook, self)
        raise TypeError(f"{type(value).__name__} is not a JSON value")


NO_CONTEXT = HookContext()
"""The context of an app mounted at the root that names no handler."""

current_context: ContextVar[HookContext | None] = ContextVar("jambonz_hook_context", default=None)
"""The hook context of the request being answered, set by the route around its handler.

Only what encodes a body outside the answer reads it: the REST models, whose requests a handler
sends while its request is being answered. Verbs never do (they are written by
:func:`~jambonz_webhooks.response.encode_verbs` with the context it is given)."""


class PendingHook:
    """A validated hook that depends on the context: written out when the answer is encoded.

    pydantic-core writes it with :func:`write_hook` and the ``context`` it encodes with (see
    :func:`~jambonz_webhooks.response.encode_verbs`).
    """

    # Not a dataclass: pydantic-core would write a dataclass as an object of its fields.
    __slots__ = ("hook",)

    # pydantic-core writes an object that carries its serializer (as a model does) with that
    # serializer; the encoder's fallback would do the same a microsecond slower per hook, so it
    # is only the safety net (HookContext.write_pending).
    __pydantic_serializer__: ClassVar[SchemaSerializer]

    def __init__(self, hook: Hook) -> None:
        self.hook = hook

    def __repr__(self) -> str:
        return f"PendingHook({self.hook!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PendingHook) and other.hook == self.hook


def _write_pending(value: PendingHook, info: SerializationInfo) -> Any:
    context = info.context if isinstance(info.context, HookContext) else NO_CONTEXT
    hook = value.hook
    # write_hook's two common cases first, without its two calls: this runs for every hook of
    # every answer. A handler no route serves, and everything else, take the full path.
    if type(hook) is FunctionType:
        path = context.paths.get(hook)
        if path is not None:
            return context.prefix + path
    elif type(hook) is str and hook.startswith("/"):
        return context.prefix + hook
    return encoding_hook(hook, context)


PendingHook.__pydantic_serializer__ = SchemaSerializer(
    core_schema.any_schema(
        serialization=core_schema.plain_serializer_function_ser_schema(_write_pending, info_arg=True)
    )
)


class BasicAuth(BaseModel):
    """The credentials of a hook object's ``basicAuth``."""

    schema_id: ClassVar[str] = "components/auth"

    model_config = ConfigDict(extra="forbid", defer_build=True)

    username: str
    password: str


class HookObject(BaseModel):
    """A hook with its own method or credentials: ``{url, method, username, password}``.

    jambonz sends ``Authorization: Basic ...`` when both username and password are set. The
    schema also describes the credentials as ``basic_auth`` (``basicAuth``); the server reads
    ``username``/``password``, so those are the ones to use for now.
    """

    schema_id: ClassVar[str] = "components/actionHook"
    schema_deviations: ClassVar[dict[str, str]] = {
        "username": "the feature server reads username/password on the hook object, not basicAuth",
        "password": "the feature server reads username/password on the hook object, not basicAuth",
        "method": "lower case accepted, written in upper case",
    }

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True)

    url: str | Callable[..., Any]
    method: Literal["GET", "POST", "get", "post"] | None = None
    username: str | None = None
    password: str | None = None
    basic_auth: BasicAuth | None = Field(default=None, alias="basicAuth")

    @model_validator(mode="after")
    def _check_credentials(self) -> HookObject:
        if (self.username is None) != (self.password is None):
            raise ValueError("hook: username and password go together (jambonz ignores one alone)")
        if self.basic_auth is not None and self.username is not None:
            raise ValueError("hook: give username/password or basic_auth, not both")
        return self


Hook: TypeAlias = str | HookObject | Callable[..., Any]
"""A validated hook: a path or URL, a hook object, or a handler."""


def write_hook(hook: Hook, context: HookContext) -> str | dict[str, Any]:
    """Write ``hook`` out as jambonz reads it, for an app answering with ``context``.

    A path gets the mount prefix, a handler becomes its route's path (with the prefix), a URL
    stays as it is; a hook object becomes its dict, its ``url`` written the same way.

    Raises:
        UnroutedHandlerError: ``hook`` is a handler no route of the app serves.

    """
    if isinstance(hook, str):
        return context.prefix + hook if hook.startswith("/") else hook
    if isinstance(hook, HookObject):
        data: dict[str, Any] = {"url": write_hook(hook.url, context)}
        if hook.method is not None:
            data["method"] = hook.method.upper()
        if hook.username is not None:
            data["username"] = hook.username
        if hook.password is not None:
            data["password"] = hook.password
        if hook.basic_auth is not None:
            data["basicAuth"] = {"username": hook.basic_auth.username, "password": hook.basic_auth.password}
        return data
    try:
        return context.prefix + context.paths[hook]
    except (KeyError, TypeError):  # TypeError: not hashable, so not a handler either
        name = getattr(hook, "__qualname__", repr(hook))
        raise UnroutedHandlerError(f"{name} is used as a hook but no route of this app serves it") from None


def pending(hook: Hook) -> str | PendingHook:
    """Keep a validated hook until it is encoded; an absolute URL is already what jambonz reads."""
    if type(hook) is str and not hook.startswith("/"):
        return hook
    return PendingHook(hook)


# pydantic-core wraps what a serializer raises in its own error; the original is kept here so
# that encoding can raise it again as itself (see ``reraise_unrouted``).
_unrouted: ContextVar[UnroutedHandlerError | None] = ContextVar("_unrouted", default=None)


def encoding_hook(hook: Hook, context: HookContext) -> str | dict[str, Any]:
    """:func:`write_hook`, called by pydantic-core while it encodes (a serializer, a fallback).

    An :class:`UnroutedHandlerError` is kept for :func:`reraise_unrouted`, since pydantic-core
    replaces it with its own serialization error.
    """
    try:
        return write_hook(hook, context)
    except UnroutedHandlerError as exc:
        keep_unrouted(exc)
        raise


def keep_unrouted(error: UnroutedHandlerError) -> None:
    """Keep ``error``, raised while encoding, for :func:`reraise_unrouted`."""
    _unrouted.set(error)


def reraise_unrouted() -> None:
    """Raise the :class:`UnroutedHandlerError` that made the last serialization fail, if any."""
    error = _unrouted.get()
    if error is not None:
        _unrouted.set(None)
        raise error


def _serialize_hook(value: Any, info: SerializationInfo) -> Any:
    # A verb kept as its model: its hooks are written as the answer is encoded, with the
    # context the encoder was given.
    context = info.context if isinstance(info.context, HookContext) else NO_CONTEXT
    return encoding_hook(value, context)


def validate_hook(value: Any) -> Hook:
    """Check that ``value`` is a hook: a path or URL, a hook object (or its dict), or a handler."""
    # One isinstance chain instead of a pydantic union: a union that tries str, then the model,
    # then callable costs a microsecond per hook, on the hot path of every answer.
    if isinstance(value, str | HookObject):
        return value
    if isinstance(value, PendingHook):
        return value.hook  # a wire-form verb validated again (a verb list given to Response)
    if isinstance(value, Mapping):
        return HookObject.model_validate(value)
    if callable(value):
        handler: Callable[..., Any] = value
        return handler
    raise ValueError(
        "a hook must be a path, a URL, a hook object {url, method, username, password} or a handler"
    )


def wire_hook(value: Any) -> str | PendingHook:
    """Validate a hook of a verb kept in its wire form: :func:`pending` of :func:`validate_hook`."""
    # validate_hook() and pending(), with the common cases first: this runs for every hook of
    # every verb built.
    if type(value) is str:
        return PendingHook(value) if value.startswith("/") else value
    if type(value) is FunctionType:
        return PendingHook(value)  # a handler
    return pending(validate_hook(value))


if TYPE_CHECKING:
    HookRef: TypeAlias = str | HookObject | Mapping[str, Any] | Callable[..., Any]
else:
    HookRef = Annotated[
        str | HookObject | Callable[..., Any],
        PlainValidator(validate_hook, json_schema_input_type=str | HookObject),
        PlainSerializer(_serialize_hook, return_type=Any),
    ]
"""A hook as a verb takes it: ``"/menu"``, ``"https://..."``, a :class:`HookObject` (or its
dict), or the handler function itself."""
