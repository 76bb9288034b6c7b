"""Background continuation of slow hooks: answer jambonz in time, hand it the handler's verbs later.

jambonz waits about 10 s for a hook's answer and then fails the call, while an LLM-backed
handler may take longer. So the pipeline can let a hook continue in the background:

1. At a soft deadline it calls :meth:`Continuations.start` with the handler's unfinished work and
   answers jambonz with filler verbs and a ``redirect`` to :func:`resume_url` (``RESUME_PATH``).
2. jambonz posts to that URL (the same call_sid in the payload); the pipeline calls
   :meth:`Continuations.wait`, which gives the verbs once they are ready, or None after the soft
   deadline again (answer filler + redirect again), or raises :class:`ContinuationFailed` (the
   work failed or passed the total limit: answer the fallback) or :class:`ContinuationError`
   (an unknown token, another call's token, or no way to tell: answer the fallback too).

With several workers the resume request may reach another process than the one running the
work, so the outcome travels through the app's :class:`~jambonz_webhooks.state.StateStore`.

Store layout: one field of the call's own hash (so it goes when the call's state is dropped),
``jambonz:continuation:<token>``, whose value is a JSON object::

    {"state": "pending", "expires": <unix time>}                     while the work runs
    {"state": "done", "expires": <unix time>, "verbs": "<JSON text>"}   the verbs, as a string
    {"state": "failed", "expires": <unix time>, "error": "<why>"}       raised, timed out, shut down

``expires`` is the wall-clock time (``time.time()``, shared by every worker and machine with a
synchronized clock) at which the work is cancelled: a worker that finds a pending record past it
gives up even when the owner died without saying so. The field is deleted once its outcome has
been handed out.

"Handed out once" is exact within a process. Across processes it holds for resumes that come one
after another, as jambonz sends them (the record is deleted before the answer goes out); the
StateStore protocol has no atomic read-and-delete, so two resumes racing on two workers could
both read a done record. When the store cannot be written, the owner still answers from its own
task, and keeps the outcome in memory for ``limit`` seconds for that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Literal

from .state import StateStore, StateStoreError

__all__ = [
    "DEFAULT_GRACE",
    "KEY_PREFIX",
    "RESUME_PATH",
    "ContinuationError",
    "ContinuationFailed",
    "Continuations",
    "resume_url",
]

logger = logging.getLogger("jambonz_webhooks")

RESUME_PATH: Final = "/_jambonz/resume/{token}"
"""The route the pipeline serves for resumed hooks; ``{token}`` is what :meth:`Continuations.start` gave."""

KEY_PREFIX: Final = "jambonz:continuation:"
"""A continuation's field in the call's state is this prefix and its token."""

DEFAULT_GRACE = 1.0
"""Seconds a worker keeps looking for a token it cannot find yet (its owner may not have written it)."""

CLOSE_TIMEOUT = 2.0
"""Seconds :meth:`Continuations.aclose` lets cancelled work record its end before cutting it short."""

_TOKEN_BYTES = 32
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, no padding.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class ContinuationError(Exception):
    """The token is unknown, expired or another call's, or its state cannot be read."""


class ContinuationFailed(ContinuationError):
    """The work raised, passed its limit, or was cancelled: answer the fallback."""


def resume_url(prefix: str, token: str) -> str:
    """The path jambonz should post to for ``token``, under the app's mount point ``prefix``.

    jambonz resolves a relative hook against the host only, so a mounted app must write its
    prefix (its ASGI ``root_path``) in front.
    """
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"not a continuation token: {token!r}")
    return prefix.rstrip("/") + RESUME_PATH.format(token=token)


@dataclass(eq=False)
class _Entry:
    """A continuation started in this process."""

    call_sid: str
    token: str
    work: asyncio.Future[bytes]
    deadline: float  # the event loop's clock: when the work is cancelled
    expires: float  # the same moment on the wall clock, for the other workers
    runner: asyncio.Task[None] | None = None
    expired: bool = False  # the runner cancelled the work at the deadline
    claimed: bool = False  # the outcome was handed out by this process
    stored: bool = False  # the outcome is in the store: hand it out from there (once)
    store_error_logged: bool = False
    timer: asyncio.TimerHandle | None = None
    recorded: bool = False  # the pending record was written: its disappearance means the call ended
    ended: bool = False  # the call ended: the work was cancelled, and nobody will ask for it

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.token


@dataclass(frozen=True)
class _Record:
    state: Literal["pending", "done", "failed"]
    expires: float
    verbs: bytes = b""
    error: str = ""


class _InStore:
    """What :meth:`Continuations._wait_local` returns when the store holds the outcome now."""


_IN_STORE: Final = _InStore()


class Continuations:
    """Slow hooks' work running on after jambonz got its filler, and their outcome for any worker.

    Args:
        store: where the outcome travels to other workers (the app's state store).
        poll_interval: seconds between two reads of the store while waiting for another
            worker's continuation.
        limit: seconds the work may run in all; then it is cancelled and fails.
        grace: seconds a worker keeps looking for a token it does not find, since a resume may
            reach it before the owner wrote the pending record.
        check_interval: seconds between two looks at the store by a running work's owner: when
            its pending record is gone (the call ended, and a worker dropped its state), the
            work is cancelled.

    Use it from the event loop that serves the hooks; :meth:`aclose` it at shutdown.

    """

    def __init__(
        self,
        store: StateStore,
        *,
        poll_interval: float = 0.05,
        limit: float = 60.0,
        grace: float = DEFAULT_GRACE,
        check_interval: float = 1.0,
    ) -> None:
        checked = (
            ("poll_interval", poll_interval),
            ("limit", limit),
            ("grace", grace),
            ("check_interval", check_interval),
        )
        for name, value in checked:
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        self.store = store
        self.poll_interval = poll_interval
        self.limit = limit
        self.grace = grace
        self.check_interval = check_interval
        self._entries: dict[str, _Entry] = {}
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks: set[asyncio.Task[None]] = set()
        self._works: set[asyncio.Future[bytes]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"Continuations({self.store!r}, limit={self.limit}, pending={self.pending()})"

    # --- starting -------------------------------------------------------------------------------

    def start(self, call_sid: str, work: Awaitable[bytes]) -> str:
        """Run ``work`` (resolving to the encoded JSON verbs) in the background; return its token.

        The token is fresh and unguessable. The pending record, and later the outcome, are
        written to the store by the background task: this method never waits on the store.
        """
        if self._closed:
            raise RuntimeError("Continuations is closed")
        if not call_sid:
            raise ValueError("a continuation needs the call's call_sid")
        loop = asyncio.get_running_loop()
        future = asyncio.ensure_future(work)
        self._works.add(future)
        future.add_done_callback(self._settled)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        entry = _Entry(call_sid, token, future, loop.time() + self.limit, time.time() + self.limit)
        self._entries[token] = entry
        entry.runner = self._spawn(self._run(entry))
        return token

    def end_call(self, call_sid: str) -> int:
        """The call is over: cancel the work of its continuations running in this process.

        Their records are dropped, not written: nobody will resume them. Returns how many were
        cancelled. (A worker that runs a continuation of a call whose status hook reached
        another worker finds its pending record gone with the call's state, and stops too.)
        """
        ended = 0
        for entry in list(self._entries.values()):
            if entry.call_sid == call_sid and not entry.work.done():
                entry.ended = True
                entry.work.cancel()
                ended += 1
        return ended

    def pending(self) -> int:
        """Continuations whose task (the work, then its store writes) still runs in this process."""
        return sum(1 for entry in self._entries.values() if entry.runner and not entry.runner.done())

    def _settled(self, work: asyncio.Future[bytes]) -> None:
        self._works.discard(work)
        if not work.cancelled():
            work.exception()  # retrieved here too: work that ends after its limit is never read

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, entry: _Entry) -> None:
        """Record the continuation, see its work to the end or the limit, record the outcome."""
        loop = asyncio.get_running_loop()
        try:
            entry.recorded = await self._put(entry, _encode(_Record("pending", entry.expires)))
            while not entry.work.done():
                remaining = entry.deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.wait({entry.work}, timeout=min(remaining, self.check_interval))
                if not entry.work.done() and entry.recorded and await self._record_gone(entry):
                    entry.ended = True
                    entry.work.cancel()
        except asyncio.CancelledError:
            entry.work.cancel()  # shutdown cut the bookkeeping short: the work goes with it
            raise
        if entry.ended:
            if not entry.work.done():
                await asyncio.wait({entry.work}, timeout=CLOSE_TIMEOUT)
            logger.info(
                "call %s ended: its continuation was cancelled",
                entry.call_sid,
                extra={"call_sid": entry.call_sid},
            )
            await self._drop(entry)
            self._forget(entry)
            return
        if not entry.work.done():
            entry.expired = True
            entry.work.cancel()
        try:
            verbs = _outcome(entry)
        except ContinuationFailed as failure:
            _log_failure(entry, failure)
            record = _Record("failed", entry.expires, error=str(failure))
        else:
            record = _Record("done", entry.expires, verbs=verbs)
        stored = False
        if not entry.claimed:
            stored = await self._put(entry, _encode(record))
        if entry.claimed:  # handed out here, maybe while the write above ran: nobody needs it
            await self._drop(entry)
            self._forget(entry)
        elif stored:
            entry.stored = True
            self._forget(entry)
        else:
            # The store did not take it: only this process can hand it out; keep it a while.
            entry.timer = loop.call_later(self.limit, self._forget, entry)

    def _forget(self, entry: _Entry) -> None:
        if self._entries.get(entry.token) is entry:
            del self._entries[entry.token]
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None

    async def _record_gone(self, entry: _Entry) -> bool:
        """Whether the pending record has left the store (the call's state was dropped)."""
        try:
            async with asyncio.timeout(self.check_interval):
                return await self.store.get(entry.call_sid, entry.key) is None
        except Exception:  # a store that fails (or a timeout) says nothing about the call
            return False

    async def _put(self, entry: _Entry, value: bytes) -> bool:
        try:
            await self.store.set(entry.call_sid, {entry.key: value})
        except Exception as exc:  # StateStoreError, or a faulty store: the task must go on
            self._store_failed(entry, "record", exc)
            return False
        return True

    async def _drop(self, entry: _Entry) -> None:
        try:
            await self.store.delete(entry.call_sid, entry.key)
        except Exception as exc:  # as in _put
            self._store_failed(entry, "delete", exc)

    def _store_failed(self, entry: _Entry, what: str, exc: Exception) -> None:
        # Once per continuation: a dead store would otherwise log every write of every call.
        if entry.store_error_logged:
            return
        entry.store_error_logged = True
        logger.warning(
            "could not %s call %s's continuation in the state store (other workers cannot see it): %s",
            what,
            entry.call_sid,
            exc,
            extra={"call_sid": entry.call_sid},
        )

    # --- waiting --------------------------------------------------------------------------------

    async def wait(self, call_sid: str, token: str, timeout: float) -> bytes | None:
        """The continuation's verbs if they are ready within ``timeout`` seconds, else None.

        From this process's own task when it started the continuation, else from the store,
        read every ``poll_interval``. An outcome is handed out once: then its token is unknown.

        Raises:
            ContinuationFailed: the work raised, passed its limit, or was cancelled.
            ContinuationError: the token is malformed, unknown (not found within the grace
                period), already handed out, or another call's; or the store failed on every
                read of this wait before the continuation was seen (the caller cannot tell
                whether it will ever be ready, so it answers the fallback rather than loop).
                A store failure after the continuation was seen pending gives None: the next
                wait will tell.

        """
        if not _TOKEN.fullmatch(token):
            raise ContinuationError(f"not a continuation token: {token!r}")
        if math.isnan(timeout):
            raise ValueError("timeout must be a number of seconds")
        timeout = max(timeout, 0.0)
        entry = self._entries.get(token)
        if entry is not None:
            if entry.call_sid != call_sid:
                raise ContinuationError(
                    f"continuation {token[:8]}... belongs to another call, not {call_sid}"
                )
            local = await self._wait_local(entry, timeout)
            if not isinstance(local, _InStore):
                return local
            # The runner stored the outcome while this wait slept: take it from there, once.
            return await self._wait_store(call_sid, token, 0.0, known=True)
        return await self._wait_store(call_sid, token, timeout)

    async def _wait_local(self, entry: _Entry, timeout: float) -> bytes | _InStore | None:
        if not entry.work.done() and not entry.expired and timeout > 0:
            await asyncio.wait({entry.work}, timeout=timeout)  # never cancels the work
        # No await from here on: the runner cannot change the entry between these checks.
        if entry.claimed:
            raise ContinuationError(f"call {entry.call_sid}'s continuation was handed out already")
        if entry.stored:
            return _IN_STORE
        if not entry.work.done() and not entry.expired:
            return None
        entry.claimed = True
        if entry.runner is None or entry.runner.done():
            # The runner kept it here because the store failed; clean up the pending record.
            self._forget(entry)
            self._spawn(self._drop(entry))
        return _outcome(entry)

    async def _wait_store(
        self, call_sid: str, token: str, timeout: float, *, known: bool = False
    ) -> bytes | None:
        loop = asyncio.get_running_loop()
        key = KEY_PREFIX + token
        started = loop.time()
        end = started + timeout
        seen = known
        failure: StateStoreError | None = None
        while True:
            try:
                raw = await self._read(call_sid, key, end + self.poll_interval - loop.time())
            except StateStoreError as exc:
                failure = exc
            else:
                failure = None
                if raw is None:
                    if seen:
                        raise ContinuationError(f"call {call_sid}'s continuation was handed out or dropped")
                    if loop.time() - started >= self.grace:
                        raise ContinuationError(f"no continuation {token[:8]}... for call {call_sid}")
                else:
                    seen = True
                    record = _decode(raw, call_sid)
                    if record.state in ("done", "failed"):
                        # Taken, not just read: of two workers resuming the same token at once,
                        # one gets the record and the other hears it was handed out.
                        taken = await self._take(call_sid, key, raw)
                        if taken is None:
                            raise ContinuationError(f"call {call_sid}'s continuation was handed out already")
                        record = _decode(taken, call_sid)
                        if record.state == "failed":
                            raise ContinuationFailed(record.error)
                        return record.verbs
                    if time.time() >= record.expires:
                        # Its owner cancels it at this moment, or died: either way it is over.
                        raise ContinuationFailed(f"call {call_sid}'s continuation passed its limit")
            now = loop.time()
            # A token never seen is looked for through the whole grace period, however short
            # the wait: else every resume of an unknown token would be answered "not yet".
            if now >= end and (seen or failure is not None or now - started >= self.grace):
                break
            await asyncio.sleep(min(self.poll_interval, max(end, started + self.grace) - now))
        if failure is not None and not seen:
            raise ContinuationError(
                f"call {call_sid}'s continuation cannot be read from the state store: {failure}"
            ) from failure
        return None

    async def _read(self, call_sid: str, key: str, budget: float) -> bytes | None:
        # The store's own timeout may be longer than the wait: a hung store must not stretch it.
        try:
            async with asyncio.timeout(max(budget, self.poll_interval)):
                return await self.store.get(call_sid, key)
        except TimeoutError as exc:
            raise StateStoreError("the state store did not answer within the wait") from exc

    async def _take(self, call_sid: str, key: str, read: bytes) -> bytes | None:
        """Take a finished record out of the store, before answering with it.

        With the store's atomic ``take`` (both stores here): the record, or None when another
        worker took it first. A store without one gets a delete after the read (two workers
        could then both hand it out). If the store fails, the record read is handed out: the
        answer matters more than the record, which goes with the call's state.
        """
        take = getattr(self.store, "take", None)
        try:
            if take is not None:
                taken: bytes | None = await take(call_sid, key)
                return taken
            await self.store.delete(call_sid, key)
        except StateStoreError as exc:
            logger.warning(
                "could not take call %s's continuation out of the state store: %s",
                call_sid,
                exc,
                extra={"call_sid": call_sid},
            )
        return read

    # --- shutdown -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel the running work, let it record that it failed (bounded), and stop every task."""
        self._closed = True
        for work in list(self._works):
            work.cancel()
        waiting: set[asyncio.Future[Any]] = {*self._tasks, *self._works}
        if waiting:
            await asyncio.wait(waiting, timeout=CLOSE_TIMEOUT)
        late = list(self._tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for entry in list(self._entries.values()):
            self._forget(entry)
        if self._works:
            # Work that swallows cancellation: nothing more can be done but say so.
            logger.warning("%d continuation(s) ignored cancellation at shutdown", len(self._works))


def _outcome(entry: _Entry) -> bytes:
    """The work's verbs; ContinuationFailed when it has none. Call it once the work is over."""
    if entry.expired:
        raise ContinuationFailed(f"call {entry.call_sid}'s continuation passed its limit and was cancelled")
    if entry.work.cancelled():
        raise ContinuationFailed(f"call {entry.call_sid}'s continuation was cancelled")
    exc = entry.work.exception()
    if exc is not None:
        raise ContinuationFailed(
            f"call {entry.call_sid}'s continuation raised {type(exc).__name__}: {exc}"
        ) from exc
    verbs = entry.work.result()
    if not isinstance(verbs, bytes):
        raise ContinuationFailed(
            f"call {entry.call_sid}'s continuation gave {type(verbs).__name__}, not the encoded verbs"
        )
    try:
        verbs.decode()  # stored as a JSON string: it has to be text
    except UnicodeDecodeError as exc:
        raise ContinuationFailed(
            f"call {entry.call_sid}'s continuation gave bytes that are not UTF-8"
        ) from exc
    return verbs


def _log_failure(entry: _Entry, failure: ContinuationFailed) -> None:
    extra = {"call_sid": entry.call_sid}
    cause = failure.__cause__
    if entry.expired:
        logger.warning("%s", failure, extra=extra)
    elif cause is not None:
        logger.error("%s", failure, exc_info=cause, extra=extra)
    elif entry.work.cancelled():
        logger.info("%s", failure, extra=extra)
    else:
        logger.error("%s", failure, extra=extra)


def _encode(record: _Record) -> bytes:
    data: dict[str, Any] = {"state": record.state, "expires": record.expires}
    if record.state == "done":
        data["verbs"] = record.verbs.decode()
    elif record.state == "failed":
        data["error"] = record.error
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(raw: bytes, call_sid: str) -> _Record:
    try:
        data = json.loads(raw)
        state = data["state"]
        expires = float(data["expires"])
        if state == "done" and isinstance(data["verbs"], str):
            return _Record("done", expires, verbs=data["verbs"].encode())
        if state == "failed" and isinstance(data["error"], str):
            return _Record("failed", expires, error=data["error"])
        if state == "pending":
            return _Record("pending", expires)
    except (ValueError, TypeError, KeyError):
        pass
    raise ContinuationError(
        f"call {call_sid}'s continuation record is not one this module wrote: {raw[:80]!r}"
    )
