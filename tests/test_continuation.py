"""Background continuation of slow hooks (jambonz_webhooks.continuation).

Every behaviour that a store carries runs on a MemoryStore and on a RedisStore on a real
redis-server (tests/redis_server.py), through the same code; a machine without redis-server
fails those tests, it never skips them. "owner" is the Continuations that started the work and
answers from its own task; "other" is a second one sharing the store, as another uvicorn worker
would (for Redis, with its own RedisStore client, as another process has). Two tests put the
owner in a separate process for real.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import compile_path

from jambonz_webhooks.continuation import (
    KEY_PREFIX,
    RESUME_PATH,
    ContinuationError,
    ContinuationFailed,
    Continuations,
)
from jambonz_webhooks.continuation import resume_url as make_resume_url
from jambonz_webhooks.state import MemoryStore, RedisStore, StateStore
from tests.conftest import REPO_ROOT, _inherited_env
from tests.redis_server import RedisServer

LOGGER = "jambonz_webhooks"
POLL = 0.05  # the poll interval of every Continuations here (the module's default)
MARGIN = 0.15  # scheduling slack on a busy machine, on top of what a timing claims
GRACE = 0.3  # the grace period here: short, so unknown tokens fail fast
STORE_TIMEOUT = 1.0  # the RedisStores' operation timeout

SIDES = ["owner", "other"]


def new_sid() -> str:
    return str(uuid.uuid4())


def verbs(text: str) -> bytes:
    """Encoded verbs, as the pipeline's work resolves to (non-ASCII kept raw, as jambonz sends)."""
    return json.dumps([{"verb": "say", "text": text}], separators=(",", ":"), ensure_ascii=False).encode()


# --- fixtures: the store, two workers on it -------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


StoreFactory = Callable[[], StateStore]


@pytest.fixture
def make_store(store_kind: str, request: pytest.FixtureRequest) -> StoreFactory:
    """A MemoryStore shared by both workers (one object), or a new client of the session's Redis."""
    if store_kind == "redis":
        url: str = request.getfixturevalue("redis_url")
        return lambda: RedisStore(url, timeout=STORE_TIMEOUT)
    shared = MemoryStore()
    return lambda: shared


@dataclass
class Workers:
    owner: Continuations
    other: Continuations

    def side(self, name: str) -> Continuations:
        return self.owner if name == "owner" else self.other


async def close(*continuations: Continuations) -> None:
    for each in continuations:
        await each.aclose()
        await each.store.aclose()


@pytest.fixture
async def workers(make_store: StoreFactory) -> AsyncIterator[Workers]:
    pair = Workers(
        Continuations(make_store(), poll_interval=POLL, grace=GRACE),
        Continuations(make_store(), poll_interval=POLL, grace=GRACE),
    )
    yield pair
    await close(pair.owner, pair.other)


async def settled(continuations: Continuations, timeout: float = 5.0) -> None:
    """Wait until no task of ``continuations`` runs: its outcome is in the store (or kept)."""
    deadline = time.monotonic() + timeout
    while continuations.pending():
        assert time.monotonic() < deadline, f"{continuations.pending()} continuation(s) still running"
        await asyncio.sleep(0.01)


class Gate:
    """Work that finishes (or raises) when the test opens the gate, and says if it was cancelled."""

    def __init__(self, result: bytes | BaseException = b"") -> None:
        self.result = result
        self.opened = asyncio.Event()
        self.cancelled = False
        self.finished = False

    async def work(self) -> bytes:
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def open_later(self, delay: float) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, self.opened.set)


async def timed(operation: Awaitable[bytes | None]) -> tuple[bytes | None, float]:
    started = time.monotonic()
    result = await operation
    return result, time.monotonic() - started


async def raises_timed(
    operation: Awaitable[object], expected: type[BaseException]
) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(expected) as caught:
        await operation
    return caught.value, time.monotonic() - started


def records(caplog: pytest.LogCaptureFixture, call_sid: str, level: int) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == LOGGER and record.levelno == level and getattr(record, "call_sid", None) == call_sid
    ]


# --- the resume URL ----------------------------------------------------------------------------


def test_resume_url_is_the_route_under_the_apps_prefix() -> None:
    token = "A" * 43
    assert make_resume_url("", token) == f"/_jambonz/resume/{token}"
    assert make_resume_url("/voice", token) == f"/voice/_jambonz/resume/{token}"
    assert make_resume_url("/voice/", token) == f"/voice/_jambonz/resume/{token}"
    # The pipeline routes RESUME_PATH with Starlette: one path parameter, named token.
    regex, _, params = compile_path(RESUME_PATH)
    assert set(params) == {"token"}
    match = regex.match(make_resume_url("", token))
    assert match is not None and match["token"] == token
    with pytest.raises(ValueError):
        make_resume_url("", "../../etc")


async def test_start_gives_fresh_unguessable_tokens_that_resume_url_takes() -> None:
    continuations = Continuations(MemoryStore())
    try:
        tokens = {continuations.start("CA1", asyncio.sleep(0, b"[]")) for _ in range(50)}
        assert len(tokens) == 50
        for token in tokens:
            assert len(token) == 43  # secrets.token_urlsafe(32): 256 random bits
            assert make_resume_url("/x", token).endswith(token)
    finally:
        await continuations.aclose()


def test_arguments_are_checked() -> None:
    for bad in ({"poll_interval": 0.0}, {"limit": -1.0}, {"limit": float("inf")}, {"grace": float("nan")}):
        with pytest.raises(ValueError):
            Continuations(MemoryStore(), **bad)


async def test_start_needs_a_call_sid() -> None:
    continuations = Continuations(MemoryStore())
    work = asyncio.sleep(0, b"[]")
    with pytest.raises(ValueError):
        continuations.start("", work)
    work.close()  # never started: close it rather than leave it unawaited
    await continuations.aclose()


# --- ready before, during, not at all ----------------------------------------------------------


@pytest.mark.parametrize("side", SIDES)
async def test_result_ready_before_the_wait_is_returned_at_once(workers: Workers, side: str) -> None:
    sid, answer = new_sid(), verbs("ready \u260e")
    token = workers.owner.start(sid, asyncio.sleep(0, answer))
    await settled(workers.owner)
    result, elapsed = await timed(workers.side(side).wait(sid, token, timeout=5.0))
    assert result == answer
    assert elapsed < MARGIN, f"{elapsed:.3f} s for a result that was ready"


@pytest.mark.parametrize("side", SIDES)
async def test_result_ready_during_the_wait_is_returned_promptly(workers: Workers, side: str) -> None:
    sid, answer, gate = new_sid(), verbs("slow LLM"), Gate()
    gate.result = answer
    token = workers.owner.start(sid, gate.work())
    waiting = asyncio.create_task(workers.side(side).wait(sid, token, timeout=5.0))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    opened = time.monotonic()
    gate.opened.set()
    result = await waiting
    late = time.monotonic() - opened
    assert result == answer
    # The owner wakes with its task; the other reads the store every POLL.
    budget = MARGIN if side == "owner" else POLL + MARGIN
    assert late < budget, f"returned {late:.3f} s after the work finished ({side})"


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
async def test_not_ready_gives_none_after_the_timeout_and_the_token_stays_good(
    workers: Workers, side: str
) -> None:
    sid, gate = new_sid(), Gate(verbs("eventually"))
    token = workers.owner.start(sid, gate.work())
    waiter = workers.side(side)
    result, elapsed = await timed(waiter.wait(sid, token, timeout=0.4))
    assert result is None
    assert 0.4 <= elapsed < 0.4 + POLL + MARGIN, f"{elapsed:.3f} s for a 0.4 s timeout"
    # The caller answers filler + redirect and asks again: the work kept running meanwhile.
    result, elapsed = await timed(waiter.wait(sid, token, timeout=0.0))
    assert result is None and elapsed < MARGIN
    assert not gate.cancelled and workers.owner.pending() == 1
    gate.opened.set()
    assert await waiter.wait(sid, token, timeout=5.0) == verbs("eventually")


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
async def test_the_result_is_handed_out_once_and_dropped_from_the_store(workers: Workers, side: str) -> None:
    sid = new_sid()
    token = workers.owner.start(sid, asyncio.sleep(0.05, verbs("once")))
    assert await workers.side(side).wait(sid, token, timeout=5.0) == verbs("once")
    await settled(workers.owner)
    assert await workers.owner.store.get(sid, KEY_PREFIX + token) is None
    for again in (workers.owner, workers.other):
        await raises_timed(again.wait(sid, token, timeout=1.0), ContinuationError)
    # The call's other state is not touched.
    assert await workers.owner.store.get_all(sid) == {}


async def test_two_waits_on_the_owner_at_once_hand_the_result_to_one(workers: Workers) -> None:
    sid, gate = new_sid(), Gate(verbs("one of you"))
    token = workers.owner.start(sid, gate.work())
    first = asyncio.create_task(workers.owner.wait(sid, token, timeout=5.0))
    second = asyncio.create_task(workers.owner.wait(sid, token, timeout=5.0))
    await asyncio.sleep(0.05)
    gate.opened.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert sorted(map(type, outcomes), key=str) == sorted([bytes, ContinuationError], key=str)
    assert verbs("one of you") in outcomes


async def test_workers_resuming_the_same_finished_token_at_once_hand_it_out_once(
    make_store: StoreFactory,
) -> None:
    # The owner is done and has stored the outcome; then several other workers (each its own
    # store client, as separate processes would be) resume the same token at the same moment.
    owner = Continuations(make_store(), poll_interval=POLL, grace=GRACE)
    others = [Continuations(make_store(), poll_interval=POLL, grace=GRACE) for _ in range(6)]
    try:
        sid = new_sid()
        token = owner.start(sid, asyncio.sleep(0, verbs("exactly once")))
        await settled(owner)
        outcomes = await asyncio.gather(
            *(other.wait(sid, token, timeout=1.0) for other in others), return_exceptions=True
        )
        assert outcomes.count(verbs("exactly once")) == 1, outcomes
        refused = [outcome for outcome in outcomes if outcome != verbs("exactly once")]
        assert all(isinstance(outcome, ContinuationError) for outcome in refused), refused
        assert await owner.store.get(sid, KEY_PREFIX + token) is None
    finally:
        await close(owner, *others)


async def test_the_stores_take_a_value_once(make_store: StoreFactory) -> None:
    store = make_store()
    try:
        sid = new_sid()
        await store.set(sid, {"a": b"1", "b": b"2"})
        takes = await asyncio.gather(*(store.take(sid, "a") for _ in range(5)))  # type: ignore[attr-defined]
        assert sorted(takes, key=repr) == sorted([b"1", None, None, None, None], key=repr)
        assert await store.get_all(sid) == {"b": b"2"}
        assert await store.take(sid, "missing") is None  # type: ignore[attr-defined]
        assert await store.take(new_sid(), "a") is None  # type: ignore[attr-defined]
    finally:
        await store.aclose()


@pytest.mark.slow
async def test_the_call_ending_on_the_owner_cancels_its_work_and_drops_its_record(
    workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    sid, other_sid = new_sid(), new_sid()
    gate, other_gate = Gate(verbs("never")), Gate(verbs("the other call's"))
    token = workers.owner.start(sid, gate.work())
    other_token = workers.owner.start(other_sid, other_gate.work())
    await asyncio.sleep(0.05)  # the pending records are written
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert workers.owner.end_call(sid) == 1
        await asyncio.sleep(0.1)
    assert gate.cancelled and not other_gate.cancelled
    assert await workers.owner.store.get(sid, KEY_PREFIX + token) is None  # dropped, not "failed"
    assert [r.getMessage() for r in records(caplog, sid, logging.INFO)] == [
        f"call {sid} ended: its continuation was cancelled"
    ]
    assert not records(caplog, sid, logging.ERROR)
    await raises_timed(workers.other.wait(sid, token, timeout=0.2), ContinuationError)
    other_gate.opened.set()  # the other call's work goes on and is handed out
    assert await workers.other.wait(other_sid, other_token, timeout=5.0) == verbs("the other call's")


async def test_a_worker_stops_a_continuation_whose_call_state_another_worker_dropped(
    make_store: StoreFactory,
) -> None:
    # The status hook of the call reached another worker, which dropped the call's state: the
    # owner sees its pending record gone at its next look, and cancels the work.
    owner = Continuations(make_store(), poll_interval=POLL, grace=GRACE, check_interval=0.05)
    elsewhere = make_store()
    try:
        sid, gate = new_sid(), Gate(verbs("too late"))
        token = owner.start(sid, gate.work())
        await asyncio.sleep(0.1)
        assert await elsewhere.get(sid, KEY_PREFIX + token) is not None  # pending
        await elsewhere.drop(sid)
        await settled(owner, timeout=2.0)
        assert gate.cancelled
        assert await elsewhere.get_all(sid) == {}  # nothing written back after the call ended
    finally:
        await close(owner)
        await elsewhere.aclose()


# --- the store: what it holds, and a resume that comes first -----------------------------------


async def test_start_writes_nothing_itself_and_the_task_records_a_pending_marker(
    workers: Workers,
) -> None:
    sid, gate = new_sid(), Gate(verbs("x"))
    store = workers.owner.store
    before = time.time()
    token = workers.owner.start(sid, gate.work())
    key = KEY_PREFIX + token
    if isinstance(store, MemoryStore):  # no await since start(): nothing written yet
        assert await store.get(sid, key) is None
    deadline = time.monotonic() + 2.0
    while (raw := await store.get(sid, key)) is None:
        assert time.monotonic() < deadline, "no pending marker"
        await asyncio.sleep(0.01)
    record = json.loads(raw)
    assert record["state"] == "pending"
    assert before + workers.owner.limit <= record["expires"] <= time.time() + workers.owner.limit
    gate.opened.set()
    await settled(workers.owner)
    # Done: the verbs are kept as a JSON string, byte for byte.
    done = json.loads((await store.get(sid, key)) or b"null")
    assert done["state"] == "done" and done["verbs"].encode() == verbs("x")


class SlowWrites:
    """A store whose writes take ``delay`` seconds (or forever): a busy or dying Redis."""

    def __init__(self, inner: StateStore, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def get(self, call_sid: str, key: str) -> bytes | None:
        return await self.inner.get(call_sid, key)

    async def get_all(self, call_sid: str) -> dict[str, bytes]:
        return await self.inner.get_all(call_sid)

    async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        await asyncio.sleep(self.delay)
        await self.inner.set(call_sid, values)

    async def delete(self, call_sid: str, *keys: str) -> None:
        await self.inner.delete(call_sid, *keys)

    async def drop(self, call_sid: str) -> None:
        await self.inner.drop(call_sid)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.slow
async def test_a_resume_before_the_pending_marker_is_written_waits_for_it(make_store: StoreFactory) -> None:
    # The owner's marker takes 0.2 s to land (less than the grace): the other worker must not
    # call the token unknown meanwhile.
    owner = Continuations(SlowWrites(make_store(), 0.2), poll_interval=POLL, grace=GRACE)
    other = Continuations(make_store(), poll_interval=POLL, grace=GRACE)
    try:
        sid, gate = new_sid(), Gate(verbs("late marker"))
        token = owner.start(sid, gate.work())
        assert await other.wait(sid, token, timeout=0.5) is None  # pending, seen after 0.2 s
        gate.opened.set()
        assert await other.wait(sid, token, timeout=5.0) == verbs("late marker")
    finally:
        await close(owner, other)


@pytest.mark.slow
async def test_start_does_not_wait_on_a_hung_store_and_the_owner_still_answers(
    make_store: StoreFactory,
) -> None:
    owner = Continuations(SlowWrites(make_store(), 3600.0), poll_interval=POLL, grace=GRACE)
    try:
        sid = new_sid()
        started = time.monotonic()
        token = owner.start(sid, asyncio.sleep(0.05, verbs("local")))
        assert time.monotonic() - started < 0.01
        result, elapsed = await timed(owner.wait(sid, token, timeout=2.0))
        assert result == verbs("local") and elapsed < 0.05 + MARGIN
    finally:
        started = time.monotonic()
        await close(owner)
        assert time.monotonic() - started < 3.0  # aclose is bounded even with the store hung
        assert owner.pending() == 0


# --- wrong call, unknown token -----------------------------------------------------------------


@pytest.mark.parametrize("side", SIDES)
async def test_another_calls_token_is_refused(workers: Workers, side: str) -> None:
    sid, gate = new_sid(), Gate(verbs("mine"))
    token = workers.owner.start(sid, gate.work())
    error, elapsed = await raises_timed(
        workers.side(side).wait(new_sid(), token, timeout=2.0), ContinuationError
    )
    assert not isinstance(error, ContinuationFailed)
    # The owner knows at once; the other looks in the other call's state for the grace period.
    assert elapsed < (MARGIN if side == "owner" else GRACE + POLL + MARGIN)
    # The refusal did not spend the result: its own call still gets it.
    gate.opened.set()
    assert await workers.side(side).wait(sid, token, timeout=5.0) == verbs("mine")


@pytest.mark.slow
async def test_an_unknown_token_is_refused_after_the_grace_period(workers: Workers) -> None:
    sid = new_sid()
    error, elapsed = await raises_timed(workers.other.wait(sid, "B" * 43, timeout=5.0), ContinuationError)
    assert not isinstance(error, ContinuationFailed)
    assert GRACE <= elapsed < GRACE + POLL + MARGIN
    # A malformed one (the URL path is the attacker's) without a store round trip.
    _, elapsed = await raises_timed(workers.other.wait(sid, "../x", timeout=5.0), ContinuationError)
    assert elapsed < 0.01
    # A wait shorter than the grace still looks through the whole grace: else every resume of
    # an unknown token (each a short wait) would be answered "not yet", for ever.
    error, elapsed = await raises_timed(workers.other.wait(sid, "C" * 43, timeout=0.0), ContinuationError)
    assert GRACE <= elapsed < GRACE + POLL + MARGIN


async def test_a_record_this_module_did_not_write_is_an_error(workers: Workers) -> None:
    sid, token = new_sid(), "D" * 43
    await workers.other.store.set(sid, {KEY_PREFIX + token: b'{"state":"odd"}'})
    with pytest.raises(ContinuationError, match="not one this module wrote"):
        await workers.other.wait(sid, token, timeout=1.0)


# --- failures: raising, over the limit, shut down ----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
async def test_work_that_raises_fails_and_is_logged_with_the_call(
    workers: Workers, side: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    sid, boom = new_sid(), RuntimeError("the LLM is down")
    gate = Gate(boom)
    token = workers.owner.start(sid, gate.work())
    waiting = asyncio.create_task(workers.side(side).wait(sid, token, timeout=5.0))
    await asyncio.sleep(0.05)
    gate.opened.set()
    error, elapsed = await raises_timed(waiting, ContinuationFailed)
    assert elapsed < POLL + MARGIN
    assert "RuntimeError: the LLM is down" in str(error)
    await settled(workers.owner)
    logged = records(caplog, sid, logging.ERROR)
    assert len(logged) == 1, caplog.text
    assert sid in logged[0].getMessage()
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is boom
    # Handed out once, like a result.
    await raises_timed(workers.side(side).wait(sid, token, timeout=1.0), ContinuationError)
    assert await workers.owner.store.get(sid, KEY_PREFIX + token) is None


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
async def test_work_past_the_limit_is_cancelled_and_fails(
    make_store: StoreFactory, side: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    limit = 0.5
    owner = Continuations(make_store(), poll_interval=POLL, limit=limit, grace=GRACE)
    other = Continuations(make_store(), poll_interval=POLL, limit=limit, grace=GRACE)
    try:
        sid, gate = new_sid(), Gate(verbs("too late"))
        token = owner.start(sid, gate.work())
        waiter = owner if side == "owner" else other
        assert await waiter.wait(sid, token, timeout=0.1) is None
        # A wait that spans the limit ends at the limit, not at its own timeout.
        error, elapsed = await raises_timed(waiter.wait(sid, token, timeout=5.0), ContinuationFailed)
        assert elapsed < limit + POLL + MARGIN
        assert "limit" in str(error)
        await settled(owner)
        assert gate.cancelled and not gate.finished
        assert owner.pending() == 0
        assert [r.getMessage() for r in records(caplog, sid, logging.WARNING)] == [
            f"call {sid}'s continuation passed its limit and was cancelled"
        ]
    finally:
        await close(owner, other)


async def test_a_pending_record_past_its_expiry_fails_even_if_its_owner_never_says(
    workers: Workers,
) -> None:
    # What a worker that died mid-work leaves behind (the two-process test kills one for real).
    sid, token = new_sid(), "E" * 43
    record = json.dumps({"state": "pending", "expires": time.time() - 1}).encode()
    await workers.other.store.set(sid, {KEY_PREFIX + token: record})
    error, elapsed = await raises_timed(workers.other.wait(sid, token, timeout=5.0), ContinuationFailed)
    assert "limit" in str(error) and elapsed < MARGIN


async def test_work_that_gives_no_bytes_fails(workers: Workers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)

    async def wrong() -> bytes:
        return "a str"  # type: ignore[return-value]  # the mistake under test

    sid = new_sid()
    token = workers.owner.start(sid, wrong())
    with pytest.raises(ContinuationFailed, match="gave str"):
        await workers.other.wait(sid, token, timeout=5.0)
    assert len(records(caplog, sid, logging.ERROR)) == 1


async def test_aclose_cancels_running_work_and_other_workers_hear_of_it(workers: Workers) -> None:
    sid, gate = new_sid(), Gate(verbs("never"))
    token = workers.owner.start(sid, gate.work())
    assert await workers.other.wait(sid, token, timeout=0.1) is None
    assert workers.owner.pending() == 1
    await workers.owner.aclose()
    assert gate.cancelled and workers.owner.pending() == 0
    # The owner recorded the failure before it went: the other answers the fallback at once
    # rather than filler until the limit.
    error, elapsed = await raises_timed(workers.other.wait(sid, token, timeout=5.0), ContinuationFailed)
    assert "cancelled" in str(error) and elapsed < MARGIN
    work = asyncio.sleep(0, b"[]")
    with pytest.raises(RuntimeError, match="closed"):
        workers.owner.start(sid, work)
    work.close()


def test_no_task_is_left_behind_or_destroyed_pending(caplog: pytest.LogCaptureFixture) -> None:
    # A loop of its own, so that the tasks this test leaves (if any) are seen, not cleaned up by
    # the test runner. The work awaits a future nobody else holds: only the Continuations keeps
    # its task alive through a garbage collection.
    caplog.set_level(logging.ERROR, logger="asyncio")

    async def scenario() -> set[asyncio.Task[Any]]:
        continuations = Continuations(MemoryStore(), poll_interval=POLL, grace=GRACE)
        cancelled: list[str] = []

        async def orphan() -> bytes:
            nobody_else: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            try:
                return await nobody_else
            except asyncio.CancelledError:
                cancelled.append("orphan")
                raise

        sid = new_sid()
        tokens = [continuations.start(sid, orphan()) for _ in range(3)]
        done = continuations.start(sid, asyncio.sleep(0, verbs("done")))
        # Gives an exception object, not bytes: a failure the runner must read and log.
        failing = continuations.start(sid, asyncio.sleep(0, ValueError("x")))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        gc.collect()
        assert continuations.pending() == 3
        assert await continuations.wait(sid, tokens[0], timeout=0.05) is None
        assert await continuations.wait(sid, done, timeout=1.0) == verbs("done")
        with pytest.raises(ContinuationFailed):
            await continuations.wait(sid, failing, timeout=1.0)
        await continuations.aclose()
        assert cancelled == ["orphan"] * 3 and continuations.pending() == 0
        return asyncio.all_tasks() - {asyncio.current_task()}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        left = asyncio.run(scenario())
        gc.collect()
    assert left == set()
    assert [str(w.message) for w in caught] == []
    assert "Task was destroyed" not in caplog.text and "never retrieved" not in caplog.text


# --- Redis going away ----------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop mid-wait without disturbing the others."""
    with RedisServer(tmp_path) as server:
        yield server


@pytest.mark.slow
async def test_redis_stopped_mid_wait(private_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    owner = Continuations(RedisStore(private_redis.url, timeout=0.3), poll_interval=POLL, grace=GRACE)
    other = Continuations(RedisStore(private_redis.url, timeout=0.3), poll_interval=POLL, grace=GRACE)
    try:
        sid, gate = new_sid(), Gate(verbs("survived"))
        token = owner.start(sid, gate.work())
        waiting = asyncio.create_task(other.wait(sid, token, timeout=1.0))
        await asyncio.sleep(0.2)  # the other worker has seen the pending marker
        private_redis.stop()
        # Seen pending, then unreadable: "not ready" (filler + redirect), in the wait's time.
        started = time.monotonic()
        assert await waiting is None
        assert time.monotonic() - started < 1.0 + POLL + MARGIN
        # Asked again with Redis still down: it cannot tell, so the caller answers the fallback.
        error, elapsed = await raises_timed(other.wait(sid, token, timeout=0.5), ContinuationError)
        assert not isinstance(error, ContinuationFailed)
        assert "state store" in str(error) and private_redis.url in str(error)
        assert elapsed < 0.5 + POLL + MARGIN
        # The owner needs no store: it answers from its own task.
        gate.opened.set()
        assert await owner.wait(sid, token, timeout=2.0) == verbs("survived")
        await settled(owner)
        # Its task could not record the outcome nor clean up: one warning for the continuation.
        warned = records(caplog, sid, logging.WARNING)
        assert len(warned) == 1, caplog.text
        assert sid in warned[0].getMessage() and "state store" in warned[0].getMessage()
        # Back up: a new continuation works end to end across the workers.
        private_redis.start()
        sid2 = new_sid()
        token2 = owner.start(sid2, asyncio.sleep(0.1, verbs("again")))
        assert await other.wait(sid2, token2, timeout=3.0) == verbs("again")
    finally:
        await close(owner, other)


@pytest.mark.slow
async def test_a_hung_redis_cannot_stretch_a_wait(private_redis: RedisServer) -> None:
    # SIGSTOP: connections are accepted (by the kernel) and never answered; the store's own
    # timeout (2 x 1 s) is longer than the wait.
    owner = Continuations(RedisStore(private_redis.url, timeout=1.0), poll_interval=POLL, grace=GRACE)
    other = Continuations(RedisStore(private_redis.url, timeout=1.0), poll_interval=POLL, grace=GRACE)
    process = private_redis.process
    assert process is not None
    try:
        sid, gate = new_sid(), Gate(verbs("x"))
        token = owner.start(sid, gate.work())
        assert await other.wait(sid, token, timeout=0.1) is None
        process.send_signal(signal.SIGSTOP)
        try:
            _, elapsed = await raises_timed(other.wait(sid, token, timeout=0.3), ContinuationError)
            assert elapsed < 0.3 + POLL + MARGIN, f"{elapsed:.3f} s"
        finally:
            process.send_signal(signal.SIGCONT)
        gate.opened.set()
        assert await other.wait(sid, token, timeout=3.0) == verbs("x")
    finally:
        await close(owner, other)


# --- two processes ------------------------------------------------------------------------------

# The owner worker: starts a continuation whose work sleeps, prints the token once the pending
# marker is in Redis, and stays until its task is over.
OWNER_SCRIPT = """
import asyncio, os, sys
from jambonz_webhooks.continuation import KEY_PREFIX, Continuations
from jambonz_webhooks.state import RedisStore

async def main(url, call_sid, delay, limit, text):
    store = RedisStore(url)
    continuations = Continuations(store, limit=limit)

    async def work():
        await asyncio.sleep(delay)
        return text.encode()

    token = continuations.start(call_sid, work())
    while await store.get(call_sid, KEY_PREFIX + token) is None:
        await asyncio.sleep(0.01)
    print(os.getpid(), token, flush=True)
    while continuations.pending():
        await asyncio.sleep(0.01)
    await continuations.aclose()
    await store.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]))
"""


@dataclass
class OwnerProcess:
    process: subprocess.Popen[str]
    pid: int
    token: str


async def owner_process(redis_url: str, call_sid: str, delay: float, limit: float, text: str) -> OwnerProcess:
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, redis_url, call_sid, str(delay), str(limit), text],
        cwd=REPO_ROOT,
        env=_inherited_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20.0)
    if not line:
        process.wait(5)
        pytest.fail(f"the owner process gave no token:\n{process.stderr.read() if process.stderr else ''}")
    pid, token = line.split()
    return OwnerProcess(process, int(pid), token)


def finish(owner: OwnerProcess) -> tuple[int, str]:
    try:
        _, stderr = owner.process.communicate(timeout=10)
    finally:
        if owner.process.poll() is None:
            owner.process.kill()
            owner.process.wait(5)
    return owner.process.returncode, stderr


@pytest.mark.slow
async def test_started_in_one_process_handed_out_in_another(redis_url: str) -> None:
    sid, answer = new_sid(), json.dumps([{"verb": "say", "text": "from another process \u260e"}])
    waiter = Continuations(RedisStore(redis_url), poll_interval=POLL)
    try:
        owner = await owner_process(redis_url, sid, 0.5, 30.0, answer)
        assert owner.pid != __import__("os").getpid()
        result = await waiter.wait(sid, owner.token, timeout=0.1)
        assert result is None  # still sleeping over there
        result = await waiter.wait(sid, owner.token, timeout=5.0)
        assert result == answer.encode()
        returncode, stderr = finish(owner)
        assert returncode == 0, stderr
        # Handed out once: gone from Redis, and a second resume is refused.
        assert await waiter.store.get(sid, KEY_PREFIX + owner.token) is None
        with pytest.raises(ContinuationError):
            await waiter.wait(sid, owner.token, timeout=2.0)
    finally:
        await close(waiter)


@pytest.mark.slow
async def test_an_owner_process_killed_mid_work_fails_at_the_limit_elsewhere(redis_url: str) -> None:
    sid, limit = new_sid(), 1.5
    waiter = Continuations(RedisStore(redis_url), poll_interval=POLL)
    owner = await owner_process(redis_url, sid, 3600.0, limit, "[]")
    started = time.time()
    owner.process.kill()  # no chance to record anything: the pending marker stays
    owner.process.wait(5)
    try:
        assert await waiter.wait(sid, owner.token, timeout=0.1) is None
        error, _ = await raises_timed(waiter.wait(sid, owner.token, timeout=10.0), ContinuationFailed)
        raw = await waiter.store.get(sid, KEY_PREFIX + owner.token)
        assert raw is not None and json.loads(raw)["state"] == "pending"
        # Failed when the owner's limit passed (its expiry is absolute), not at the wait's timeout.
        assert time.time() - started < limit + POLL + MARGIN
        assert "limit" in str(error)
    finally:
        await close(waiter)
