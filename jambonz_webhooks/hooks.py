"""Hook references inside verbs: a path, a URL, a hook object, or the handler itself.

jambonz resolves a hook that starts with ``/`` against the *origin* of the application URL, never
against its path (jambonz-feature-server 0.9.8, ``lib/utils/http-requestor.js``: ``baseUrl +
url``, with ``baseUrl`` the origin in ``base-requestor.js``). So when an app is mounted under
``/voice``, the ``actionHook`` it writes must read ``/voice/menu``, not ``/menu``.

A hook is written out in one place, :func:`write_hook`, at one moment: when the answer (or a
REST request's body) is encoded, with the :class:`HookContext` of the request being answered.
The mount prefix is only certain then, and a verb built outside a request (a module-level
answer, the app's fallback) is then written exactly as one built in a handler. Building a verb
validates its hooks and keeps them as they were given; only an absolute URL, the same in every
context, stays a plain string, the rest wait in a :class:`PendingHook`.

A hook may also carry jambonz's retry policy (:class:`RetryPolicy`, :func:`hook`), which the
server reads from the URL's fragment, ``/menu#rc=2&rp=5xx,ct`` (``base-requestor.js``,
``_shouldRetry``); an app's default policy (``JambonzApp(retries=...)``) is in its
:class:`HookContext` and written on each of its own hooks (paths and handlers) that names none.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
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
    WithJsonSchema,
    model_validator,
)
from pydantic_core import SchemaSerializer, core_schema

if TYPE_CHECKING:
    from .control import LiveCalls
    from .rest.access import ApiAccess
    from .targets import Release

__all__ = [
    "BasicAuth",
    "Hook",
    "HookContext",
    "HookObject",
    "HookRef",
    "PendingHook",
    "RetryPolicy",
    "RetryPolicyWarning",
    "UnroutedHandlerError",
    "current_context",
    "hook",
    "pending",
    "write_hook",
]


class UnroutedHandlerError(LookupError):
    """A verb names a handler function as its hook, but no route of the app serves it."""


MAX_RETRIES = 5
"""The most retries jambonz makes of one hook (it reads a larger ``rc`` as 5)."""

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 6.0)
"""Seconds jambonz waits before each retry of a hook, in order."""

# What a failure is called in Python, and the code the server reads in ``rp``.
_RETRY_CODES = {
    "connect": "ct",
    "ct": "ct",
    "timeout": "rt",
    "rt": "rt",
    "4xx": "4xx",
    "5xx": "5xx",
    "all": "all",
}

# What jambonz 0.9.8 does not do of what a policy asks (base-requestor.js ``_shouldRetry``),
# said once per process (see RetryPolicy).
_IGNORED_BY_0_9_8 = {
    "rt": (
        "retry_on 'timeout' (rt) does nothing on jambonz 0.9.8: its check looks for an error name "
        "its HTTP client never raises, so a hook that times out is not retried; only 'all' retries "
        "a timeout (and every other failure)"
    ),
}
# 'connect' (ct) misses a connection dropped before the answer and the client's own connect
# timeout on 0.9.8: said in RetryPolicy's docs, not warned, since it is jambonz's own default
# and an app-wide default policy would warn on every start.
_warned: set[str] = set()


class RetryPolicyWarning(UserWarning):
    """A retry policy asks for something the jambonz server (0.9.8) does not do."""


@dataclass(frozen=True, slots=True, init=False)
class RetryPolicy:
    """How often jambonz retries a failed hook request, and on which failures.

    jambonz reads it from the hook URL's fragment, ``/menu#rc=2&rp=5xx,ct``: ``retries``
    (``rc``, 0 to 5) more attempts after the first, 0.5, 1, 2, 4 and 6 seconds apart, each with
    the same body and signature, when the failure is one of ``on`` (``rp``):

    - ``"connect"`` (``ct``): the connection was refused, reset or aborted (jambonz's default);
    - ``"timeout"`` (``rt``): the hook did not answer in time (ignored by jambonz 0.9.8);
    - ``"4xx"``, ``"5xx"``: the answer had such a status;
    - ``"all"``: any failure.

    A retried request repeats the first one exactly: ``JambonzApp(deduplicate=True)`` answers
    it with the first answer instead of running the handler again (docs/security.md).

    ::

        RetryPolicy(2, on={"5xx", "connect"})  # written #rc=2&rp=5xx,ct

    Where jambonz 0.9.8 ignores what a policy asks (``timeout``), a :class:`RetryPolicyWarning`
    says so, once per process; ``connect`` there misses a connection dropped before the answer
    and the client's own connect timeout (only ``all`` retries those).
    """

    retries: int
    """Attempts after the first, 0 to :data:`MAX_RETRIES` (0: the hook is not retried)."""
    on: frozenset[str]
    """The failures retried, as the server's codes: ``ct``, ``rt``, ``4xx``, ``5xx``, ``all``."""
    suffix: str = field(compare=False, repr=False)
    """``#rc=N&rp=...`` as appended to a hook's URL; empty when ``retries`` is 0."""

    def __init__(self, retries: int, on: str | Iterable[str] = "connect") -> None:
        if type(retries) is not int:
            raise TypeError(f"retries is a whole number of retries, not {type(retries).__name__}")
        if not 0 <= retries <= MAX_RETRIES:
            raise ValueError(f"jambonz retries a hook 0 to {MAX_RETRIES} times, not {retries}")
        try:
            names = on.split(",") if isinstance(on, str) else list(on)
        except TypeError:
            raise TypeError(f"retry_on names failures (one or several), not {type(on).__name__}") from None
        codes: set[str] = set()
        for name in names:
            code = _RETRY_CODES.get(name.strip().lower()) if isinstance(name, str) else None
            if code is None:
                raise ValueError(
                    f"{name!r} is not a failure jambonz retries: use connect, timeout, 4xx, 5xx or all"
                )
            codes.add(code)
        if not codes:
            raise ValueError("retry_on names no failure: use connect, timeout, 4xx, 5xx or all")
        if "all" in codes:
            codes = {"all"}  # the rest adds nothing
        object.__setattr__(self, "retries", retries)
        object.__setattr__(self, "on", frozenset(codes))
        # Sorted: one policy is always written the same way (and "5xx" comes before "ct").
        fragment = f"#rc={retries}&rp={','.join(sorted(codes))}" if retries else ""
        object.__setattr__(self, "suffix", fragment)
        if retries:
            _warn_ignored(codes)

    @property
    def fragment(self) -> str:
        """The fragment jambonz reads, ``rc=N&rp=...`` (without ``#``); empty for no retries."""
        return self.suffix[1:]

    @property
    def delays(self) -> tuple[float, ...]:
        """Seconds jambonz waits before each retry (the caller hears silence meanwhile)."""
        return RETRY_DELAYS[: self.retries]


def _warn_ignored(codes: set[str]) -> None:
    for code in sorted(codes):
        if code in _IGNORED_BY_0_9_8 and code not in _warned:
            _warned.add(code)
            warnings.warn(_IGNORED_BY_0_9_8[code], RetryPolicyWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside this package (and pydantic): the app's line."""
    level, frame = 2, sys._getframe(2)  # 2: the caller of _warn_ignored
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_OWN_MODULES):
        level, frame = level + 1, frame.f_back
    return level


_OWN_MODULES = ("jambonz_webhooks.", "pydantic")


def retry_policy(retries: int | RetryPolicy | None) -> RetryPolicy | None:
    """``retries`` as a policy: a number of retries (on jambonz's default, ``connect``), or as given."""
    if retries is None or isinstance(retries, RetryPolicy):
        return retries
    return RetryPolicy(retries)


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
    retry: RetryPolicy | None = None
    """The app's default retry policy, written on each of its hooks that names none."""
    target: Release | None = None
    """The jambonz release the app targets: verbs sent in commands are checked against it."""
    suffix: str = field(init=False, repr=False, compare=False)
    """The default policy's fragment (``#rc=..``), or empty: what the app's hooks end with."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "suffix", "" if self.retry is None else self.retry.suffix)

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
            return context.prefix + path + context.suffix
    elif type(hook) is str and hook.startswith("/") and not context.suffix:
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


def _validate_policy(value: Any) -> RetryPolicy:
    if isinstance(value, RetryPolicy):
        return value
    if type(value) is int:
        return RetryPolicy(value)
    if isinstance(value, Mapping) and set(value) <= {"retries", "on"} and "retries" in value:
        try:
            return RetryPolicy(value["retries"], value.get("on", "connect"))
        except TypeError as exc:  # pydantic reports a ValueError as the field's error, not this
            raise ValueError(str(exc)) from None
    raise ValueError("a retry policy is a RetryPolicy, a number of retries, or {retries, on}")


def _dump_policy(policy: RetryPolicy) -> dict[str, Any]:
    return {"retries": policy.retries, "on": sorted(policy.on)}


if TYPE_CHECKING:
    _Policy: TypeAlias = RetryPolicy
else:
    _Policy = Annotated[
        RetryPolicy,
        PlainValidator(_validate_policy),
        PlainSerializer(_dump_policy),
        WithJsonSchema(
            {
                "type": "object",
                "properties": {
                    "retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
                    "on": {"type": "array", "items": {"type": "string", "enum": sorted(_RETRY_CODES)}},
                },
                "required": ["retries"],
            }
        ),
    ]


class HookObject(BaseModel):
    """A hook with its own method, credentials or retry policy: ``{url, method, username, password}``.

    jambonz sends ``Authorization: Basic ...`` when both username and password are set. The
    schema also describes the credentials as ``basic_auth`` (``basicAuth``); the server reads
    ``username``/``password``, so those are the ones to use for now. A ``retry`` policy is
    written into the URL's fragment; a hook object with only a URL and a policy is written as
    that URL (``"/menu#rc=2&rp=ct"``). :func:`hook` builds one.
    """

    schema_id: ClassVar[str] = "components/actionHook"
    schema_deviations: ClassVar[dict[str, str]] = {
        "username": "the feature server reads username/password on the hook object, not basicAuth",
        "password": "the feature server reads username/password on the hook object, not basicAuth",
        "method": "lower case accepted, written in upper case",
        "retry": "written into the url's fragment (#rc=N&rp=...), where the feature server reads it",
    }

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True)

    url: str | Callable[..., Any]
    method: Literal["GET", "POST", "get", "post"] | None = None
    username: str | None = None
    password: str | None = None
    basic_auth: BasicAuth | None = Field(default=None, alias="basicAuth")
    retry: _Policy | None = None
    """jambonz's retry policy for this hook; None: the app's default (``JambonzApp(retries=)``)."""

    @model_validator(mode="after")
    def _check_credentials(self) -> HookObject:
        if (self.username is None) != (self.password is None):
            raise ValueError("hook: username and password go together (jambonz ignores one alone)")
        if self.basic_auth is not None and self.username is not None:
            raise ValueError("hook: give username/password or basic_auth, not both")
        if self.retry is not None and isinstance(self.url, str) and "#" in self.url:
            raise ValueError("hook: give a retry policy or a URL with a fragment (#rc=...), not both")
        return self


def hook(
    target: str | Callable[..., Any],
    *,
    retries: int | RetryPolicy | None = None,
    retry_on: str | Iterable[str] | None = None,
    method: Literal["GET", "POST", "get", "post"] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> HookObject:
    """A hook with its own settings, for any verb's hook field (``action_hook=``, ...).

    ``target`` is what a hook field takes anyway: the handler, a path or a URL. ``retries``
    asks jambonz to retry a failed request that many times (0 to 5) on the failures named by
    ``retry_on`` (``"connect"``, the default, ``"timeout"``, ``"4xx"``, ``"5xx"``, ``"all"``),
    or is a whole :class:`RetryPolicy`; 0 turns the app's default policy off for this hook::

        WebhookResponse().gather(action_hook=hook(menu, retries=2, retry_on={"5xx", "connect"}))
        # "actionHook": "/menu#rc=2&rp=5xx,ct"

    ``method``, ``username`` and ``password`` are the hook object's (it is then written as
    ``{url, method, ...}``, the policy in its ``url``).
    """
    if retry_on is None:
        policy = retry_policy(retries)
    elif isinstance(retries, int):
        policy = RetryPolicy(retries, retry_on)
    else:
        raise TypeError(
            "retry_on goes with retries=N, a number: "
            + ("a RetryPolicy names its own failures" if retries is not None else "how many retries?")
        )
    return HookObject(url=target, method=method, username=username, password=password, retry=policy)


Hook: TypeAlias = str | HookObject | Callable[..., Any]
"""A validated hook: a path or URL, a hook object, or a handler."""


def write_hook(hook: Hook, context: HookContext) -> str | dict[str, Any]:
    """Write ``hook`` out as jambonz reads it, for an app answering with ``context``.

    A path gets the mount prefix, a handler becomes its route's path (with the prefix), a URL
    stays as it is; a hook object becomes its dict, its ``url`` written the same way (or its
    URL alone when it has nothing but a retry policy). A path or a handler ends with the app's
    default retry policy (``#rc=...``) unless it names its own.

    Raises:
        UnroutedHandlerError: ``hook`` is a handler no route of the app serves.

    """
    if isinstance(hook, str):
        if not hook.startswith("/"):
            return hook
        suffix = context.suffix
        return context.prefix + hook + suffix if suffix and "#" not in hook else context.prefix + hook
    if isinstance(hook, HookObject):
        policy = hook.retry
        url = write_hook(hook.url, context) if policy is None else _url_of(hook.url, context) + policy.suffix
        if policy is not None and hook.method is None and hook.username is None and hook.basic_auth is None:
            return url  # nothing but a URL and its policy: written as jambonz's shortest form
        data: dict[str, Any] = {"url": url}
        if hook.method is not None:
            data["method"] = hook.method.upper()
        if hook.username is not None:
            data["username"] = hook.username
        if hook.password is not None:
            data["password"] = hook.password
        if hook.basic_auth is not None:
            data["basicAuth"] = {"username": hook.basic_auth.username, "password": hook.basic_auth.password}
        return data
    return _handler_path(hook, context) + context.suffix


def _url_of(url: str | Callable[..., Any], context: HookContext) -> str:
    """A hook object's URL written without the app's default policy (the object has its own)."""
    if isinstance(url, str):
        return context.prefix + url if url.startswith("/") else url
    return _handler_path(url, context)


def _handler_path(handler: Callable[..., Any], context: HookContext) -> str:
    try:
        return context.prefix + context.paths[handler]
    except (KeyError, TypeError):  # TypeError: not hashable, so not a handler either
        name = getattr(handler, "__qualname__", repr(handler))
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
        return value.hook  # a wire-form verb validated again (a verb list given to WebhookResponse)
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
