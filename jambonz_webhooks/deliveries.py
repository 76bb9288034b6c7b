"""Repeated deliveries of one webhook, answered once.

jambonz resends a webhook, with the same body and the same signature, when it saw a connection
error or a timeout (``#rc=N&rp=ct,rt``: jambonz-feature-server 0.9.8,
``lib/utils/http-requestor.js`` and ``base-requestor.js`` ``_shouldRetry``). The handler may have
run (and sent its answer into a broken connection) or may still be running. With a
:class:`DeliveryCache`, the repeat gets the first delivery's answer, waiting for it if it is not
ready yet, and the handler runs once.

Two requests are the same delivery when jambonz signed the same thing for the same hook: the
hook, the signature's timestamp and the exact bytes of the verified body (:func:`delivery_key`).
The header's text is not part of it: the same signature written otherwise (``v1`` first,
upper-case hex, spaces, one more ``v1`` entry) is the same delivery. Without a signature
nothing tells a retry from a genuine new request with the same body (the caller pressing the
same digit again), so only verified requests are deduplicated: an app refuses ``deduplicate``
without a webhook secret, and a GET hook (which cannot be verified) is never deduplicated.

An answer is kept while its signature can still be accepted: a timestamp may be up to the
tolerance away from the clock either way, so a delivery first seen at the earliest moment its
signature passes can pass again for twice the tolerance. Server errors (5xx) are not kept, so a
retry can get past them.

The cache lives in the process; with a :class:`RedisDeliveries` (the app makes one when its
state store is a :class:`~jambonz_webhooks.state.RedisStore`), every worker shares the record:
the first to claim a delivery in Redis (``SET NX``, for a lease of the hook's deadline and a
margin) computes the answer and publishes it; the others wait for it and answer the same. A
claim whose worker died expires with its lease, and a later delivery computes its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar

from .security import DEFAULT_TOLERANCE
from .state import RedisStore, StateStore, StateStoreError

__all__ = [
    "DEFAULT_LEASE",
    "LEASE_MARGIN",
    "DeliveryCache",
    "RedisDeliveries",
    "Replayable",
    "StoredAnswer",
    "delivery_key",
]

logger = logging.getLogger("jambonz_webhooks")

StoredAnswer: TypeAlias = tuple[int, Sequence[tuple[bytes, bytes]], bytes]
"""An HTTP answer as it is sent: status, headers, body."""

DEFAULT_LEASE = 10.0
"""Seconds a worker holds a delivery it computes, unless told otherwise: jambonz's own timeout."""

LEASE_MARGIN = 1.0
"""Seconds a claim outlives the hook's deadline: the answer is published within them."""


class Replayable(Protocol):
    """What :class:`DeliveryCache` keeps of an answer: its status, headers and body."""

    @property
    def status(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Sequence[tuple[bytes, bytes]]:
        """The HTTP headers, as sent."""
        ...

    @property
    def body(self) -> bytes:
        """The body, as sent."""
        ...


R = TypeVar("R", bound=Replayable)


def delivery_key(hook: str, timestamp: int, body: bytes) -> bytes:
    """What makes two requests the same delivery: the hook, the signature's timestamp, the body.

    ``hook`` names the hook (its path, with its parameters and the prefix it is mounted under);
    ``body`` is the exact bytes the signature was verified over. The key is 32 bytes whatever
    their size.
    """
    digest = hashlib.blake2b(digest_size=32)
    encoded = hook.encode()
    digest.update(len(encoded).to_bytes(8, "big"))  # lengths first: no two splits hash alike
    digest.update(encoded)
    digest.update(timestamp.to_bytes(8, "big"))
    digest.update(body)
    return digest.digest()


class DeliveryCache:
    """The answers of recent deliveries, by :func:`delivery_key`.

    Args:
        ttl: seconds an answer is kept. None: twice the signature tolerance of the app it is
            given to (600 s by default), the longest a delivery's signature may go on being
            accepted after its first arrival; an app refuses a shorter one.
        max_entries: answers kept in this process at most; the oldest are dropped first.
        clock: the clock entries expire by, in seconds (a fake one for tests).
        shared: where the workers share their records; None: the app's Redis when its state
            store is a :class:`~jambonz_webhooks.state.RedisStore`, else this process only.

    """

    def __init__(
        self,
        *,
        ttl: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        shared: RedisDeliveries | None = None,
    ) -> None:
        # Written so that NaN fails too.
        if (ttl is not None and not 0 < ttl < float("inf")) or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self.ttl = 2 * DEFAULT_TOLERANCE if ttl is None else ttl
        self._ttl_given = ttl is not None
        self.max_entries = max_entries
        self.shared = shared
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, asyncio.Future[Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def fit(self, tolerance: float, store: StateStore | None = None) -> None:
        """Fit the cache to an app: its signature ``tolerance``, and its state ``store``.

        Raises:
            ValueError: a ``ttl`` given that is shorter than twice ``tolerance``.

        """
        longest = 2 * tolerance
        if not self._ttl_given:
            self.ttl = longest
        elif self.ttl < longest:
            raise ValueError(
                f"DeliveryCache(ttl={self.ttl:g}) would forget a delivery while its signature can "
                f"still be accepted (for up to {longest:g} s: twice signature_tolerance={tolerance:g}): "
                f"give ttl >= {longest:g}, or leave ttl out"
            )
        if self.shared is None and isinstance(store, RedisStore):
            self.shared = RedisDeliveries(store)

    async def answer(
        self,
        key: bytes,
        compute: Callable[[], Awaitable[R]],
        *,
        rebuild: Callable[[StoredAnswer], R],
        lease: float = DEFAULT_LEASE,
    ) -> R:
        """The answer to the delivery ``key``: computed if it is the first, else the first's again.

        A repeat gets ``rebuild`` of the first answer's status, headers and body. An answer that
        is a server error (a retry may get past it) is not kept: a later delivery computes its
        own. If ``compute`` raises, the deliveries waiting for it in this process raise the same.
        With :attr:`shared` records, the first worker holds the delivery for ``lease`` seconds
        at most while it computes.
        """
        now = self._clock()
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            first = entry[1]
            try:
                # Shielded: a repeat whose client goes away must not cancel the first's work.
                kept: StoredAnswer = await asyncio.shield(first)
            except asyncio.CancelledError:
                if not first.cancelled():
                    raise  # this request itself was cancelled
                # The first delivery ended without an answer to repeat: answer this one anew.
                return await self.answer(key, compute, rebuild=rebuild, lease=lease)
            return rebuild(kept)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self.ttl, future)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        try:
            # Without shared records, no coroutine between: each costs a request a little.
            result = await (compute() if self.shared is None else self._first(key, compute, rebuild, lease))
        except Exception as exc:
            self._forget(key, future)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when none waits
            raise
        except BaseException:
            self._forget(key, future)
            future.cancel()
            raise
        if result.status >= 500:
            self._forget(key, future)
            future.cancel()
        else:
            # Only what a repeat is sent: the first's decoded payload and verbs are let go.
            future.set_result(_answer_of(result))
        return result

    async def _first(
        self,
        key: bytes,
        compute: Callable[[], Awaitable[R]],
        rebuild: Callable[[StoredAnswer], R],
        lease: float,
    ) -> R:
        """The first delivery in this process, shared with the other workers through the records."""
        shared = self.shared
        assert shared is not None
        try:
            claim = await shared.claim(key, lease)
        except StateStoreError as exc:
            # A delivery repeated on another worker may run twice; this one is answered anyway.
            logger.warning("repeated deliveries cannot be told across workers: %s", exc)
            return await compute()
        if claim is None:
            logger.warning("a delivery stayed claimed by another worker past its lease: answering it here")
            return await compute()
        if isinstance(claim, tuple):
            return rebuild(claim)
        try:
            result = await compute()
        except Exception:
            await self._settle(shared, key, claim, None)
            raise
        # Cancelled (the server stops): the claim is left to its lease, nothing is awaited now.
        await self._settle(shared, key, claim, _answer_of(result) if result.status < 500 else None)
        return result

    async def _settle(
        self, shared: RedisDeliveries, key: bytes, claim: bytes, answer: StoredAnswer | None
    ) -> None:
        try:
            await shared.settle(key, claim, answer, self.ttl)
        except StateStoreError as exc:
            # The others find the claim gone when its lease runs out, and compute their own.
            logger.warning("the answer to a delivery could not be shared with the other workers: %s", exc)

    def _forget(self, key: bytes, future: asyncio.Future[Any]) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] is future:
            del self._entries[key]

    def _expire(self, now: float) -> None:
        # Entries are kept in the order they were made, all with the same ttl: the oldest first.
        entries = self._entries
        while entries:
            key, (expires, _) = next(iter(entries.items()))
            if expires > now:
                break
            del entries[key]


def _answer_of(result: Replayable) -> StoredAnswer:
    return result.status, result.headers, result.body


# A record in Redis is a claim (the worker computing the answer, until its lease runs out) or
# the answer: one byte tells which.
_CLAIM = b"C"
_ANSWER = b"A"

# Settle a claim if it is still this worker's: publish the answer, or drop the claim (ARGV[2]
# empty). A claim whose lease ran out may be another worker's by now: left alone.
_SETTLE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
end
if ARGV[2] == '' then
    redis.call('DEL', KEYS[1])
else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""


class RedisDeliveries:
    """The record of deliveries shared by every worker through a state store's Redis.

    Each delivery is one key, ``<prefix><hex of the delivery key>``: a claim while the first
    worker computes the answer (it expires with the lease), then the answer, kept for the
    cache's ``ttl``. It uses the store's client, and so its connection pool and timeout.

    Args:
        store: the app's :class:`~jambonz_webhooks.state.RedisStore`.
        prefix: what every key starts with.
        poll: seconds between the first two reads of a claimed delivery while waiting for its
            answer; the wait doubles from there, up to ``max_poll``.
        max_poll: the longest wait between two reads.

    """

    def __init__(
        self,
        store: RedisStore,
        *,
        prefix: str = "jambonz:delivery:",
        poll: float = 0.002,
        max_poll: float = 0.05,
    ) -> None:
        if not 0 < poll <= max_poll < float("inf"):
            raise ValueError("poll and max_poll must be positive, poll no more than max_poll")
        self.store = store
        self.prefix = prefix
        self.poll = poll
        self.max_poll = max_poll

    def __repr__(self) -> str:
        return f"RedisDeliveries({self.store!r}, prefix={self.prefix!r})"

    async def claim(self, key: bytes, lease: float) -> bytes | StoredAnswer | None:
        """Claim the delivery ``key`` for ``lease`` seconds, or wait for the answer of whoever has.

        Returns the claim (to :meth:`settle` once the answer is known), the answer published
        by another worker, or None when a claim outlived ``lease`` and a margin (the answer
        must then be computed without the record).

        Raises:
            StateStoreError: Redis failed or did not answer in time.

        """
        redis = self.store.redis
        name = self.prefix + key.hex()
        claim = _CLAIM + secrets.token_bytes(12)
        lease_ms = max(1, round(lease * 1000))
        loop = asyncio.get_running_loop()
        # Any claim found was made at most a lease ago: it is gone by then.
        end = loop.time() + lease + LEASE_MARGIN
        delay = self.poll
        while True:
            if await self._run("claim a delivery", redis.set(name, claim, nx=True, px=lease_ms)):
                return claim
            value = await self._run("read a delivery", redis.get(name))
            while value is not None and value[:1] != _ANSWER:  # another worker's claim
                if loop.time() >= end:
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_poll)
                value = await self._run("read a delivery", redis.get(name))
            if value is not None:
                return _decode(value)
            # Gone: the claim was dropped (a server error) or ran out. Claim it again.
            if loop.time() >= end:
                return None

    async def settle(self, key: bytes, claim: bytes, answer: StoredAnswer | None, ttl: float) -> None:
        """Publish ``answer`` to the delivery ``key`` for ``ttl`` seconds, or (None) drop the claim.

        Nothing changes when the claim is no longer this worker's (its lease ran out).

        Raises:
            StateStoreError: Redis failed or did not answer in time.

        """
        value = b"" if answer is None else _encode(answer)
        ttl_ms = max(1, round(ttl * 1000))
        settle = self.store.redis.eval(_SETTLE, 1, self.prefix + key.hex(), claim, value, ttl_ms)
        await self._run("publish a delivery's answer", settle)

    async def _run(self, what: str, operation: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(operation, self.store.timeout * 2)
        except Exception as exc:  # the client's own errors, timeouts, refused connections
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise StateStoreError(f"Redis failed to {what}: {reason}") from exc


def _encode(answer: StoredAnswer) -> bytes:
    status, headers, body = answer
    # Header names and values are latin-1 on the wire: they go through JSON text as such.
    head = [status, [[name.decode("latin-1"), value.decode("latin-1")] for name, value in headers]]
    # ensure_ascii: the head holds no raw newline, so the first one ends it.
    return _ANSWER + json.dumps(head, separators=(",", ":")).encode() + b"\n" + body


def _decode(value: bytes) -> StoredAnswer:
    head, sep, body = value[1:].partition(b"\n")
    try:
        status, headers = json.loads(head)
        if not sep or type(status) is not int or not isinstance(headers, list):
            raise ValueError(head)
        pairs = [(name.encode("latin-1"), text.encode("latin-1")) for name, text in headers]
    except (ValueError, TypeError, AttributeError):
        raise StateStoreError("a delivery's record in Redis is not an answer this framework wrote") from None
    return status, pairs, body
