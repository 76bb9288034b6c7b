"""Repeated deliveries of one webhook, answered once.

jambonz resends a webhook, with the same body and the same signature, when it saw a connection
error or a timeout (PROTOCOL.md, section 1: ``#rc=N&rp=ct,rt``). The handler may have run (and
sent its answer into a broken connection) or may still be running. With a
:class:`DeliveryCache`, the repeat gets the first delivery's answer, waiting for it if it is not
ready yet, and the handler runs once.

The cache lives in the process: with several workers, a repeat that lands on another worker
runs the handler again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

__all__ = ["Answer", "DeliveryCache", "delivery_key"]

Answer: TypeAlias = tuple[int, Sequence[tuple[bytes, bytes]], bytes]
"""An HTTP answer as it is sent: status, headers, body."""

T = TypeVar("T")


def delivery_key(method: str, path: str, query: bytes, signature: str | bytes | None, body: bytes) -> bytes:
    """What makes two requests the same delivery: the hook, its query, signature and body.

    The signature carries the time jambonz signed at, so two deliveries of equal payloads at
    different times are different; without a signature, equal payloads to one hook are one.
    """
    digest = hashlib.blake2b(digest_size=32)
    signed = signature.encode("latin-1") if isinstance(signature, str) else signature or b""
    for part in (method.encode(), path.encode(), query, signed, body):
        digest.update(len(part).to_bytes(8, "big"))  # lengths first: no two splits hash alike
        digest.update(part)
    return digest.digest()


class DeliveryCache:
    """The answers of recent deliveries, by :func:`delivery_key`.

    Args:
        ttl: seconds an answer is kept. jambonz's retries (at most 5, backing off from 0.5 s,
            each after a timeout) are over within two minutes.
        max_entries: answers kept at most; the oldest are dropped first.

    """

    def __init__(
        self, *, ttl: float = 120.0, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, asyncio.Future[Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def answer(
        self,
        key: bytes,
        compute: Callable[[], Awaitable[T]],
        *,
        repeatable: Callable[[T], bool] = lambda answer: True,
    ) -> T:
        """The first answer to the delivery ``key``, computing it if this is the first delivery.

        An answer that is not ``repeatable`` (a server error, which a retry may get past) is
        not kept: a later delivery computes its own. If ``compute`` raises, the deliveries
        waiting for it raise the same.
        """
        now = self._clock()
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            first = entry[1]
            try:
                # Shielded: a repeat whose client goes away must not cancel the first's work.
                repeated: T = await asyncio.shield(first)
                return repeated
            except asyncio.CancelledError:
                if not first.cancelled():
                    raise  # this request itself was cancelled
                # The first delivery ended without an answer to repeat: answer this one anew.
                return await self.answer(key, compute, repeatable=repeatable)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self.ttl, future)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        try:
            result = await compute()
        except Exception as exc:
            self._forget(key, future)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when none waits
            raise
        except BaseException:
            self._forget(key, future)
            future.cancel()
            raise
        if not repeatable(result):
            self._forget(key, future)
            future.cancel()
        else:
            future.set_result(result)
        return result

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
