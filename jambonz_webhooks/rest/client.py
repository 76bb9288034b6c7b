"""The REST client: :class:`JambonzClient` (sync) and :class:`AsyncJambonzClient`, on httpx2.

Both build their requests with the same operations and models; only sending differs::

    with JambonzClient() as client:   # JAMBONZ_API_BASE_URL, JAMBONZ_ACCOUNT_SID, JAMBONZ_API_KEY
        sid = client.calls.create(from_="+15551230000", to={"type": "phone", "number": "+15559870000"},
                                  app_json=WebhookResponse().say(text="Hello").hangup())
        client.calls.update(sid, call_hook="https://example.com/next")
"""

from __future__ import annotations

import asyncio
import copy
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote

import httpx2
import pydantic_core
from pydantic import BaseModel, TypeAdapter

from ..hooks import reraise_unrouted
from .errors import APIConnectionError, APITimeoutError, status_error
from .models import Call, CreateCall, Message, MessageResult, Queue, UpdateCall
from .settings import ENV_ACCOUNT_SID, ENV_API_KEY, ENV_BASE_URL, api_base

__all__ = [
    "ENV_ACCOUNT_SID",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "AsyncJambonzClient",
    "JambonzClient",
]


T = TypeVar("T")

_CALLS = TypeAdapter(list[Call])
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


def _body(model: BaseModel) -> bytes:
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


class _Operations:
    """The API's operations for one account: each returns the request to send."""

    def __init__(self, account_sid: str) -> None:
        self.account = f"Accounts/{quote(account_sid, safe='')}"

    def call_path(self, call_sid: str) -> str:
        return f"{self.account}/Calls/{quote(call_sid, safe='')}"

    def create_call(self, fields: Mapping[str, Any]) -> _Operation[str]:
        body = _body(CreateCall.model_validate(fields))
        return _Operation("POST", f"{self.account}/Calls", _sid, body)

    def update_call(self, call_sid: str, fields: Mapping[str, Any]) -> _Operation[None]:
        body = _body(UpdateCall.model_validate(fields))
        return _Operation("POST", self.call_path(call_sid), _nothing, body)

    def get_call(self, call_sid: str) -> _Operation[Call]:
        return _Operation("GET", self.call_path(call_sid), Call.model_validate_json)

    def list_calls(
        self, direction: str | None, from_: str | None, to: str | None, call_status: str | None
    ) -> _Operation[list[Call]]:
        filters = {"direction": direction, "from": from_, "to": to, "callStatus": call_status}
        params = {key: value for key, value in filters.items() if value is not None}
        return _Operation("GET", f"{self.account}/Calls", _CALLS.validate_json, params=params)

    def delete_call(self, call_sid: str) -> _Operation[None]:
        return _Operation("DELETE", self.call_path(call_sid), _nothing)

    def list_conferences(self) -> _Operation[list[str]]:
        return _Operation("GET", f"{self.account}/Conferences", _NAMES.validate_json)

    def list_queues(self, search: str | None) -> _Operation[list[Queue]]:
        params = {"search": search} if search is not None else None
        return _Operation("GET", f"{self.account}/Queues", _QUEUES.validate_json, params=params)

    def create_message(self, fields: Mapping[str, Any]) -> _Operation[MessageResult]:
        body = _body(Message.model_validate(fields))
        return _Operation("POST", f"{self.account}/Messages", MessageResult.model_validate_json, body)


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
    """What both clients hold: the account, its operations, and how hard to try."""

    def __init__(
        self,
        base_url: str | None,
        account_sid: str | None,
        api_key: str | None,
        max_retries: int,
    ) -> None:
        self.base_url, self.account_sid, api_key = _settings(base_url, account_sid, api_key)
        self.max_retries = max_retries
        self._operations = _Operations(self.account_sid)
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

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
        self.calls = Calls(self)
        self.conferences = Conferences(self)
        self.queues = Queues(self)
        self.messages = Messages(self)

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
        self._resources()

    def _resources(self) -> None:
        self.calls = AsyncCalls(self)
        self.conferences = AsyncConferences(self)
        self.queues = AsyncQueues(self)
        self.messages = AsyncMessages(self)

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
            view._operations = _Operations(account_sid)
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


# --- resources: one-liners over the shared operations ------------------------------------------


class Calls:
    """``client.calls``: create, change, read and end calls."""

    def __init__(self, client: JambonzClient) -> None:
        self._client = client
        self._ops = client._operations

    def create(self, **fields: Any) -> str:
        """Start an outbound call; return its call_sid. Fields as :class:`~.models.CreateCall`."""
        return self._client._send(self._ops.create_call(fields))

    def update(self, call_sid: str, **fields: Any) -> None:
        """Change a call in progress. Fields as :class:`~.models.UpdateCall`."""
        self._client._send(self._ops.update_call(call_sid, fields))

    def get(self, call_sid: str) -> Call:
        """One call."""
        return self._client._send(self._ops.get_call(call_sid))

    def list(
        self,
        *,
        direction: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        call_status: str | None = None,
    ) -> list[Call]:
        """The account's calls, filtered."""
        return self._client._send(self._ops.list_calls(direction, from_, to, call_status))

    def delete(self, call_sid: str) -> None:
        """Remove a call's record."""
        self._client._send(self._ops.delete_call(call_sid))

    def redirect(self, call_sid: str, hook: Any) -> None:
        """Replace the call's verbs by what ``hook`` answers (a URL, a path, or a hook object)."""
        self.update(call_sid, call_hook=hook)

    def hangup(self, call_sid: str) -> None:
        """End the call."""
        self.update(call_sid, call_status="completed")

    def whisper(self, call_sid: str, verb: Any) -> None:
        """Play a verb (a say or play) into the call."""
        self.update(call_sid, whisper=verb)

    def mute(self, call_sid: str) -> None:
        """Mute the call."""
        self.update(call_sid, mute_status="mute")

    def unmute(self, call_sid: str) -> None:
        """Unmute the call."""
        self.update(call_sid, mute_status="unmute")


class AsyncCalls:
    """``client.calls`` of :class:`AsyncJambonzClient`: the same methods as :class:`Calls`."""

    def __init__(self, client: AsyncJambonzClient) -> None:
        self._client = client
        self._ops = client._operations

    async def create(self, **fields: Any) -> str:
        """Start an outbound call; return its call_sid. Fields as :class:`~.models.CreateCall`."""
        return await self._client._send(self._ops.create_call(fields))

    async def update(self, call_sid: str, **fields: Any) -> None:
        """Change a call in progress. Fields as :class:`~.models.UpdateCall`."""
        await self._client._send(self._ops.update_call(call_sid, fields))

    async def get(self, call_sid: str) -> Call:
        """One call."""
        return await self._client._send(self._ops.get_call(call_sid))

    async def list(
        self,
        *,
        direction: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        call_status: str | None = None,
    ) -> list[Call]:
        """The account's calls, filtered."""
        return await self._client._send(self._ops.list_calls(direction, from_, to, call_status))

    async def delete(self, call_sid: str) -> None:
        """Remove a call's record."""
        await self._client._send(self._ops.delete_call(call_sid))

    async def redirect(self, call_sid: str, hook: Any) -> None:
        """Replace the call's verbs by what ``hook`` answers (a URL, a path, or a hook object)."""
        await self.update(call_sid, call_hook=hook)

    async def hangup(self, call_sid: str) -> None:
        """End the call."""
        await self.update(call_sid, call_status="completed")

    async def whisper(self, call_sid: str, verb: Any) -> None:
        """Play a verb (a say or play) into the call."""
        await self.update(call_sid, whisper=verb)

    async def mute(self, call_sid: str) -> None:
        """Mute the call."""
        await self.update(call_sid, mute_status="mute")

    async def unmute(self, call_sid: str) -> None:
        """Unmute the call."""
        await self.update(call_sid, mute_status="unmute")


class Conferences:
    """``client.conferences``."""

    def __init__(self, client: JambonzClient) -> None:
        self._client = client

    def list(self) -> list[str]:
        """The names of the account's conferences in progress."""
        return self._client._send(self._client._operations.list_conferences())


class AsyncConferences:
    """``client.conferences`` of :class:`AsyncJambonzClient`."""

    def __init__(self, client: AsyncJambonzClient) -> None:
        self._client = client

    async def list(self) -> list[str]:
        """The names of the account's conferences in progress."""
        return await self._client._send(self._client._operations.list_conferences())


class Queues:
    """``client.queues``."""

    def __init__(self, client: JambonzClient) -> None:
        self._client = client

    def list(self, *, search: str | None = None) -> list[Queue]:
        """The account's active queues, by name."""
        return self._client._send(self._client._operations.list_queues(search))


class AsyncQueues:
    """``client.queues`` of :class:`AsyncJambonzClient`."""

    def __init__(self, client: AsyncJambonzClient) -> None:
        self._client = client

    async def list(self, *, search: str | None = None) -> list[Queue]:
        """The account's active queues, by name."""
        return await self._client._send(self._client._operations.list_queues(search))


class Messages:
    """``client.messages``."""

    def __init__(self, client: JambonzClient) -> None:
        self._client = client

    def create(self, **fields: Any) -> MessageResult:
        """Send an SMS. Fields as :class:`~.models.Message`."""
        return self._client._send(self._client._operations.create_message(fields))


class AsyncMessages:
    """``client.messages`` of :class:`AsyncJambonzClient`."""

    def __init__(self, client: AsyncJambonzClient) -> None:
        self._client = client

    async def create(self, **fields: Any) -> MessageResult:
        """Send an SMS. Fields as :class:`~.models.Message`."""
        return await self._client._send(self._client._operations.create_message(fields))
