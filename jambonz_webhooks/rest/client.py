"""The REST client: :class:`JambonzClient` (sync) and :class:`AsyncJambonzClient`, on httpx2.

Each resource (``client.calls``, ...) is written once: its methods build the request, and the
client it belongs to sends it, blocking or awaited (:class:`_Endpoint`). Only sending differs::

    with JambonzClient() as client:   # JAMBONZ_API_BASE_URL, JAMBONZ_ACCOUNT_SID, JAMBONZ_API_KEY
        sid = client.calls.create(from_="+15551230000", to={"type": "phone", "number": "+15559870000"},
                                  app_json=WebhookResponse().say(text="Hello").hangup())
        client.calls.update(sid, call_hook="https://example.com/next")
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import os
import time
import typing
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, Unpack, overload
from urllib.parse import quote

import httpx2
import pydantic_core
from pydantic import BaseModel, TypeAdapter

from ..hooks import reraise_unrouted
from ..response import WebhookResponse
from ..verbs import Verb
from .errors import APIConnectionError, APITimeoutError, status_error
from .models import (
    ApiHook,
    CallRecord,
    CreateCall,
    CreateCallFields,
    CreateMessage,
    CreateMessageFields,
    Queue,
    SentMessage,
    UpdateCall,
    UpdateCallFields,
)
from .settings import ENV_ACCOUNT_SID, ENV_API_KEY, ENV_BASE_URL, api_base

__all__ = [
    "ENV_ACCOUNT_SID",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "AsyncJambonzClient",
    "JambonzClient",
]


T = TypeVar("T")
P = ParamSpec("P")

_CALLS = TypeAdapter(list[CallRecord])
_QUEUES = TypeAdapter(list[Queue])
_NAMES = TypeAdapter(list[str])
# Worth another try for a request that is safe to repeat: the server or a proxy was unavailable.
_RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class _Operation(Generic[T]):
    """One API request, built the same way for both clients, and how to read its answer."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    body: bytes | None = None
    params: Mapping[str, str] | None = None

    @property
    def idempotent(self) -> bool:
        """Safe to send again when no answer came: reads and deletes, never creations or updates."""
        return self.method in ("GET", "DELETE")


def _body(kind: type[BaseModel], fields: Mapping[str, Any]) -> bytes:
    """The JSON of the request body ``fields`` make, checked by its model (an unknown field named)."""
    model = kind.model_validate(fields)
    try:
        return model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_none=True)
    except pydantic_core.PydanticSerializationError:
        reraise_unrouted()  # a handler no route serves, named as a hook: raised as itself
        raise


def _nothing(_: bytes) -> None:
    return None


def _sid(content: bytes) -> str:
    sid: str = pydantic_core.from_json(content)["sid"]
    return sid


def _settings(base_url: str | None, account_sid: str | None, api_key: str | None) -> tuple[str, str, str]:
    base_url = base_url or os.environ.get(ENV_BASE_URL)
    account_sid = account_sid or os.environ.get(ENV_ACCOUNT_SID)
    api_key = api_key or os.environ.get(ENV_API_KEY)
    missing = [
        name
        for name, value in ((ENV_BASE_URL, base_url), (ENV_ACCOUNT_SID, account_sid), (ENV_API_KEY, api_key))
        if not value
    ]
    if missing or base_url is None or account_sid is None or api_key is None:
        raise ValueError(
            f"the jambonz REST client needs {', '.join(missing)} (as arguments or in the environment)"
        )
    return api_base(base_url), account_sid, api_key


def _error_message(response: httpx2.Response) -> str:
    try:
        data = pydantic_core.from_json(response.content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("msg", "message", "error"):
            if isinstance(data.get(key), str):
                message: str = data[key]
                return message
    return response.reason_phrase or "error"


def _result(operation: _Operation[T], response: httpx2.Response) -> T:
    if response.is_success:
        return operation.parse(response.content)
    raise status_error(response.status_code, _error_message(response), response.content)


class _Base:
    """What both clients hold: the account, its resources, and how hard to try."""

    calls: Calls[Self]
    """Create, change, read and end calls."""
    conferences: Conferences[Self]
    """The account's conferences in progress."""
    queues: Queues[Self]
    """The account's active queues."""
    messages: Messages[Self]
    """Send SMS."""

    def __init__(
        self,
        base_url: str | None,
        account_sid: str | None,
        api_key: str | None,
        max_retries: int,
    ) -> None:
        self.base_url, self.account_sid, api_key = _settings(base_url, account_sid, api_key)
        self.max_retries = max_retries
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._resources()

    def _resources(self: Self) -> None:
        """The client's resources, for its account (a view for another account makes its own)."""
        self.calls = Calls(self)
        self.conferences = Conferences(self)
        self.queues = Queues(self)
        self.messages = Messages(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, account_sid={self.account_sid!r})"

    @staticmethod
    def _request_args(operation: _Operation[Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if operation.body is not None else None
        return {"content": operation.body, "params": operation.params, "headers": headers}

    def _delay(
        self, attempt: int, operation: _Operation[Any], outcome: httpx2.Response | httpx2.TransportError
    ) -> float | None:
        """Seconds to wait before trying again, or None when ``outcome`` is the last word."""
        if isinstance(outcome, httpx2.Response) and outcome.status_code not in _RETRY_STATUSES:
            return None
        error = outcome if isinstance(outcome, httpx2.TransportError) else None
        return self._retry_after(attempt, operation, error)

    def _retry_after(self, attempt: int, operation: _Operation[Any], error: Exception | None) -> float | None:
        """Seconds to wait before another try, or None to give up."""
        if attempt >= self.max_retries:
            return None
        # A connection never made sent nothing: any request may go again. Anything else only
        # when repeating it cannot do a thing twice.
        if not (operation.idempotent or isinstance(error, httpx2.ConnectError)):
            return None
        delay: float = 0.25 * 2**attempt
        return delay


def _finish(operation: _Operation[T], outcome: httpx2.Response | httpx2.TransportError) -> T:
    """The operation's result, or the exception its answer (or its failure to get one) means."""
    if isinstance(outcome, httpx2.TransportError):
        raise _connection_error(outcome, operation) from outcome
    return _result(operation, outcome)


def _connection_error(exc: httpx2.TransportError, operation: _Operation[Any]) -> APIConnectionError:
    kind = APITimeoutError if isinstance(exc, httpx2.TimeoutException) else APIConnectionError
    return kind(f"{operation.method} {operation.path}: {type(exc).__name__}: {exc}")


class JambonzClient(_Base):
    """The jambonz REST API, synchronous. A context manager; reuse one for many requests.

    Args:
        base_url: the API server (``https://api.jambonz.example``; ``/v1`` is appended unless
            present); None reads ``JAMBONZ_API_BASE_URL``.
        account_sid: None reads ``JAMBONZ_ACCOUNT_SID``.
        api_key: sent as a Bearer token; None reads ``JAMBONZ_API_KEY``.
        timeout: seconds, for connecting and for each read.
        max_retries: further tries for a request that is safe to repeat (a read, a delete, or
            any request whose connection could not be made), backing off from 0.25 s.
        transport: an httpx2 transport (for tests: ``httpx2.MockTransport``).

    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        account_sid: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, account_sid, api_key, max_retries)
        self._http = httpx2.Client(
            base_url=self.base_url + "/", headers=self._headers, timeout=timeout, transport=transport
        )

    def _bind(self, build: Callable[P, _Operation[T]]) -> Callable[P, T]:
        """A resource's method: build the request, send it, return what the answer means."""

        def send(*args: P.args, **kwargs: P.kwargs) -> T:
            return self._send(build(*args, **kwargs))

        return send

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _send(self, operation: _Operation[T]) -> T:
        attempt = 0
        while True:
            try:
                outcome: httpx2.Response | httpx2.TransportError = self._http.request(
                    operation.method, operation.path, **self._request_args(operation)
                )
            except httpx2.TransportError as exc:
                outcome = exc
            delay = self._delay(attempt, operation, outcome)
            if delay is None:
                return _finish(operation, outcome)
            time.sleep(delay)
            attempt += 1


class AsyncJambonzClient(_Base):
    """The jambonz REST API, for asyncio; the same arguments and methods as :class:`JambonzClient`."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        account_sid: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, account_sid, api_key, max_retries)
        # httpx2's default pool is bounded (100 connections, 20 kept alive): so is this client.
        self._http = httpx2.AsyncClient(
            base_url=self.base_url + "/", headers=self._headers, timeout=timeout, transport=transport
        )
        self._root: AsyncJambonzClient | None = None
        self._views: OrderedDict[str, AsyncJambonzClient] = OrderedDict()

    def _bind(self, build: Callable[P, _Operation[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        """A resource's method, awaited: build the request (when awaited), send it, return its result."""

        async def send(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self._send(build(*args, **kwargs))

        return send

    def for_account(self, account_sid: str, *, keep: int = 64) -> AsyncJambonzClient:
        """A view of this client for another account: the same connections, address, key and settings.

        The views are kept (``keep`` at most, the least recently used dropped) so that a call's
        account does not cost a new object each time. Closing a view closes nothing: the
        client it was made from owns the connections.
        """
        root = self._root or self
        if account_sid == root.account_sid:
            return root
        views = root._views
        view = views.get(account_sid)
        if view is None:
            view = copy.copy(root)
            view.account_sid = account_sid
            view._root = root
            view._views = OrderedDict()
            view._resources()
            views[account_sid] = view
            if len(views) > keep:
                views.popitem(last=False)
        else:
            views.move_to_end(account_sid)
        return view

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a view made by :meth:`for_account` leaves them to its client)."""
        if self._root is None:
            await self._http.aclose()

    async def _send(self, operation: _Operation[T]) -> T:
        attempt = 0
        while True:
            try:
                outcome: httpx2.Response | httpx2.TransportError = await self._http.request(
                    operation.method, operation.path, **self._request_args(operation)
                )
            except httpx2.TransportError as exc:
                outcome = exc
            delay = self._delay(attempt, operation, outcome)
            if delay is None:
                return _finish(operation, outcome)
            await asyncio.sleep(delay)
            attempt += 1


# --- resources: each method written once, building its request ---------------------------------

ClientT = TypeVar("ClientT", bound=_Base)


class _Resource(Generic[ClientT]):
    """A part of the API (``client.calls``) for one client: ``Calls[JambonzClient]``, say."""

    def __init__(self, client: ClientT) -> None:
        self._client = client
        self._account = f"Accounts/{quote(client.account_sid, safe='')}"


class _Endpoint(Generic[P, T]):
    """A resource's method, written once as the request it makes; the resource's client sends it.

    Read on a resource of :class:`JambonzClient` it is a function returning the result; on one
    of :class:`AsyncJambonzClient`, a coroutine function. The type checker sees the builder's
    own parameters either way.
    """

    def __init__(self, build: Callable[Concatenate[Any, P], _Operation[T]]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__  # help() on the resource's class
        self._signature = _shown_signature(build)

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"{self._name}{self._signature}"

    @overload
    def __get__(self, resource: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, resource: _Resource[JambonzClient], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, resource: _Resource[AsyncJambonzClient], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, resource: _Resource[Any] | None, owner: type[Any]) -> Any:
        if resource is None:
            return self
        send = resource._client._bind(partial(self._build, resource))
        send.__name__ = self._name
        send.__qualname__ = self._build.__qualname__
        send.__doc__ = self._build.__doc__
        send.__signature__ = self._signature
        # Kept on the resource (which belongs to one client): read once, not once per call.
        resource.__dict__[self._name] = send
        return send


def _shown_signature(build: Callable[..., Any]) -> inspect.Signature:
    """What ``help()`` shows of a resource's method: its own parameters, each field a keyword.

    The builder's first parameter (the resource) is left out, ``**fields: Unpack[SomeFields]``
    becomes the fields themselves (required ones without a default), and the return is what
    the answer means (``str`` for ``_Operation[str]``), not the request.
    """
    hints = typing.get_type_hints(build)  # Annotated's validators left out: the types alone
    parameters = []
    for parameter in list(inspect.signature(build).parameters.values())[1:]:
        hint = hints.get(parameter.name, parameter.annotation)
        if parameter.kind is parameter.VAR_KEYWORD and typing.get_origin(hint) is Unpack:
            (fields,) = typing.get_args(hint)
            # Required[...] is kept only with the extras (the fields' annotations are strings).
            marked = typing.get_type_hints(fields, include_extras=True)
            for name, annotation in typing.get_type_hints(fields).items():
                required = typing.get_origin(marked[name]) is typing.Required
                default = inspect.Parameter.empty if required else None
                parameters.append(
                    inspect.Parameter(name, parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                )
        else:
            parameters.append(parameter.replace(annotation=hint))
    (result,) = typing.get_args(hints["return"]) or (inspect.Signature.empty,)
    return inspect.Signature(parameters, return_annotation=result)


def _endpoint(build: Callable[Concatenate[Any, P], _Operation[T]]) -> _Endpoint[P, T]:
    """Make ``build`` (a resource's method returning its request) a method of both clients."""
    return _Endpoint(build)


class Calls(_Resource[ClientT]):
    """``client.calls``: create, change, read and end calls."""

    @_endpoint
    def create(self, **fields: Unpack[CreateCallFields]) -> _Operation[str]:
        """Start an outbound call; return its call_sid. Fields as :class:`~.models.CreateCall`."""
        return _Operation("POST", f"{self._account}/Calls", _sid, _body(CreateCall, fields))

    @_endpoint
    def update(self, call_sid: str, **fields: Unpack[UpdateCallFields]) -> _Operation[None]:
        """Change a call in progress. Fields as :class:`~.models.UpdateCall`."""
        return self._changed(call_sid, fields)

    @_endpoint
    def get(self, call_sid: str) -> _Operation[CallRecord]:
        """One call."""
        return _Operation("GET", self._path(call_sid), CallRecord.model_validate_json)

    @_endpoint
    def delete(self, call_sid: str) -> _Operation[None]:
        """Remove a call's record."""
        return _Operation("DELETE", self._path(call_sid), _nothing)

    @_endpoint
    def redirect(self, call_sid: str, hook: ApiHook) -> _Operation[None]:
        """Replace the call's verbs by what ``hook`` answers (a URL, a path, or a hook object)."""
        return self._changed(call_sid, {"call_hook": hook})

    @_endpoint
    def hangup(self, call_sid: str) -> _Operation[None]:
        """End the call."""
        return self._changed(call_sid, {"call_status": "completed"})

    @_endpoint
    def whisper(self, call_sid: str, verb: Verb | ApiHook | WebhookResponse) -> _Operation[None]:
        """Play a verb (a say or play) into the call."""
        return self._changed(call_sid, {"whisper": verb})

    @_endpoint
    def mute(self, call_sid: str) -> _Operation[None]:
        """Mute the call."""
        return self._changed(call_sid, {"mute_status": "mute"})

    @_endpoint
    def unmute(self, call_sid: str) -> _Operation[None]:
        """Unmute the call."""
        return self._changed(call_sid, {"mute_status": "unmute"})

    # Last: in this class's body, ``list`` is the method from here on.
    @_endpoint
    def list(
        self,
        *,
        direction: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        call_status: str | None = None,
    ) -> _Operation[list[CallRecord]]:
        """The account's calls, filtered."""
        filters = {"direction": direction, "from": from_, "to": to, "callStatus": call_status}
        params = {key: value for key, value in filters.items() if value is not None}
        return _Operation("GET", f"{self._account}/Calls", _CALLS.validate_json, params=params)

    def _path(self, call_sid: str) -> str:
        return f"{self._account}/Calls/{quote(call_sid, safe='')}"

    def _changed(self, call_sid: str, fields: UpdateCallFields) -> _Operation[None]:
        return _Operation("POST", self._path(call_sid), _nothing, _body(UpdateCall, fields))


class Conferences(_Resource[ClientT]):
    """``client.conferences``."""

    @_endpoint
    def list(self) -> _Operation[list[str]]:
        """The names of the account's conferences in progress."""
        return _Operation("GET", f"{self._account}/Conferences", _NAMES.validate_json)


class Queues(_Resource[ClientT]):
    """``client.queues``."""

    @_endpoint
    def list(self, *, search: str | None = None) -> _Operation[list[Queue]]:
        """The account's active queues, by name."""
        params = {"search": search} if search is not None else None
        return _Operation("GET", f"{self._account}/Queues", _QUEUES.validate_json, params=params)


class Messages(_Resource[ClientT]):
    """``client.messages``."""

    @_endpoint
    def create(self, **fields: Unpack[CreateMessageFields]) -> _Operation[SentMessage]:
        """Send an SMS. Fields as :class:`~.models.CreateMessage`."""
        body = _body(CreateMessage, fields)
        return _Operation("POST", f"{self._account}/Messages", SentMessage.model_validate_json, body)
