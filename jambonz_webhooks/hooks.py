"""Hook references inside verbs: a path, a URL, a hook object, or the handler itself.

jambonz resolves a hook that starts with ``/`` against the *origin* of the application URL,
never against its path (PROTOCOL.md, section 1). So when an app is mounted under ``/voice``,
the ``actionHook`` it writes must read ``/voice/menu``, not ``/menu``. The prefix is only known
while a request is being answered, so hooks are resolved when the answer is serialized, from a
:class:`HookContext` that the route passes along.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
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

__all__ = [
    "BasicAuth",
    "HookContext",
    "HookObject",
    "HookRef",
    "PendingHook",
    "UnroutedHandlerError",
    "current_context",
]


class UnroutedHandlerError(LookupError):
    """A verb names a handler function as its hook, but no route of the app serves it."""


@dataclass(frozen=True, slots=True)
class HookContext:
    """What is needed to write a hook reference out: the mount prefix and each handler's path."""

    prefix: str = ""
    paths: Mapping[Callable[..., Any], str] = field(default_factory=dict)

    def resolve(self, hook: str | Callable[..., Any]) -> str:
        """Return the URL jambonz should call for ``hook``."""
        if isinstance(hook, str):
            return self.prefix + hook if hook.startswith("/") else hook
        try:
            return self.prefix + self.paths[hook]
        except KeyError:
            name = getattr(hook, "__qualname__", repr(hook))
            raise UnroutedHandlerError(
                f"{name} is used as a hook but no route of this app serves it"
            ) from None

    def write_pending(self, value: Any) -> Any:
        """Write a :class:`PendingHook` met while encoding (pydantic-core's ``fallback``)."""
        if isinstance(value, PendingHook):
            try:
                return _write_hook(value.hook, self)
            except UnroutedHandlerError as exc:
                _unrouted.set(exc)
                raise
        raise TypeError(f"{type(value).__name__} is not a JSON value")


NO_CONTEXT = HookContext()
"""The context of an app mounted at the root that names no handler."""

current_context: ContextVar[HookContext | None] = ContextVar("jambonz_hook_context", default=None)
"""The hook context of the request being answered; set by the route around its handler, so
that a verb built in a handler has its hooks written out as it is built (see :mod:`.verbs._wire`)."""


class PendingHook:
    """A hook of a verb built outside a request: written out when the answer is encoded."""

    # Not a dataclass: pydantic-core would write a dataclass as an object of its fields rather
    # than hand it to the encoder's fallback.
    __slots__ = ("hook",)

    def __init__(self, hook: str | HookObject | Callable[..., Any]) -> None:
        self.hook = hook

    def __repr__(self) -> str:
        return f"PendingHook({self.hook!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PendingHook) and other.hook == self.hook


class BasicAuth(BaseModel):
    """The credentials of a hook object's ``basicAuth``."""

    schema_id: ClassVar[str] = "components/auth"

    model_config = ConfigDict(extra="forbid")

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

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

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


# pydantic-core wraps what a serializer raises in its own error; the original is kept here so
# that encoding can raise it again as itself (see ``reraise_unrouted``).
_unrouted: ContextVar[UnroutedHandlerError | None] = ContextVar("_unrouted", default=None)


def reraise_unrouted() -> None:
    """Raise the :class:`UnroutedHandlerError` that made the last serialization fail, if any."""
    error = _unrouted.get()
    if error is not None:
        _unrouted.set(None)
        raise error


def _serialize_hook(value: Any, info: SerializationInfo) -> Any:
    context = info.context if isinstance(info.context, HookContext) else NO_CONTEXT
    try:
        return _write_hook(value, context)
    except UnroutedHandlerError as exc:
        _unrouted.set(exc)
        raise


def _write_hook(value: Any, context: HookContext) -> Any:
    if isinstance(value, HookObject):
        data: dict[str, Any] = {"url": context.resolve(value.url)}
        for name in ("method", "username", "password"):
            attr = getattr(value, name)
            if attr is not None:
                data[name] = attr.upper() if name == "method" else attr
        if value.basic_auth is not None:
            data["basicAuth"] = {"username": value.basic_auth.username, "password": value.basic_auth.password}
        return data
    return context.resolve(value)


def _validate_hook(value: Any) -> str | HookObject | Callable[..., Any]:
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


def wire_hook(value: Any) -> Any:
    """Validate a hook and write it out at once, for a verb kept in its wire form.

    Outside a request a relative path or a handler cannot be written yet, so it is kept as a
    :class:`PendingHook` for the encoder. An unrouted handler raises here, at the line that built
    the verb (pydantic passes a LookupError through rather than wrapping it).
    """
    hook = _validate_hook(value)
    return resolve_now(hook)


def wire_handler_hook(value: Any) -> Any:
    """:func:`wire_hook` for a hook that is not a string, inside a request at the root.

    A handler is what such a hook nearly always is, so its path is looked up first.
    """
    context = current_context.get()
    if context is not None:
        try:
            return context.prefix + context.paths[value]
        except (KeyError, TypeError):  # not a routed handler, or a dict (unhashable)
            pass
    return resolve_now(_validate_hook(value))


def resolve_now(hook: Any) -> Any:
    """Write out an already validated hook with the current request's context, if there is one."""
    if type(hook) is str and not hook.startswith("/"):
        return hook  # an absolute URL: the same in every context
    context = current_context.get()
    if context is None:
        return PendingHook(hook)
    return _write_hook(hook, context)


if TYPE_CHECKING:
    HookRef: TypeAlias = str | HookObject | Mapping[str, Any] | Callable[..., Any]
else:
    HookRef = Annotated[
        str | HookObject | Callable[..., Any],
        PlainValidator(_validate_hook, json_schema_input_type=str | HookObject),
        PlainSerializer(_serialize_hook, return_type=Any),
    ]
"""A hook as a verb takes it: ``"/menu"``, ``"https://..."``, a :class:`HookObject` (or its
dict), or the handler function itself."""
