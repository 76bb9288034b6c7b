"""Per-call state across hooks: what a call's hooks share, in memory or in Redis.

jambonz sends ``env_vars`` and the SIP details with the first hook of a call only, and every
later hook may land on another process or machine. A handler that asks for a
:class:`CallState` gets the call's own key-value store::

    @app.action_hook("/menu")
    async def menu(result: GatherResult, state: CallState) -> WebhookResponse:
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
import multiprocessing
import os
import sys
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import pydantic_core

from .payload import CallInfo
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
        max_bytes: bytes of values kept at most, all calls together; past it, the
            calls written longest ago are dropped too, so that no payloads, however large,
            take more (the default, 128 MiB, is some 30,000 calls of a typical size).

    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_calls: int = 10_000,
        max_bytes: int = 128 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < ttl < float("inf") or max_calls <= 0 or max_bytes <= 0:
            raise ValueError("ttl, max_calls and max_bytes must be positive")
        self.ttl = ttl
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        self._clock = clock
        # call_sid -> (expiry, values, their bytes), in the order of their last write; the
        # bytes of all are _bytes.
        self._calls: OrderedDict[str, tuple[float, dict[str, bytes], int]] = OrderedDict()
        self._bytes = 0
        # No call expires before this (the expiry of the call at the front when last swept).
        self._sweep_at = 0.0

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def size(self) -> int:
        """Bytes of the values held, all calls together (their keys are the code's, and short)."""
        return self._bytes

    def _live(self, call_sid: str) -> dict[str, bytes] | None:
        entry = self._calls.get(call_sid)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._remove(call_sid)
            return None
        return entry[1]

    def _remove(self, call_sid: str) -> None:
        entry = self._calls.pop(call_sid, None)
        if entry is not None:
            self._bytes -= entry[2]

    def _resize(self, call_sid: str) -> None:
        """Count a live call's bytes again, after some of its values were taken out."""
        expiry, values, size = self._calls[call_sid]
        new = _size_of(values)
        self._calls[call_sid] = (expiry, values, new)  # an existing key keeps its place
        self._bytes += new - size

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
        if entry is None:
            current = dict(values)
        else:
            self._bytes -= entry[2]
            if entry[0] > now:
                current = entry[1]
                current.update(values)
            else:
                current = dict(values)
        size = sum(map(len, current.values()))  # counted in C: this is on every call hook's way
        calls[call_sid] = (now + self.ttl, current, size)
        self._bytes += size
        if len(calls) > self.max_calls or self._bytes > self.max_bytes:
            self._evict()
        if now >= self._sweep_at:
            self._sweep(now)

    def put_one(self, call_sid: str, key: str, value: bytes) -> None:
        """:meth:`put` of one value, in fewer steps: a call hook keeps its session so."""
        now = self._clock()
        calls = self._calls
        entry = calls.pop(call_sid, None)  # and in again below: the call becomes the newest
        if entry is None:
            values = {key: value}
            size = grown = len(value)
        elif entry[0] > now:
            values = entry[1]
            old = values.get(key)
            grown = len(value) if old is None else len(value) - len(old)
            size = entry[2] + grown
            values[key] = value
        else:
            values = {key: value}
            size = len(value)
            grown = size - entry[2]
        calls[call_sid] = (now + self.ttl, values, size)
        self._bytes += grown
        if len(calls) > self.max_calls or self._bytes > self.max_bytes:
            self._evict()
        if now >= self._sweep_at:
            self._sweep(now)

    def _evict(self) -> None:
        """Drop the calls written longest ago while there are too many, or too many bytes."""
        calls = self._calls
        while len(calls) > self.max_calls or (self._bytes > self.max_bytes and len(calls) > 1):
            self._remove(next(iter(calls)))

    def _sweep(self, now: float) -> None:
        # Expired calls at the front go as new ones come, so memory is bounded by live calls.
        # Calls are in the order of their expiry (one TTL for all), so the front's is the next
        # to come: nothing to look at before then.
        calls = self._calls
        while calls:
            oldest, (expiry, _, _) = next(iter(calls.items()))
            if expiry > now:
                self._sweep_at = expiry
                return
            self._remove(oldest)
        self._sweep_at = 0.0

    async def take(self, call_sid: str, key: str) -> bytes | None:
        """The JSON text at ``key``, removed in the same step; None if it is not there."""
        values = self._live(call_sid)
        if values is None or key not in values:
            return None
        value = values.pop(key)
        self._resize(call_sid)
        return value

    async def delete(self, call_sid: str, *keys: str) -> None:
        """Remove these keys of the call."""
        values = self._live(call_sid)
        if values is not None:
            for key in keys:
                values.pop(key, None)
            self._resize(call_sid)

    async def drop(self, call_sid: str) -> None:
        """Remove everything of the call."""
        self._remove(call_sid)

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisStore:
    """Calls' state in Redis, shared by every worker and machine (needs redis: the ``redis`` extra).

    Each call is one Redis hash, ``<prefix><call_sid>``, whose fields are the keys and whose
    values are JSON texts; each write restarts its TTL.

    Args:
        url: ``redis://host:6379/0`` (``rediss://`` for TLS); None reads ``JAMBONZ_REDIS_URL``.
        ttl: seconds a call's state lives after its last write.
        timeout: seconds any one operation may take, connecting included; then
            :class:`StateStoreError`, so a hook never hangs on a dead Redis.
        prefix: what every key starts with.
        max_connections: connections open to Redis at most (per event loop); an operation
            finding them all busy waits for one, within ``timeout``.

    """

    def __init__(
        self,
        url: str | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        timeout: float = 1.0,
        prefix: str = "jambonz:call:",
        max_connections: int = 32,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 (an optional dependency: say so at once)
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError(
                "RedisStore needs redis: pip install 'redis>=5' (or, in a clone of jambonz-webhooks,"
                " pip install '.[redis]')"
            ) from None
        url = url or os.environ.get(ENV_REDIS_URL)
        if not url:
            raise ValueError(f"RedisStore needs a URL: give one, or set {ENV_REDIS_URL}")
        if not 0 < ttl < float("inf") or not 0 < timeout < float("inf"):
            raise ValueError("ttl and timeout must be positive")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
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
            from redis.asyncio import BlockingConnectionPool, Redis

            # Bounded: a stall must not open a connection per waiting hook.
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.timeout,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
                decode_responses=False,
            )
            client = self._clients[loop] = Redis.from_pool(pool)  # the client closes its pool
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
            result = await asyncio.wait_for(operation, self.timeout * 2)
        except Exception as exc:  # the client's own errors, timeouts, refused connections
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            store_outage.failed()
            raise StateStoreError(f"Redis at {_redact(self.url)} failed to {what}: {reason}") from exc
        if store_outage.down:
            store_outage.recovered(f"Redis at {_redact(self.url)}")
        return result

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


def _size_of(values: Mapping[str, bytes]) -> int:
    return sum(map(len, values.values()))


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


def serving_workers(environ: Mapping[str, str] | None = None) -> int:
    """How many worker processes serve this app, as far as this process can tell (1 if unsure).

    ``WEB_CONCURRENCY`` (uvicorn's and gunicorn's default); else the command line that started
    the workers: a uvicorn or ``jambonz-webhooks run`` worker is a child process whose parent
    was given ``--workers N``, a gunicorn worker a fork that keeps gunicorn's ``-w N``.
    """
    env = os.environ if environ is None else environ
    value = env.get("WEB_CONCURRENCY", "").strip()
    if value.isdigit() and int(value) > 1:
        return int(value)
    commands = [sys.argv]
    if multiprocessing.parent_process() is not None:
        try:
            with open(f"/proc/{os.getppid()}/cmdline", "rb") as file:
                commands.append([part.decode(errors="replace") for part in file.read().split(b"\0")])
        except OSError:
            pass
    return max((_workers_in(command) for command in commands), default=1)


def _workers_in(command: list[str]) -> int:
    """``--workers N`` (or ``-w N`` for gunicorn) in a command line; 1 if it names none."""
    gunicorn = any(part.endswith("gunicorn") for part in command[:2])
    for index, part in enumerate(command):
        name, _, inline = part.partition("=")
        if name == "--workers" or (gunicorn and name == "-w"):
            given = inline or (command[index + 1] if index + 1 < len(command) else "")
            if given.isdigit():
                return max(1, int(given))
    return 1


def default_store(environ: Mapping[str, str] | None = None) -> StateStore:
    """A :class:`RedisStore` when ``JAMBONZ_REDIS_URL`` is set, else a :class:`MemoryStore`."""
    url = (os.environ if environ is None else environ).get(ENV_REDIS_URL)
    return RedisStore(url) if url else MemoryStore()


class OutageLog:
    """Log lines about a failing store: one line each, no traceback, at most one a ``period``.

    An outage fails every hook that needs the store; a traceback for each (65 lines) would
    bury everything else in the log. Lines past the rate are counted and the count is told
    with the next line written, and one line says when the store answers again.
    """

    def __init__(
        self, log: logging.Logger, *, period: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = log
        self.period = period
        self.down = False
        """Whether the store's last operation failed."""
        self._clock = clock
        self._next = 0.0
        self._suppressed = 0
        self._failures = 0

    def failed(self) -> None:
        """An operation of the store failed (the line about it is :meth:`warn`'s)."""
        self.down = True
        self._failures += 1

    def warn(self, message: str, *args: object, call_sid: str | None = None) -> None:
        """Log one line about a failure, unless one was logged within the period."""
        now = self._clock()
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self.period
        if self._suppressed:
            message += " (and %d more such failures in the last %.0f s, not logged)"
            args = (*args, self._suppressed, self.period)
            self._suppressed = 0
        self.log.warning(message, *args, extra={"call_sid": call_sid})

    def recovered(self, what: str) -> None:
        """The store answered again after failing: say so once."""
        self.log.warning("%s answers again, after %d failed operations", what, self._failures)
        self.down = False
        self._failures = 0
        self._next = 0.0


store_outage = OutageLog(logger)
"""The process's log of state store failures (the stores and the hooks write to it)."""


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
        """The call as its call hook described it (SIP details, env_vars, ...), if it was kept.

        None, with a warning in the log, when nothing was kept: the call hook reached another
        process of a memory store, the store dropped the call, or the call hook never came here.
        """
        raw = await self.store.get(self.call_sid, SESSION_KEY)
        if raw is None:
            logger.warning(
                "state lost: call %s has no session kept from its call hook (a memory store is not "
                "shared by several workers: set %s for a shared Redis)",
                self.call_sid,
                ENV_REDIS_URL,
                extra={"call_sid": self.call_sid},
            )
            return None
        return CallSession.model_validate_json(raw)

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


MAX_SESSION_SIZE = 64 * 1024
"""Bytes of a call hook's payload kept for the later hooks at most: a payload is a few KB."""

# What later hooks need most, kept whatever else goes: the call's identity and its env vars.
_ESSENTIAL = frozenset(
    {"call_sid", "account_sid", "application_sid", "direction", "from", "to", "call_id", "parent_call_sid"}
)


def session_to_keep(call_sid: str, session: bytes, limit: int = MAX_SESSION_SIZE) -> bytes:
    """The call hook's payload as it is kept: whole within ``limit``, else without its largest parts.

    The SIP details go first (an INVITE's body and headers are most of a large payload), then
    the other fields from the largest, the call's identity and ``env_vars`` last; a warning
    names what was left out (names and sizes, never values).
    """
    if len(session) <= limit:
        return session
    try:
        fields = pydantic_core.from_json(session)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        logger.warning(
            "call %s's session is %d bytes, over the %d kept: not kept",
            call_sid,
            len(session),
            limit,
            extra={"call_sid": call_sid},
        )
        return b"{}"
    # Each field's bytes in the compact JSON text: '"name":value', and the comma between two.
    sizes = {name: len(pydantic_core.to_json(value)) for name, value in fields.items()}
    entries = {name: len(pydantic_core.to_json(name)) + 1 + size + 1 for name, size in sizes.items()}
    total = 1 + sum(entries.values())  # the braces, less the last comma
    # Dropped in this order: sip; the other fields, largest first; env_vars; the call's
    # identity. env_vars go right after sip when they could not fit even alone.
    essentials = sum(entries[name] for name in fields if name in _ESSENTIAL)
    env_fits = 1 + essentials + entries.get("env_vars", 0) <= limit

    def rank(name: str) -> tuple[int, int]:
        if name == "sip":
            return (0, 0)
        if name == "env_vars":
            return (3 if env_fits else 1, 0)
        return (4 if name in _ESSENTIAL else 2, -sizes[name])

    order = sorted(fields, key=rank)
    dropped: list[str] = []
    others = other_bytes = 0
    known = CallSession.model_fields.keys() | {"from", "customerData"}
    for name in order:
        if total <= limit:
            break
        del fields[name]
        total -= entries[name]
        # Names the protocol defines are told; any other name is the request's own text.
        if name in known:
            dropped.append(f"{name} ({sizes[name]} bytes)")
        else:
            others += 1
            other_bytes += sizes[name]
    if others:
        dropped.append(f"{others} other fields ({other_bytes} bytes)")
    logger.warning(
        "call %s's session is %d bytes, over the %d kept: kept without %s",
        call_sid,
        len(session),
        limit,
        ", ".join(dropped),
        extra={"call_sid": call_sid},
    )
    return pydantic_core.to_json(fields)


def keep_session_at_once(store: StateStore, call_sid: str, session: bytes) -> bool:
    """Keep a call hook's payload without awaiting when ``store`` is this process's memory.

    True if it was kept; False for any other store, which :func:`keep_session` awaits.
    """
    if type(store) is MemoryStore:
        store.put_one(call_sid, SESSION_KEY, session)
        return True
    return False


async def has_session(store: StateStore, call: CallInfo) -> bool:
    """Whether a session is kept for ``call`` (False when the store fails: then keep it anew)."""
    try:
        return await store.get(str(call.call_sid), SESSION_KEY) is not None
    except StateStoreError:
        return False


async def keep_session(store: StateStore, call_sid: str, session: bytes) -> None:
    """Keep a call hook's payload (its JSON text) in the call's state, for the hooks after it.

    A store failure is logged and swallowed: the handler still runs, it may not need the
    state, and if it does it gets the error itself.
    """
    try:
        await store.set(call_sid, {SESSION_KEY: session})
    except StateStoreError as exc:
        store_outage.warn(
            "could not keep call %s's session in the state store: %s", call_sid, exc, call_sid=call_sid
        )


async def forget_call(store: StateStore, call_sid: str) -> None:
    """Drop a call's state once a status hook says it is over (its TTL would, later)."""
    try:
        await store.drop(call_sid)
    except StateStoreError as exc:
        store_outage.warn(
            "could not drop call %s's state (it expires by its TTL): %s", call_sid, exc, call_sid=call_sid
        )
