"""Per-call state: the stores, CallState, and an app keeping a call's state across its hooks.

Every test written once here runs on both stores, a MemoryStore and a RedisStore on a real
redis-server (tests/redis_server.py), through the same code. Only Redis can die mid-call or be
shared by several worker processes: those tests are Redis-only by nature, and the MemoryStore's
bound on calls is memory-only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pydantic_core
import pytest
import redis as redis_sync
from starlette.testclient import TestClient

from jambonz_webhooks import (
    FINAL_CALL_STATUSES,
    CallInfo,
    CallSession,
    CallState,
    JambonzApp,
    MemoryStore,
    RedisStore,
    StateStore,
    StateStoreError,
    WebhookResponse,
)
from jambonz_webhooks.state import (
    DEFAULT_TTL,
    SESSION_KEY,
    keep_session,
    keep_session_at_once,
    serving_workers,
    store_outage,
)
from tests.conftest import HOST, REPO_ROOT, LiveServer, _free_port, _inherited_env, _port_answers, _stop
from tests.payloads import call_info, session_new
from tests.redis_server import RedisServer

STORES = ["memory", "redis"]
REDIS_PREFIX = "jambonz:call:"  # RedisStore's default: one hash per call under this prefix
LOGGER = "jambonz_webhooks"
TIMEOUT = 0.5  # the RedisStore timeout of the failure tests
HOOK_BUDGET = 3.0  # seconds a hook may take with Redis down: "does not hang" made measurable
FALLBACK_TEXT = "state fallback: please call again"

StoreFactory = Callable[[float], StateStore]


def new_sid() -> str:
    return str(uuid.uuid4())


def jambonz_body(payload: Any) -> bytes:
    """A body as jambonz sends it: compact JSON, raw UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- the store under test -----------------------------------------------------------------------


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def make_store(store_kind: str, request: pytest.FixtureRequest) -> StoreFactory:
    """Builds the store under test with a TTL in seconds (Redis: on the session's server, emptied)."""
    if store_kind == "redis":
        url: str = request.getfixturevalue("redis_url")
        return lambda ttl: RedisStore(url, ttl=ttl)
    return lambda ttl: MemoryStore(ttl=ttl)


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[StateStore]:
    async with aclosing(make_store(DEFAULT_TTL)) as opened:
        yield opened


def redis_pttl(store: StateStore, call_sid: str) -> int:
    """Milliseconds Redis still keeps the call's hash (-2: no such key), read beside the store."""
    assert isinstance(store, RedisStore)
    with redis_sync.Redis.from_url(store.url) as client:
        pttl: int = client.pttl(store.prefix + call_sid)
        return pttl


# --- the StateStore protocol --------------------------------------------------------------------


async def test_store_implements_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


async def test_set_get_round_trips_json_bytes(store: StateStore) -> None:
    sid = new_sid()
    values = {
        "dict": b'{"a":1,"nested":{"b":[1,2,3]}}',
        "text": '"cr\u00e8me br\u00fbl\u00e9e \u260e"'.encode(),
        "number": b"12.5",
        "null": b"null",
    }
    await store.set(sid, values)
    for key, value in values.items():
        got = await store.get(sid, key)
        assert got == value and isinstance(got, bytes)
    assert await store.get_all(sid) == values
    assert await store.get(sid, "missing") is None
    assert await store.get(new_sid(), "dict") is None
    assert await store.get_all(new_sid()) == {}


async def test_set_merges_and_overwrites(store: StateStore) -> None:
    sid = new_sid()
    await store.set(sid, {"a": b"1", "b": b"2"})
    await store.set(sid, {"b": b"20", "c": b"30"})
    assert await store.get_all(sid) == {"a": b"1", "b": b"20", "c": b"30"}


async def test_delete_removes_only_the_keys_named(store: StateStore) -> None:
    sid = new_sid()
    await store.set(sid, {"a": b"1", "b": b"2", "c": b"3"})
    await store.delete(sid, "a", "c", "never-set")
    assert await store.get_all(sid) == {"b": b"2"}
    await store.delete(sid)  # no keys: nothing happens
    assert await store.get_all(sid) == {"b": b"2"}
    await store.delete(new_sid(), "a")  # an unknown call: no error


async def test_drop_removes_one_call_only(store: StateStore) -> None:
    sid, other = new_sid(), new_sid()
    await store.set(sid, {"a": b"1", "b": b"2"})
    await store.set(other, {"a": b"9"})
    await store.drop(sid)
    assert await store.get_all(sid) == {}
    assert await store.get(sid, "a") is None
    assert await store.get_all(other) == {"a": b"9"}
    await store.drop(new_sid())  # an unknown call: no error


async def test_ttl_expires_a_call(make_store: StoreFactory) -> None:
    async with aclosing(make_store(0.3)) as short:
        sid = new_sid()
        await short.set(sid, {"a": b"1"})
        assert await short.get(sid, "a") == b"1"
        if isinstance(short, RedisStore):
            # Milliseconds, by PEXPIRE: a 0.3 s TTL would be lost in whole seconds.
            assert 0 < redis_pttl(short, sid) <= 300
        time.sleep(0.45)
        assert await short.get(sid, "a") is None
        assert await short.get_all(sid) == {}
        if isinstance(short, RedisStore):
            assert redis_pttl(short, sid) == -2


@pytest.mark.slow
async def test_each_write_restarts_the_ttl(make_store: StoreFactory) -> None:
    async with aclosing(make_store(0.5)) as short:
        sid = new_sid()
        await short.set(sid, {"a": b"1"})
        time.sleep(0.3)
        await short.set(sid, {"b": b"2"})
        time.sleep(0.3)  # 0.6 s after the first write, 0.3 s after the last: still there, all of it
        assert await short.get_all(sid) == {"a": b"1", "b": b"2"}
        time.sleep(0.35)  # 0.65 s after the last write
        assert await short.get_all(sid) == {}


async def test_redis_keeps_a_call_as_one_hash_under_the_prefix(redis_url: str) -> None:
    async with aclosing(RedisStore(redis_url, prefix="test:")) as store:
        sid = new_sid()
        await store.set(sid, {"a": b'"x"', "b": b"[1]"})
        with redis_sync.Redis.from_url(redis_url) as client:
            assert client.keys("*") == [f"test:{sid}".encode()]
            assert client.hgetall(f"test:{sid}") == {b"a": b'"x"', b"b": b"[1]"}
            # The default TTL (4 h), in milliseconds.
            assert 4 * 3600 * 1000 - 5000 < client.pttl(f"test:{sid}") <= 4 * 3600 * 1000
        await store.drop(sid)
        with redis_sync.Redis.from_url(redis_url) as client:
            assert client.keys("*") == []


async def test_memory_store_evicts_the_call_written_longest_ago() -> None:
    store = MemoryStore(max_calls=2)
    await store.set("c1", {"k": b"1"})
    await store.set("c2", {"k": b"2"})
    await store.set("c1", {"k": b"11"})  # c1 is now the most recently written
    await store.set("c3", {"k": b"3"})
    assert len(store) == 2
    assert await store.get_all("c2") == {}
    assert await store.get_all("c1") == {"k": b"11"}
    assert await store.get_all("c3") == {"k": b"3"}


async def test_memory_store_forgets_expired_calls_as_new_ones_come() -> None:
    now = [0.0]
    store = MemoryStore(ttl=10, clock=lambda: now[0])
    for index in range(5):
        await store.set(f"old{index}", {"k": b"1"})
    now[0] = 11.0
    await store.set("new", {"k": b"2"})
    # Memory is bounded by live calls: the expired ones went without being read again.
    assert len(store) == 1
    assert await store.get_all("new") == {"k": b"2"}


async def test_memory_store_forgets_each_call_once_its_own_ttl_has_passed() -> None:
    now = [0.0]
    store = MemoryStore(ttl=10, clock=lambda: now[0])
    await store.set("a", {"k": b"1"})  # expires at 10
    now[0] = 5.0
    await store.set("b", {"k": b"1"})  # at 15
    await store.drop("a")  # the front goes another way: sweeping still finds the next
    await store.set("c", {"k": b"1"})  # at 15
    now[0] = 12.0
    await store.set("d", {"k": b"1"})  # at 22: nothing has expired yet
    assert len(store) == 3
    now[0] = 15.5
    store.put("e", {"k": b"1"})  # b and c have
    assert [sid for sid in ("b", "c", "d", "e") if await store.get_all(sid)] == ["d", "e"]
    assert len(store) == 2
    now[0] = 40.0
    await store.set("d", {"k2": b"2"})  # d had expired: it starts again, without its old keys
    assert await store.get_all("d") == {"k2": b"2"}
    assert len(store) == 1


async def test_a_call_hook_keeps_its_session_in_memory_without_awaiting() -> None:
    memory = MemoryStore()
    assert keep_session_at_once(memory, "c1", b'{"call_sid":"c1"}')
    assert await memory.get("c1", SESSION_KEY) == b'{"call_sid":"c1"}'

    class Logged(MemoryStore):
        """A store of the user's own: its set() may do more, so it is awaited."""

        async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
            await super().set(call_sid, {**values, "seen": b"1"})

    logged = Logged()
    assert not keep_session_at_once(logged, "c1", b"{}")
    await keep_session(logged, "c1", b"{}")
    assert await logged.get_all("c1") == {SESSION_KEY: b"{}", "seen": b"1"}


# --- CallState ----------------------------------------------------------------------------------


async def test_get_answers_the_default_for_a_missing_key(store: StateStore) -> None:
    state = CallState(store, new_sid())
    assert await state.get("missing") is None
    assert await state.get("missing", 42) == 42
    assert await state.items() == {}
    assert await state.session() is None
    assert await state.env_vars() == {}
    assert await state.parent() is None


async def test_values_round_trip_as_json(store: StateStore) -> None:
    sid = new_sid()
    state = CallState(store, sid)
    values: dict[str, Any] = {
        "dict": {"name": "Zo\u00eb", "nested": {"digits": "1234", "ok": True}},
        "list": [1, 2.5, "tr\u00e9s", None, {"x": []}],
        "unicode": "\u260e \U0001f4de \u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \u4e2d\u6587",
        "int": 7,
        "null": None,
    }
    for key, value in values.items():
        await state.set(key, value)
    for key, value in values.items():
        assert await state.get(key, "default") == value  # a stored null is not the default
    assert await state.items() == values
    # What the store keeps is JSON text, UTF-8, readable by any other process.
    raw = await store.get(sid, "unicode")
    assert raw is not None and json.loads(raw) == values["unicode"]
    await state.set("tuple", (1, "a"))
    assert await state.get("tuple") == [1, "a"]  # JSON has no tuples


async def test_update_delete_and_clear(store: StateStore) -> None:
    sid = new_sid()
    state = CallState(store, sid)
    await store.set(sid, {SESSION_KEY: jambonz_body(session_new(call_sid=sid))})
    await state.update({"a": 1, "b": [2], "c": {"d": 3}})
    await state.set("a", 10)
    assert await state.items() == {"a": 10, "b": [2], "c": {"d": 3}}  # not the framework's key
    await state.delete("b", "c")
    assert await state.items() == {"a": 10}
    assert await state.session() is not None
    await state.clear()
    assert await state.items() == {}
    assert await state.session() is None  # clear() drops the framework's keys too
    assert await store.get_all(sid) == {}


@pytest.mark.parametrize("key", ["jambonz:session", "jambonz:mine"])
async def test_reserved_keys_are_refused(store: StateStore, key: str) -> None:
    sid = new_sid()
    state = CallState(store, sid)
    with pytest.raises(ValueError, match="jambonz:"):
        await state.set(key, "x")
    with pytest.raises(ValueError, match="jambonz:"):
        await state.update({"fine": 1, key: "x"})
    with pytest.raises(ValueError, match="jambonz:"):
        await state.get(key)
    with pytest.raises(ValueError, match="jambonz:"):
        await state.delete(key)
    with pytest.raises(TypeError):
        await state.set("", 1)
    # A refused update writes nothing, not even its allowed keys.
    assert await store.get_all(sid) == {}


async def test_a_value_json_cannot_hold_is_refused_and_not_stored(store: StateStore) -> None:
    sid = new_sid()
    state = CallState(store, sid)
    with pytest.raises(pydantic_core.PydanticSerializationError):
        await state.set("bad", object())
    assert await store.get_all(sid) == {}


async def test_session_and_env_vars_read_the_kept_call_hook_payload(store: StateStore) -> None:
    sid = new_sid()
    await store.set(sid, {SESSION_KEY: jambonz_body(session_new(call_sid=sid, parent_call_sid=None))})
    state = CallState(store, sid)
    session = await state.session()
    assert isinstance(session, CallSession) and session.call_sid == sid
    assert await state.env_vars() == {"COMPANY_NAME": "Acme", "MAX_RETRIES": 3, "DEBUG": False}
    assert await state.parent() is None  # no parent_call_sid: not a child call


# --- an app keeping a call's state across its hooks (in process) --------------------------------


def build_app(store: StateStore, status_seen: dict[str, Any]) -> JambonzApp:
    """Hooks that write the call's state, read it back, and fail the ways a dead store makes them."""
    app = JambonzApp(state=store, fallback=WebhookResponse().say(text=FALLBACK_TEXT).hangup(), insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
        await state.set("cart", {"items": ["pizza", "cr\u00e8me br\u00fbl\u00e9e"], "total": 12.5})
        await state.set("caller", call.from_)
        return WebhookResponse().say(text="stored")

    @app.action_hook("/next")
    async def next_step(call: CallInfo, state: CallState) -> WebhookResponse:
        session = await state.session()
        seen = {
            "cart": await state.get("cart"),
            "items": await state.items(),
            "env": await state.env_vars(),
            "session_sid": session.call_sid if session is not None else None,
            "account_ref": session.sip.headers.get("X-Account-Ref")
            if session is not None and session.sip is not None
            else None,
        }
        return WebhookResponse().say(text=json.dumps(seen))

    @app.call_hook("/child")
    async def child(call: CallSession, state: CallState) -> WebhookResponse:
        parent = await state.parent()
        seen = {
            "parent_sid": parent.call_sid if parent is not None else None,
            "parent_cart": await parent.get("cart") if parent is not None else None,
            "own_cart": await state.get("cart"),
        }
        return WebhookResponse().say(text=json.dumps(seen))

    @app.action_hook("/next-catch")
    async def next_catch(call: CallInfo, state: CallState) -> WebhookResponse:
        try:
            cart = await state.get("cart")
        except StateStoreError as exc:
            return WebhookResponse().say(text=f"state unavailable: {type(exc).__name__}: {exc}")
        return WebhookResponse().say(text=json.dumps({"cart": cart}))

    @app.action_hook("/next-raise")
    async def next_raise(call: CallInfo, state: CallState) -> WebhookResponse:
        cart = await state.get("cart")  # a StateStoreError goes up to the framework
        return WebhookResponse().say(text=json.dumps({"cart": cart}))

    @app.status_hook("/status")
    async def status(call: CallInfo, state: CallState) -> None:
        # Runs before the framework drops a finished call's state: it can still read it.
        status_seen[call.call_sid] = await state.get("cart")

    @app.status_hook("/status-quiet")
    async def status_quiet(call: CallInfo) -> None:
        status_seen[call.call_sid] = call.call_status  # reads no state: only the framework's drop does

    return app


@dataclass
class Calls:
    """Sends one call's hooks to the app in process (one event loop: the TestClient's portal)."""

    client: TestClient
    store: StateStore
    status_seen: dict[str, Any] = field(default_factory=dict)

    def post(self, path: str, payload: dict[str, Any]) -> httpx2.Response:
        return self.client.post(
            path, content=jambonz_body(payload), headers={"content-type": "application/json"}
        )

    def start(self, sid: str, **overrides: Any) -> httpx2.Response:
        return self.post("/incoming", session_new(call_sid=sid, **overrides))

    def action(self, path: str, sid: str) -> httpx2.Response:
        payload = call_info(call_sid=sid)
        assert "env_vars" not in payload  # only the call hook brings them
        return self.post(path, payload)

    def status(self, sid: str, call_status: str) -> httpx2.Response:
        return self.post("/status", call_info(call_sid=sid, call_status=call_status))

    def stored(self, sid: str) -> dict[str, bytes]:
        """What the store holds for the call, read in the app's own event loop."""
        assert self.client.portal is not None
        return self.client.portal.call(self.store.get_all, sid)


@contextmanager
def serve(store: StateStore) -> Iterator[Calls]:
    status_seen: dict[str, Any] = {}
    with TestClient(build_app(store, status_seen)) as client:
        try:
            yield Calls(client, store, status_seen)
        finally:
            assert client.portal is not None
            client.portal.call(store.aclose)  # the store's connections live in this loop


@pytest.fixture
def calls(make_store: StoreFactory) -> Iterator[Calls]:
    with serve(make_store(DEFAULT_TTL)) as served:
        yield served


def say_text(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    verbs = response.json()
    assert verbs[0]["verb"] == "say", verbs
    text: str = verbs[0]["text"]
    return text


def said_json(response: httpx2.Response) -> Any:
    return json.loads(say_text(response))


CART = {"items": ["pizza", "cr\u00e8me br\u00fbl\u00e9e"], "total": 12.5}


def test_state_written_by_the_call_hook_is_read_by_the_next_hook(calls: Calls) -> None:
    sid = new_sid()
    assert say_text(calls.start(sid, env_vars={"COMPANY_NAME": "Globex", "LANG": "fr"})) == "stored"
    seen = said_json(calls.action("/next", sid))
    assert seen["cart"] == CART
    assert seen["items"] == {"cart": CART, "caller": "+15083084809"}
    # The action payload has no env_vars and no SIP headers: they come from the kept call hook payload.
    assert seen["env"] == {"COMPANY_NAME": "Globex", "LANG": "fr"}
    assert seen["session_sid"] == sid
    assert seen["account_ref"] == "acct-42"


def test_another_call_sees_nothing_of_this_one(calls: Calls) -> None:
    sid = new_sid()
    say_text(calls.start(sid))
    seen = said_json(calls.action("/next", new_sid()))
    assert seen == {"cart": None, "items": {}, "env": {}, "session_sid": None, "account_ref": None}


def test_a_child_call_reads_its_parents_state(calls: Calls) -> None:
    parent_sid, child_sid = new_sid(), new_sid()
    say_text(calls.start(parent_sid, parent_call_sid=None))
    response = calls.post("/child", session_new(call_sid=child_sid, parent_call_sid=parent_sid))
    assert said_json(response) == {"parent_sid": parent_sid, "parent_cart": CART, "own_cart": None}


def test_final_status_set_is_the_frameworks() -> None:
    # The parametrization below must cover every final status the framework knows.
    assert frozenset({"completed", "failed", "busy", "no-answer"}) == FINAL_CALL_STATUSES


@pytest.mark.parametrize("call_status", ["completed", "failed", "busy", "no-answer"])
def test_a_final_status_drops_the_calls_state(calls: Calls, call_status: str) -> None:
    sid, other = new_sid(), new_sid()
    say_text(calls.start(sid))
    say_text(calls.start(other))
    assert set(calls.stored(sid)) == {SESSION_KEY, "cart", "caller"}
    response = calls.status(sid, call_status)
    assert response.status_code == 204
    assert calls.status_seen[sid] == CART  # the status handler still read it
    assert calls.stored(sid) == {}
    assert said_json(calls.action("/next", sid))["cart"] is None
    assert said_json(calls.action("/next", other))["cart"] == CART  # the other call keeps its own


@pytest.mark.parametrize("call_status", ["ringing", "in-progress"])
def test_a_status_not_final_keeps_the_calls_state(calls: Calls, call_status: str) -> None:
    sid = new_sid()
    say_text(calls.start(sid))
    assert calls.status(sid, call_status).status_code == 204
    assert calls.status_seen[sid] == CART
    seen = said_json(calls.action("/next", sid))
    assert seen["cart"] == CART and seen["env"]["COMPANY_NAME"] == "Acme"


def test_state_expires_by_its_ttl_through_the_app(make_store: StoreFactory) -> None:
    with serve(make_store(0.3)) as short:
        sid = new_sid()
        say_text(short.start(sid))
        assert said_json(short.action("/next", sid))["cart"] == CART
        time.sleep(0.45)
        assert said_json(short.action("/next", sid)) == {
            "cart": None,
            "items": {},
            "env": {},
            "session_sid": None,
            "account_ref": None,
        }


# --- Redis down mid-call, and back ---------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own: it is stopped mid-call without disturbing the others."""
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture
def redis_calls(private_redis: RedisServer) -> Iterator[Calls]:
    with serve(RedisStore(private_redis.url, timeout=TIMEOUT)) as served:
        yield served


def timed(send: Callable[[], httpx2.Response]) -> httpx2.Response:
    started = time.monotonic()
    response = send()
    elapsed = time.monotonic() - started
    assert elapsed < HOOK_BUDGET, f"a hook took {elapsed:.2f} s with Redis unavailable"
    return response


def fallback_verbs() -> list[dict[str, Any]]:
    return [{"verb": "say", "text": FALLBACK_TEXT}, {"verb": "hangup"}]


def assert_logged(
    caplog: pytest.LogCaptureFixture, level: int, call_sid: str, needle: str
) -> logging.LogRecord:
    records = [
        record
        for record in caplog.records
        if record.name == LOGGER
        and record.levelno == level
        and getattr(record, "call_sid", None) == call_sid
        and needle in record.getMessage()
    ]
    assert records, f"no {logging.getLevelName(level)} record for {call_sid} with {needle!r}: {caplog.text}"
    assert call_sid in records[0].getMessage()
    return records[0]


def test_redis_stopped_mid_call_then_restarted(
    redis_calls: Calls,
    private_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    monkeypatch.setattr(store_outage, "period", 0.0)  # every line, to check each (the rate: below)
    calls = redis_calls
    sid = new_sid()
    assert say_text(calls.start(sid)) == "stored"
    assert said_json(calls.action("/next-catch", sid)) == {"cart": CART}

    private_redis.stop()

    # A handler that catches the error chooses its answer.
    text = say_text(timed(lambda: calls.action("/next-catch", sid)))
    assert text.startswith("state unavailable: StateStoreError: ")
    assert "failed to read a call's state" in text and private_redis.url in text

    # A handler that lets it go up: the app's fallback verbs, 200, and one line with the call
    # (no traceback: an outage fails every hook, and 65 lines each would bury the log).
    response = timed(lambda: calls.action("/next-raise", sid))
    assert response.status_code == 200 and response.json() == fallback_verbs()
    record = assert_logged(caplog, logging.WARNING, sid, "next_raise")
    assert record.exc_info is None and "failed to read a call's state" in record.getMessage()

    # A new call meanwhile: its session cannot be kept (a warning), and the handler's own write
    # fails too, so the caller hears the fallback rather than silence.
    during = new_sid()
    response = timed(lambda: calls.start(during))
    assert response.status_code == 200 and response.json() == fallback_verbs()
    assert_logged(caplog, logging.WARNING, during, "could not keep")

    # A final status whose handler reads no state: the framework cannot drop the call's state (its
    # TTL will), says so, and the hook still answers 204.
    response = timed(lambda: calls.post("/status-quiet", call_info(call_sid=sid, call_status="completed")))
    assert response.status_code == 204 and calls.status_seen[sid] == "completed"
    assert_logged(caplog, logging.WARNING, sid, "could not drop")
    # One whose handler reads the state: answered 204 at once (jambonz ignores it), the handler's
    # failure logged.
    response = timed(lambda: calls.status(during, "completed"))
    assert response.status_code == 204
    assert_logged(caplog, logging.WARNING, during, "status")
    assert "Traceback" not in caplog.text

    private_redis.start()  # the same port: the app's store was not told anything

    # Recovery: a new call works end to end on the same app and store.
    after = new_sid()
    assert say_text(timed(lambda: calls.start(after))) == "stored"
    seen = said_json(calls.action("/next", after))
    assert seen["cart"] == CART and seen["env"]["COMPANY_NAME"] == "Acme"
    assert calls.status(after, "completed").status_code == 204
    assert calls.status_seen[after] == CART
    assert calls.stored(after) == {}
    recovered = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert len(recovered) == 1 and private_redis.url in recovered[0], recovered


@pytest.mark.slow
def test_redis_not_answering_times_out_instead_of_hanging(
    redis_calls: Calls,
    private_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    monkeypatch.setattr(store_outage, "period", 0.0)
    calls = redis_calls
    sid = new_sid()
    assert say_text(calls.start(sid)) == "stored"
    process = private_redis.process
    assert process is not None
    process.send_signal(signal.SIGSTOP)  # accepts connections (the kernel does) but never answers
    try:
        started = time.monotonic()
        text = say_text(timed(lambda: calls.action("/next-catch", sid)))
        assert time.monotonic() - started >= TIMEOUT * 0.9  # it did wait for the timeout
        assert text.startswith("state unavailable: StateStoreError: ")
        assert "failed to read a call's state" in text
        response = timed(lambda: calls.action("/next-raise", sid))
        assert response.json() == fallback_verbs()
        assert_logged(caplog, logging.WARNING, sid, "next_raise")
    finally:
        process.send_signal(signal.SIGCONT)
    # Once it answers again, so does the state: the call's data was never lost.
    assert said_json(calls.action("/next-catch", sid)) == {"cart": CART}


# Found by this suite: one client for every loop failed with "Event loop is closed".
def test_a_redis_store_serves_hooks_run_in_different_event_loops(redis_url: str) -> None:
    store = RedisStore(redis_url)
    calls = Calls(TestClient(build_app(store, {})), store)  # no `with`: a new event loop per request
    sid = new_sid()
    try:
        assert say_text(calls.start(sid)) == "stored"
        assert say_text(calls.action("/next-catch", sid)) == json.dumps({"cart": CART})
    finally:
        # The connections belong to loops already closed: closing them may fail the same way.
        with suppress(RuntimeError):
            asyncio.run(store.aclose())


# --- two uvicorn workers sharing Redis ----------------------------------------------------------

STARTUP_TIMEOUT = 20.0
MAX_TRIES = 200


@contextmanager
def two_workers(tmp_path: Path, env: dict[str, str], count: int = 2) -> Iterator[LiveServer]:
    """tests/apps/stateful.py under ``uvicorn --workers <count>``; stopped (with its workers) at the end."""
    port = _free_port()
    stderr_path = tmp_path / "stateful.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "tests.apps.stateful:app", "--workers", str(count)),
                *("--host", HOST, "--port", str(port)),
            ],
            cwd=REPO_ROOT,
            # No JAMBONZ_* from this environment (no webhook secret): only what the test gives.
            env={**_inherited_env(), **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    workers = LiveServer("tests.apps.stateful:app", process, port, stderr_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        # Each worker says so once its app is up; the port alone could answer with one of them.
        while workers.stderr().count("Application startup complete") < count or not _port_answers(port):
            assert process.poll() is None and time.monotonic() < deadline, (
                f"uvicorn --workers {count} did not start:\n{workers.stderr()}"
            )
            time.sleep(0.05)
        yield workers
    finally:
        _stop(process)


def post_once(origin: str, path: str, payload: dict[str, Any]) -> httpx2.Response:
    """One request on a connection of its own, closed after: the next may go to another worker."""
    with httpx2.Client(base_url=origin, timeout=10.0, trust_env=False) as client:
        return client.post(
            path,
            content=jambonz_body(payload),
            headers={"content-type": "application/json", "connection": "close"},
        )


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
        return int(stat.read().rpartition(")")[2].split()[1])


@dataclass
class CrossWorkerRun:
    call_pid: int
    pids: set[int]
    answers: list[dict[str, Any]]
    """Every /next answer, the last one from another worker than the call hook's."""


def run_call_across_workers(origin: str, secret: str, company: str) -> CrossWorkerRun:
    sid = new_sid()
    start = session_new(call_sid=sid, env_vars={"COMPANY_NAME": company})
    start["sip"]["headers"]["X-Secret"] = secret
    call_pid = int(say_text(post_once(origin, "/incoming", start)).removeprefix("pid="))
    pids = {call_pid}
    answers: list[dict[str, Any]] = []
    for _ in range(MAX_TRIES):
        seen: dict[str, Any] = said_json(post_once(origin, "/next", call_info(call_sid=sid)))
        answers.append(seen)
        pids.add(seen["pid"])
        if seen["pid"] != call_pid:
            break
    else:
        pytest.fail(
            f"{MAX_TRIES} action hooks on new connections all went to the call hook's worker {call_pid}"
        )
    return CrossWorkerRun(call_pid, pids, answers)


@pytest.mark.slow
def test_two_workers_share_a_calls_state_through_redis(tmp_path: Path, redis_url: str) -> None:
    secret, company = f"s-{uuid.uuid4().hex}", "Initech \u260e"
    with two_workers(tmp_path, {"JAMBONZ_REDIS_URL": redis_url}) as workers:
        run = run_call_across_workers(workers.origin, secret, company)
        # Two processes answered, both workers of this uvicorn (not the supervisor, not another server).
        assert len(run.pids) == 2, run.pids
        assert {parent_pid(pid) for pid in run.pids} == {workers.process.pid}
        # Every /next, on whichever worker, saw what the call hook stored and the env var it brought.
        for seen in run.answers:
            assert seen["stored"] == {"secret": secret, "by_pid": run.call_pid}
            assert seen["company"] == company
        assert run.answers[-1]["pid"] != run.call_pid
        # The state is in Redis, under the call's key, where any worker finds it.
        with redis_sync.Redis.from_url(redis_url) as client:
            assert len(client.keys(f"{REDIS_PREFIX}*")) == 1


@pytest.mark.slow
def test_two_workers_without_redis_lose_a_calls_state(tmp_path: Path) -> None:
    # The contrast that shows the test above can fail: each worker's MemoryStore is its own.
    with two_workers(tmp_path, {}) as workers:
        run = run_call_across_workers(workers.origin, "s-memory", "Hooli")
        other = run.answers[-1]
        assert other["pid"] != run.call_pid
        assert other["stored"] is None and other["company"] is None
        # Not silently: the worker that found nothing says so, naming the call.
        assert "state lost: call " in workers.stderr()


@pytest.mark.slow
def test_four_workers_on_a_memory_store_warn_at_start(tmp_path: Path) -> None:
    with two_workers(tmp_path, {}, count=4) as workers:
        warnings = workers.stderr().count("calls' state is kept in this process's memory, but 4 workers")
    assert warnings == 4, workers.stderr()


@pytest.mark.slow
def test_workers_sharing_redis_do_not_warn(tmp_path: Path, redis_url: str) -> None:
    with two_workers(tmp_path, {"JAMBONZ_REDIS_URL": redis_url}) as workers:
        assert "kept in this process's memory" not in workers.stderr()


@pytest.mark.parametrize(
    ("command", "environ", "count"),
    [
        (["uvicorn", "app:app", "--workers", "4"], {}, 4),
        (["jambonz-webhooks", "run", "app:app", "--workers=3"], {}, 3),
        (["/usr/bin/gunicorn", "-w", "5", "app:app"], {}, 5),
        (["pytest", "-w", "5"], {}, 1),  # -w is gunicorn's only
        (["uvicorn", "app:app"], {"WEB_CONCURRENCY": "6"}, 6),
        (["uvicorn", "app:app", "--workers", "many"], {}, 1),
    ],
)
def test_the_worker_count_is_read_from_the_command_line_or_the_environment(
    command: list[str], environ: dict[str, str], count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", command)
    assert serving_workers(environ) == count


def test_a_sync_handler_cannot_ask_for_the_calls_state() -> None:
    # CallState's methods are coroutines: a sync handler could not use it.
    app = JambonzApp(state=MemoryStore(), insecure=True)

    def menu(state: CallState) -> None:
        """A sync handler."""

    with pytest.raises(TypeError, match="make it async"):
        app.action_hook("/menu")(menu)
