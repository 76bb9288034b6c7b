"""Per-call state across hooks: what a call's hooks share, in memory or in Redis.

jambonz sends ``env_vars`` and the SIP details with the first hook of a call only, and every
later hook may land on another process or machine. A handler that asks for a
:class:`CallState` gets the call's own key-value store::

    @app.action_hook("/menu")
    async def menu(result: GatherResult, state: CallState) -> Response:
        company = (await state.env_vars()).get("COMPANY_NAME", "Acme")
        await state.set("choice", result.digits)

The framework keeps the call hook's payload in it, so :meth:`CallState.session` and
:meth:`CallState.env_vars` work on every later hook, and drops it all when a status hook
reports the call over. Values are JSON (as Redis keeps them); every key expires after the
store's ``ttl`` in any case.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import pydantic_core

from .session import CallSession

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_TTL",
    "ENV_REDIS_URL",
    "CallState",
    "MemoryStore",
    "RedisStore",
    "StateStore",
    "StateStoreError",
    "default_store",
]

DEFAULT_TTL = 4 * 3600.0
"""Seconds a call's state is kept after its last write: longer than nearly any call."""

ENV_REDIS_URL = "JAMBONZ_REDIS_URL"

# The framework's own keys: a user key cannot be one (see CallState._check_key).
SESSION_KEY = "jambonz:session"
"""The call hook's payload, as the JSON text jambonz sent."""

T = TypeVar("T")

logger = logging.getLogger("jambonz_webhooks")


class StateStoreError(RuntimeError):
    """The state store failed or did not answer in time; the message says what was tried."""


@runtime_checkable
class StateStore(Protocol):
    """Where calls' state lives. Every value is a JSON text; every call's data has a TTL.

    A store may also have ``async take(call_sid, key) -> bytes | None``: the value removed in
    the same step, so that of several workers taking it at once exactly one gets it. Both
    stores here have it; a hook continuing in the background hands its verbs out with it (with
    a store that has none, with a read and a delete, which two workers could both pass).
    """

    async def get(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text stored at ``key`` for the call, or None."""
        ...

    async def get_all(self, call_sid: str) -> dict[str, bytes]:
        """Every key of the call with its JSON text."""
        ...

    async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        """Store JSON texts at these keys, and restart the call's TTL."""
        ...

    async def delete(self, call_sid: str, *keys: str) -> None:
        """Remove these keys of the call."""
        ...

    async def drop(self, call_sid: str) -> None:
        """Remove everything of the call."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    """Calls' state in this process: the default, for one worker.

    Args:
        ttl: seconds a call's state lives after its last write.
        max_calls: calls kept at most; past it, the call written longest ago is dropped. With
            the call hook's payload (a few KB) kept for each, 10,000 calls hold some 30 MB.

    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_calls: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < ttl < float("inf") or max_calls <= 0:
            raise ValueError("ttl and max_calls must be positive")
        self.ttl = ttl
        self.max_calls = max_calls
        self._clock = clock
        # call_sid -> (expiry, values), in the order of their last write.
        self._calls: OrderedDict[str, tuple[float, dict[str, bytes]]] = OrderedDict()
        # No call expires before this (the expiry of the call at the front when last swept).
        self._sweep_at = 0.0

    def __len__(self) -> int:
        return len(self._calls)

    def _live(self, call_sid: str) -> dict[str, bytes] | None:
        entry = self._calls.get(call_sid)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._calls[call_sid]
            return None
        return entry[1]

    async def get(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text stored at ``key`` for the call, or None."""
        values = self._live(call_sid)
        return None if values is None else values.get(key)

    async def get_all(self, call_sid: str) -> dict[str, bytes]:
        """Every key of the call with its JSON text."""
        return dict(self._live(call_sid) or {})

    async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        """Store JSON texts at these keys, and restart the call's TTL."""
        self.put(call_sid, values)

    def put(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        """:meth:`set`, without a coroutine: this store never waits (a call hook keeps its session so)."""
        now = self._clock()
        calls = self._calls
        entry = calls.pop(call_sid, None)  # and in again below: the call becomes the newest
        if entry is not None and entry[0] > now:
            current = entry[1]
            current.update(values)
        else:
            current = dict(values)
        calls[call_sid] = (now + self.ttl, current)
        while len(calls) > self.max_calls:
            calls.popitem(last=False)
        if now >= self._sweep_at:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        # Expired calls at the front go as new ones come, so memory is bounded by live calls.
        # Calls are in the order of their expiry (one TTL for all), so the front's is the next
        # to come: nothing to look at before then.
        calls = self._calls
        while calls:
            oldest, (expiry, _) = next(iter(calls.items()))
            if expiry > now:
                self._sweep_at = expiry
                return
            del calls[oldest]
        self._sweep_at = 0.0

    async def take(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text at ``key``, removed in the same step; None if it is not there."""
        values = self._live(call_sid)
        return None if values is None else values.pop(key, None)

    async def delete(self, call_sid: str, *keys: str) -> None:
        """Remove these keys of the call."""
        values = self._live(call_sid)
        if values is not None:
            for key in keys:
                values.pop(key, None)

    async def drop(self, call_sid: str) -> None:
        """Remove everything of the call."""
        self._calls.pop(call_sid, None)

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisStore:
    """Calls' state in Redis, shared by every worker and machine (``pip install jambonz-webhooks[redis]``).

    Each call is one Redis hash, ``<prefix><call_sid>``, whose fields are the keys and whose
    values are JSON texts; each write restarts its TTL.

    Args:
        url: ``redis://host:6379/0`` (``rediss://`` for TLS); None reads ``JAMBONZ_REDIS_URL``.
        ttl: seconds a call's state lives after its last write.
        timeout: seconds any one operation may take, connecting included; then
            :class:`StateStoreError`, so a hook never hangs on a dead Redis.
        prefix: what every key starts with.

    """

    def __init__(
        self,
        url: str | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        timeout: float = 1.0,
        prefix: str = "jambonz:call:",
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 (an optional dependency: say so at once)
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError("RedisStore needs redis: pip install 'jambonz-webhooks[redis]'") from None
        url = url or os.environ.get(ENV_REDIS_URL)
        if not url:
            raise ValueError(f"RedisStore needs a URL: give one, or set {ENV_REDIS_URL}")
        if not 0 < ttl < float("inf") or not 0 < timeout < float("inf"):
            raise ValueError("ttl and timeout must be positive")
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.prefix = prefix
        self._ttl_ms = max(1, round(ttl * 1000))
        # A client's pooled connections belong to the event loop that opened them: one client
        # per loop (uvicorn runs one; a test client may run a new one per request).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Redis] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def _redis(self) -> Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            from redis.asyncio import Redis

            client = self._clients[loop] = Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
                decode_responses=False,
            )
        return client

    @property
    def redis(self) -> Redis:
        """The client of the running event loop, for the framework's other records in this Redis.

        The record of repeated deliveries uses it: one connection pool, the same timeouts.
        """
        return self._redis

    def __repr__(self) -> str:
        return f"RedisStore({_redact(self.url)!r}, ttl={self.ttl})"

    async def _run(self, what: str, operation: Awaitable[T]) -> T:
        # redis-py's socket timeouts cover reads and connects; wait_for also bounds a slow
        # connection pool or DNS lookup.
        try:
            return await asyncio.wait_for(operation, self.timeout * 2)
        except Exception as exc:  # the client's own errors, timeouts, refused connections
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise StateStoreError(f"Redis at {_redact(self.url)} failed to {what}: {reason}") from exc

    async def get(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text stored at ``key`` for the call, or None."""
        value = await self._run("read a call's state", self._redis.hget(self.prefix + call_sid, key))
        return _as_bytes(value) if value is not None else None

    async def get_all(self, call_sid: str) -> dict[str, bytes]:
        """Every key of the call with its JSON text."""
        raw = await self._run("read a call's state", self._redis.hgetall(self.prefix + call_sid))
        # decode_responses=False: keys and values come back as bytes.
        return {_as_bytes(key).decode(): _as_bytes(value) for key, value in raw.items()}

    async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        """Store JSON texts at these keys, and restart the call's TTL (one round trip)."""
        name = self.prefix + call_sid
        pipeline = self._redis.pipeline(transaction=True)
        mapping: dict[str | bytes, bytes] = {key: value for key, value in values.items()}
        pipeline.hset(name, mapping=mapping)  # type: ignore[arg-type]  # redis's Mapping is invariant
        pipeline.pexpire(name, self._ttl_ms)
        await self._run("write a call's state", pipeline.execute())

    async def delete(self, call_sid: str, *keys: str) -> None:
        """Remove these keys of the call."""
        if keys:
            await self._run("delete from a call's state", self._redis.hdel(self.prefix + call_sid, *keys))

    async def take(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text at ``key``, removed in the same step; None if it is not there.

        One transaction (HGET and HDEL in MULTI/EXEC): of several workers taking the same key
        at once, exactly one gets it.
        """
        name = self.prefix + call_sid
        pipeline = self._redis.pipeline(transaction=True)
        pipeline.hget(name, key)
        pipeline.hdel(name, key)
        value, removed = await self._run("take from a call's state", pipeline.execute())
        return _as_bytes(value) if removed and value is not None else None

    async def drop(self, call_sid: str) -> None:
        """Remove everything of the call."""
        await self._run("drop a call's state", self._redis.delete(self.prefix + call_sid))

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"


def default_store(environ: Mapping[str, str] | None = None) -> StateStore:
    """A :class:`RedisStore` when ``JAMBONZ_REDIS_URL`` is set, else a :class:`MemoryStore`."""
    url = (os.environ if environ is None else environ).get(ENV_REDIS_URL)
    return RedisStore(url) if url else MemoryStore()


class CallState:
    """One call's state, shared by all its hooks; ask for it by annotation (``state: CallState``).

    Values are anything JSON can hold; they come back as JSON gives them (a tuple as a list).
    Every method may raise :class:`StateStoreError` when the store fails.
    """

    __slots__ = ("call_sid", "store")

    def __init__(self, store: StateStore, call_sid: str) -> None:
        self.store = store
        self.call_sid = call_sid

    def __repr__(self) -> str:
        return f"CallState(call_sid={self.call_sid!r})"

    async def get(self, key: str, default: Any = None) -> Any:
        """The value at ``key``, or ``default``."""
        _check_key(key)
        raw = await self.store.get(self.call_sid, key)
        return default if raw is None else pydantic_core.from_json(raw)

    async def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serializable) at ``key``."""
        await self.update({key: value})

    async def update(self, values: Mapping[str, Any]) -> None:
        """Store several values at once (one round trip)."""
        for key in values:
            _check_key(key)
        await self.store.set(
            self.call_sid, {key: pydantic_core.to_json(value) for key, value in values.items()}
        )

    async def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        for key in keys:
            _check_key(key)
        await self.store.delete(self.call_sid, *keys)

    async def items(self) -> dict[str, Any]:
        """Every value the handlers stored (not the framework's own)."""
        raw = await self.store.get_all(self.call_sid)
        return {
            key: pydantic_core.from_json(value)
            for key, value in raw.items()
            if not key.startswith("jambonz:")
        }

    async def session(self) -> CallSession | None:
        """The call as its call hook described it (SIP details, env_vars, ...), if it was kept."""
        raw = await self.store.get(self.call_sid, SESSION_KEY)
        return None if raw is None else CallSession.model_validate_json(raw)

    async def env_vars(self) -> dict[str, Any]:
        """The application's environment variables, as the call hook brought them."""
        session = await self.session()
        return dict(session.env_vars or {}) if session is not None else {}

    async def parent(self) -> CallState | None:
        """The state of the call that dialed this one (``parent_call_sid``), for a child call."""
        session = await self.session()
        if session is None or not session.parent_call_sid:
            return None
        return CallState(self.store, session.parent_call_sid)

    async def clear(self) -> None:
        """Remove everything of the call, the framework's keys too."""
        await self.store.drop(self.call_sid)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError("a state key is a non-empty string")
    if key.startswith("jambonz:"):
        raise ValueError(f"{key!r}: keys starting with 'jambonz:' are the framework's")


def keep_session_at_once(store: StateStore, call_sid: str, session: bytes) -> bool:
    """Keep a call hook's payload without awaiting when ``store`` is this process's memory.

    True if it was kept; False for any other store, which :func:`keep_session` awaits.
    """
    if type(store) is MemoryStore:
        store.put(call_sid, {SESSION_KEY: session})
        return True
    return False


async def keep_session(store: StateStore, call_sid: str, session: bytes) -> None:
    """Keep a call hook's payload (its JSON text) in the call's state, for the hooks after it.

    A store failure is logged and swallowed: the handler still runs, it may not need the
    state, and if it does it gets the error itself.
    """
    try:
        await store.set(call_sid, {SESSION_KEY: session})
    except StateStoreError as exc:
        logger.warning(
            "could not keep call %s's session in the state store: %s",
            call_sid,
            exc,
            extra={"call_sid": call_sid},
        )


async def forget_call(store: StateStore, call_sid: str) -> None:
    """Drop a call's state once a status hook says it is over (its TTL would, later)."""
    try:
        await store.drop(call_sid)
    except StateStoreError as exc:
        logger.warning(
            "could not drop call %s's state (it expires by its TTL): %s",
            call_sid,
            exc,
            extra={"call_sid": call_sid},
        )
