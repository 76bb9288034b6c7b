"""Repeated deliveries answered once: the key, the cache, the app, Redis shared by processes.

jambonz retries a hook with the same body and signature header; an attacker replaying a captured
request may write the header otherwise. Both must run the handler once, in one process and across
processes sharing a Redis, while two genuine requests alike (the same digit pressed twice, signed
at different times) run it twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis as redis_sync
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallInfo,
    CallSession,
    CallStatus,
    DeliveryCache,
    GatherResult,
    JambonzApp,
    MemoryStore,
    RedisStore,
    WebhookResponse,
)
from jambonz_webhooks.deliveries import LEASE_MARGIN, RedisDeliveries, StoredAnswer, delivery_key
from jambonz_webhooks.security import compute_signature
from jambonz_webhooks.testing import CallSimulator, sign, signed_headers
from tests import payloads
from tests.apps import dedup as dedup_app
from tests.conftest import LiveServer, _spawn, _stop, _wait_ready
from tests.redis_server import RedisServer

SECRET = "wh_secret_for_dedup_tests"
SESSION = json.dumps(payloads.session_new(), separators=(",", ":")).encode()
GATHER = json.dumps(payloads.call_info(reason="dtmfDetected", digits="1"), separators=(",", ":")).encode()
DELIVERY_PREFIX = "jambonz:delivery:"
BOGUS = "0" * 64


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def now() -> int:
    return int(time.time())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret, credentials or Redis from the environment behind a test's back."""
    for name in ("JAMBONZ_WEBHOOK_SECRET", "JAMBONZ_WEBHOOK_USERNAME", "JAMBONZ_WEBHOOK_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("JAMBONZ_REDIS_URL", raising=False)


# =============================================================================================
# The cache, by itself
# =============================================================================================


@dataclass
class Reply:
    """A Replayable answer, as the pipeline's Outcome is one."""

    status: int
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),)
    body: bytes = b"[]"
    how: str = "handler"


def repeated(answer: StoredAnswer) -> Reply:
    return Reply(*answer, how="repeat")


async def test_cache_concurrent_repeat_waits_for_the_first() -> None:
    cache = DeliveryCache()
    release = asyncio.Event()
    runs: list[str] = []

    async def first() -> Reply:
        runs.append("first")
        await release.wait()
        return Reply(200, body=b"[1]")

    async def second() -> Reply:
        runs.append("second")
        return Reply(200, body=b"[2]")

    one = asyncio.create_task(cache.answer(b"k", first, rebuild=repeated))
    await asyncio.sleep(0)
    two = asyncio.create_task(cache.answer(b"k", second, rebuild=repeated))
    for _ in range(3):
        await asyncio.sleep(0)
    assert runs == ["first"]
    assert not two.done()  # the repeat waits; it does not answer on its own
    release.set()
    answers = await asyncio.gather(one, two)
    assert [(reply.body, reply.how) for reply in answers] == [(b"[1]", "handler"), (b"[1]", "repeat")]
    assert runs == ["first"]


async def test_cache_exception_reaches_every_waiter_and_is_not_kept() -> None:
    cache = DeliveryCache()
    release = asyncio.Event()
    error = RuntimeError("compute failed")
    runs: list[int] = []

    async def failing() -> Reply:
        runs.append(1)
        await release.wait()
        raise error

    one = asyncio.create_task(cache.answer(b"k", failing, rebuild=repeated))
    await asyncio.sleep(0)
    two = asyncio.create_task(cache.answer(b"k", failing, rebuild=repeated))
    await asyncio.sleep(0)
    release.set()
    assert list(await asyncio.gather(one, two, return_exceptions=True)) == [error, error]
    assert runs == [1]
    assert len(cache) == 0

    async def fine() -> Reply:
        return Reply(200)

    assert (await cache.answer(b"k", fine, rebuild=repeated)).how == "handler"


async def test_cache_ttl_expiry_with_a_fake_clock() -> None:
    clock = [0.0]
    cache = DeliveryCache(ttl=10, clock=lambda: clock[0])
    runs: list[float] = []

    async def compute() -> Reply:
        runs.append(clock[0])
        return Reply(200, body=b"%d" % len(runs))

    assert (await cache.answer(b"k", compute, rebuild=repeated)).body == b"1"
    clock[0] = 9.999
    assert (await cache.answer(b"k", compute, rebuild=repeated)).body == b"1"
    clock[0] = 10.0
    assert (await cache.answer(b"k", compute, rebuild=repeated)).body == b"2"
    assert runs == [0.0, 10.0]
    assert len(cache) == 1


async def test_cache_max_entries_drops_the_oldest() -> None:
    cache = DeliveryCache(max_entries=2)
    runs: list[bytes] = []

    def computer(key: bytes) -> Any:
        async def compute() -> Reply:
            runs.append(key)
            return Reply(200, body=key)

        return compute

    for key in (b"a", b"b", b"c"):
        await cache.answer(key, computer(key), rebuild=repeated)
    assert len(cache) == 2
    for key in (b"b", b"c"):
        assert (await cache.answer(key, computer(key), rebuild=repeated)).how == "repeat"
    await cache.answer(b"a", computer(b"a"), rebuild=repeated)  # dropped: computed again
    assert runs == [b"a", b"b", b"c", b"a"]
    assert len(cache) == 2


@pytest.mark.parametrize("status", [500, 503])
async def test_cache_server_error_is_not_kept(status: int) -> None:
    cache = DeliveryCache()
    runs: list[int] = []

    async def compute() -> Reply:
        runs.append(1)
        return Reply(status)

    for _ in range(2):
        assert (await cache.answer(b"k", compute, rebuild=repeated)).status == status
    assert runs == [1, 1]
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("ttl", "max_entries"), [(0, 10), (-1, 10), (float("nan"), 10), (float("inf"), 10), (10, 0)]
)
def test_cache_refuses_sizes_that_are_not_positive(ttl: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        DeliveryCache(ttl=ttl, max_entries=max_entries)


def test_delivery_key_is_the_hook_the_timestamp_and_the_body() -> None:
    key = delivery_key("/menu", 1_700_000_000, GATHER)
    assert key == delivery_key("/menu", 1_700_000_000, GATHER)
    assert len(key) == 32
    others = [
        delivery_key("/incoming", 1_700_000_000, GATHER),
        delivery_key("/menu", 1_700_000_001, GATHER),
        delivery_key("/menu", 1_700_000_000, GATHER + b" "),
        # The same bytes split otherwise between the hook and the rest.
        delivery_key("/men", 1_700_000_000, b"u" + GATHER),
    ]
    assert key not in others
    assert len(set(others)) == len(others)
    assert len(delivery_key("/menu", 1, b"x" * 1_000_000)) == 32  # bounded whatever the body


# =============================================================================================
# The app, in process
# =============================================================================================


def build_app(**options: Any) -> tuple[JambonzApp, list[str]]:
    """An app with a call, an action and a status hook; each records its runs in the list."""
    options.setdefault("webhook_secret", SECRET)
    options.setdefault("deduplicate", True)
    app = JambonzApp(**options)
    runs: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        runs.append("incoming")
        return WebhookResponse().say(text=f"run {len(runs)}")

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        runs.append(f"menu:{result.digits}")
        return WebhookResponse().say(text=f"run {len(runs)}")

    @app.action_hook("/step/{number:int}")
    async def step(call: CallInfo, number: int) -> WebhookResponse:
        runs.append(f"step:{number}")
        return WebhookResponse().say(text=f"run {len(runs)}")

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        runs.append(f"status:{event.call_status}")

    return app, runs


def post(client: TestClient, path: str, body: bytes, signature: str) -> httpx2.Response:
    headers = {"content-type": "application/json", "jambonz-signature": signature}
    response: httpx2.Response = client.post(path, content=body, headers=headers)
    return response


def rewritten(timestamp: int, digest: str) -> dict[str, str]:
    """The same signature, written the ways a replay may write it (all accepted by the check)."""
    return {
        "as sent": f"t={timestamp},v1={digest}",
        "v1 first": f"v1={digest},t={timestamp}",
        "upper-case hex": f"t={timestamp},v1={digest.upper()}",
        "mixed-case hex": f"t={timestamp},v1={digest[:32].upper()}{digest[32:]}",
        # Inside the value only: HTTP strips the spaces around a header's value.
        "spaces": f"t={timestamp} ,   v1={digest}",
        "a bogus v1 after": f"t={timestamp},v1={digest},v1={BOGUS}",
        "a bogus v1 before": f"v1={BOGUS},t={timestamp},v1={digest}",
        "another scheme": f"t={timestamp},v0=whatever,v1={digest}",
        "all at once": f"v1={BOGUS} , v1={digest.upper()},t={timestamp}",
    }


def test_replays_written_otherwise_run_the_handler_once() -> None:
    app, runs = build_app()
    t = now()
    variants = rewritten(t, compute_signature(SECRET, t, GATHER))
    with TestClient(app) as client:
        answers = {name: post(client, "/menu", GATHER, header) for name, header in variants.items()}
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == [{"verb": "say", "text": "run 1"}], name
    assert runs == ["menu:1"]


def test_without_deduplication_each_replay_runs_the_handler() -> None:
    # The contrast: every variant passes the signature check, so each is served on its own.
    app, runs = build_app(deduplicate=False)
    t = now()
    variants = rewritten(t, compute_signature(SECRET, t, GATHER))
    with TestClient(app) as client:
        for header in variants.values():
            assert post(client, "/menu", GATHER, header).status_code == 200
    assert len(runs) == len(variants)


def test_a_repeat_gets_the_first_answer_byte_for_byte() -> None:
    app, runs = build_app()
    headers = signed_headers(SESSION, SECRET)
    with TestClient(app) as client:
        first = client.post("/incoming", content=SESSION, headers=headers)
        second = client.post("/incoming", content=SESSION, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == compact([{"verb": "say", "text": "run 1"}])
    assert first.headers.items() == second.headers.items()
    assert runs == ["incoming"]


def test_two_genuine_presses_of_the_same_digit_run_the_handler_twice() -> None:
    # Same hook, same body, signed at two times: two deliveries.
    app, runs = build_app()
    t = now()
    with TestClient(app) as client:
        first = post(client, "/menu", GATHER, sign(GATHER, SECRET, timestamp=t - 1))
        second = post(client, "/menu", GATHER, sign(GATHER, SECRET, timestamp=t))
    assert [first.json()[0]["text"], second.json()[0]["text"]] == ["run 1", "run 2"]
    assert runs == ["menu:1", "menu:1"]


def test_another_body_or_hook_is_another_delivery() -> None:
    app, runs = build_app()
    t = now()
    other = compact(payloads.call_info(reason="dtmfDetected", digits="2"))
    with TestClient(app) as client:
        for body in (GATHER, other):
            assert post(client, "/menu", body, sign(body, SECRET, timestamp=t)).status_code == 200
        assert post(client, "/status", GATHER, sign(GATHER, SECRET, timestamp=t)).status_code == 204
    assert runs == ["menu:1", "menu:2", "status:in-progress"]


def test_a_path_parameter_is_part_of_the_hook_as_converted() -> None:
    app, runs = build_app()
    header = sign(GATHER, SECRET)
    with TestClient(app) as client:
        for path in ("/step/1", "/step/01", "/step/2"):
            assert post(client, path, GATHER, header).status_code == 200
    # /step/01 is /step/1 to the handler (an int): the same hook; /step/2 another.
    assert runs == ["step:1", "step:2"]


def test_a_status_hook_repeat_is_answered_without_running_its_handler_again() -> None:
    app, runs = build_app()
    body = compact(payloads.call_info(call_status="in-progress"))
    header = sign(body, SECRET)
    with TestClient(app) as client:
        assert [post(client, "/status", body, header).status_code for _ in range(3)] == [204] * 3
    assert runs == ["status:in-progress"]


def test_a_refused_request_is_not_answered_from_the_record() -> None:
    app, runs = build_app()
    headers = signed_headers(SESSION, SECRET)
    with TestClient(app) as client:
        assert client.post("/incoming", content=SESSION, headers=headers).status_code == 200
        # The same body and signature, not JSON: refused before the record is looked at.
        wrong = client.post("/incoming", content=SESSION, headers={**headers, "Content-Type": "text/plain"})
        tampered = client.post("/incoming", content=SESSION + b" ", headers=headers)
    assert wrong.status_code == 415
    assert tampered.status_code == 401
    assert runs == ["incoming"]


def test_a_server_error_is_not_repeated() -> None:
    app = JambonzApp(fallback=None, webhook_secret=SECRET, deduplicate=True)
    runs: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        runs.append("incoming")
        if len(runs) == 1:
            raise RuntimeError("the database is down")
        return WebhookResponse().say(text="hello")

    headers = signed_headers(SESSION, SECRET)
    with TestClient(app) as client:
        first = client.post("/incoming", content=SESSION, headers=headers)
        second = client.post("/incoming", content=SESSION, headers=headers)
        third = client.post("/incoming", content=SESSION, headers=headers)
    assert first.status_code == 500
    assert first.json() == {"error": "the application failed to answer this hook"}
    assert second.status_code == 200
    assert third.content == second.content
    assert runs == ["incoming", "incoming"]


def test_a_repeat_is_logged_as_one(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = build_app()
    headers = signed_headers(SESSION, SECRET)
    with caplog.at_level(logging.INFO, logger="jambonz_webhooks.access"), TestClient(app) as client:
        for _ in range(2):
            client.post("/incoming", content=SESSION, headers=headers)
    outcomes = [record.__dict__.get("outcome") for record in caplog.records if record.name.endswith("access")]
    assert outcomes == ["handler", "repeat"]


def test_get_hooks_are_not_deduplicated() -> None:
    # A GET cannot be verified (jambonz signs a body it does not send): two GETs alike are two.
    app, runs = build_app(allow_unsigned_get=True)
    query = {"call_sid": "CA1", "reason": "dtmfDetected", "digits": "1"}
    header = {"jambonz-signature": sign(GATHER, SECRET)}
    with TestClient(app) as client:
        answers = [client.get("/menu", params=query, headers=header) for _ in range(2)]
    assert [answer.json()[0]["text"] for answer in answers] == ["run 1", "run 2"]
    assert runs == ["menu:1", "menu:1"]
    assert app.hook_settings.deliveries is not None
    assert len(app.hook_settings.deliveries) == 0


# --- how long an answer is kept ---------------------------------------------------------------


def test_the_ttl_is_twice_the_signature_tolerance_unless_given() -> None:
    app, _ = build_app()
    assert app.hook_settings.deliveries is not None
    assert app.hook_settings.deliveries.ttl == 600
    app, _ = build_app(signature_tolerance=45)
    assert app.hook_settings.deliveries is not None
    assert app.hook_settings.deliveries.ttl == 90
    cache = DeliveryCache(ttl=1000, max_entries=5)
    app, _ = build_app(deduplicate=cache)
    assert app.hook_settings.deliveries is cache
    assert cache.ttl == 1000


@pytest.mark.parametrize(("tolerance", "ttl"), [(300, 120), (300, 300), (300, 599), (30, 59)])
def test_a_ttl_shorter_than_a_signature_lives_is_refused(tolerance: float, ttl: float) -> None:
    with pytest.raises(ValueError, match=r"DeliveryCache\(ttl=.*signature_tolerance.*leave ttl out"):
        build_app(signature_tolerance=tolerance, deduplicate=DeliveryCache(ttl=ttl))


def test_an_answer_is_kept_as_long_as_its_signature_can_pass_again() -> None:
    clock = [0.0]
    cache = DeliveryCache(clock=lambda: clock[0])
    app, runs = build_app(signature_tolerance=300, deduplicate=cache)
    header = sign(GATHER, SECRET)  # at the real time: accepted whatever the cache's clock says
    with TestClient(app) as client:
        for at in (0.0, 299.0, 300.0, 599.0):
            clock[0] = at
            assert post(client, "/menu", GATHER, header).json()[0]["text"] == "run 1", at
        clock[0] = 600.0
        assert post(client, "/menu", GATHER, header).json()[0]["text"] == "run 2"
    assert runs == ["menu:1", "menu:1"]


# --- refused at start without a secret -----------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"deduplicate": True},
        {"deduplicate": DeliveryCache()},
        {"deduplicate": True, "basic_auth": ("jambonz", "pass")},
    ],
    ids=["True", "a cache", "basic auth only"],
)
def test_deduplicate_without_a_webhook_secret_is_refused_at_start(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"deduplicate needs a webhook secret.*webhook_secret="):
        JambonzApp(webhook_secret=[], **options)


def test_a_secret_from_the_environment_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAMBONZ_WEBHOOK_SECRET", SECRET)
    app = JambonzApp(deduplicate=True)
    assert app.hook_settings.deliveries is not None


def test_a_memory_store_keeps_the_record_in_the_process() -> None:
    app, _ = build_app(state=MemoryStore())
    assert app.hook_settings.deliveries is not None
    assert app.hook_settings.deliveries.shared is None


# --- the call simulator's timestamps -------------------------------------------------------------


def menu_app() -> tuple[JambonzApp, list[int]]:
    """A menu that asks again, saying the attempt: a repeat answered from the record is stuck."""
    app = JambonzApp(webhook_secret=SECRET, deduplicate=True)
    attempts: list[int] = []

    def ask(attempt: int) -> WebhookResponse:
        return WebhookResponse().gather(
            input=["digits"], num_digits=1, action_hook=menu, say={"text": f"attempt {attempt}"}
        )

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return ask(1)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        attempts.append(len(attempts) + 2)
        return ask(attempts[-1])

    return app, attempts


def test_the_simulator_signs_two_presses_alike_at_different_times() -> None:
    app, attempts = menu_app()
    with CallSimulator(app, status_hook=None) as sim:
        call = sim.start(call_sid="CA-same-digit")
        for _ in range(3):
            call.press("5")  # within a second: the bodies are the same each time
    assert call.heard == ["attempt 1", "attempt 2", "attempt 3", "attempt 4"]
    assert attempts == [2, 3, 4]
    stamps = [
        int(request.headers["Jambonz-Signature"].split(",")[0].removeprefix("t="))
        for request in call.requests
        if request.url.endswith("/menu")
    ]
    assert len(set(stamps)) == 3
    assert stamps == sorted(stamps)
    assert stamps[-1] - now() <= 3  # ahead of the clock by the repeats alone


def test_the_simulator_signs_at_the_clock_when_bodies_differ() -> None:
    sim = CallSimulator(JambonzApp(webhook_secret=SECRET), status_hook=None)
    try:
        before = now()
        stamps = [sim._timestamp("http://testserver/menu", b"%d" % i) for i in range(50)]
        assert before <= min(stamps) and max(stamps) <= now()
        repeats = [sim._timestamp("http://testserver/menu", b"same") for _ in range(3)]
        assert repeats[1] == repeats[0] + 1 and repeats[2] == repeats[0] + 2
        assert sim._timestamp("http://testserver/other", b"same") <= now()
    finally:
        sim.close()


# =============================================================================================
# Redis: one record for every worker, in process
# =============================================================================================


def test_an_app_on_a_redis_store_shares_its_record_through_it(redis_url: str) -> None:
    store = RedisStore(redis_url)
    app, _ = build_app(state=store)
    deliveries = app.hook_settings.deliveries
    assert deliveries is not None
    assert isinstance(deliveries.shared, RedisDeliveries)
    assert deliveries.shared.store is store  # the same client and pool, not another


def test_a_retry_reaching_another_worker_runs_the_handler_once(redis_url: str) -> None:
    # Two apps, as two workers: each its own store (client, pool, event loop) on one Redis.
    stores = [RedisStore(redis_url), RedisStore(redis_url)]
    apps = [build_app(state=store) for store in stores]
    t = now()
    digest = compute_signature(SECRET, t, GATHER)
    variants = list(rewritten(t, digest).values())
    with TestClient(apps[0][0]) as a, TestClient(apps[1][0]) as b:
        try:
            first = post(a, "/menu", GATHER, variants[0])
            repeats = [post(client, "/menu", GATHER, header) for client in (b, a) for header in variants]
            # Two genuine presses: the second, signed a second later, runs on either worker.
            second = post(b, "/menu", GATHER, sign(GATHER, SECRET, timestamp=t + 1))
        finally:
            for client, store in ((a, stores[0]), (b, stores[1])):
                assert client.portal is not None
                client.portal.call(store.aclose)
    assert first.json() == [{"verb": "say", "text": "run 1"}]
    assert {repeat.content for repeat in repeats} == {first.content}
    assert second.json() == [{"verb": "say", "text": "run 1"}]  # the first run of the other worker
    # Once for the delivery (on a), once for the second press (on b).
    assert apps[0][1] == ["menu:1"] and apps[1][1] == ["menu:1"]
    with redis_sync.Redis.from_url(redis_url) as client:
        keys = client.keys(f"{DELIVERY_PREFIX}*")
        assert len(keys) == 2
        # Kept for twice the tolerance (300 s), in milliseconds.
        assert all(590_000 < client.pttl(key) <= 600_000 for key in keys)


async def test_a_waiting_worker_gets_the_answer_once_published(redis_url: str) -> None:
    stores = [RedisStore(redis_url), RedisStore(redis_url)]
    caches = [DeliveryCache(shared=RedisDeliveries(store)) for store in stores]
    release = asyncio.Event()
    runs: list[str] = []
    published: list[float] = []

    async def first() -> Reply:
        runs.append("first")
        await release.wait()
        published.append(time.perf_counter())
        return Reply(200, body=b'[{"verb":"hangup"}]')

    async def second() -> Reply:
        runs.append("second")
        return Reply(200, body=b"[]")

    try:
        one = asyncio.create_task(caches[0].answer(b"k", first, rebuild=repeated))
        while not runs:
            await asyncio.sleep(0.001)
        two = asyncio.create_task(caches[1].answer(b"k", second, rebuild=repeated))
        await asyncio.sleep(0.3)  # the second worker polls meanwhile, backing off
        assert not two.done()
        release.set()
        answer = await two
        waited = time.perf_counter() - published[0]
        assert (await one).body == answer.body == b'[{"verb":"hangup"}]'
        assert answer.how == "repeat"
        assert runs == ["first"]
        # Backed off to at most max_poll (0.05 s) between two reads.
        assert waited < 0.05 + 0.1, waited
    finally:
        for store in stores:
            await store.aclose()


async def test_a_claim_whose_worker_died_runs_out_with_its_lease(redis_url: str) -> None:
    stores = [RedisStore(redis_url), RedisStore(redis_url)]
    dead = RedisDeliveries(stores[0])
    cache = DeliveryCache(shared=RedisDeliveries(stores[1]))
    lease = 0.4
    runs: list[str] = []

    async def compute() -> Reply:
        runs.append("retry")
        return Reply(200, body=b"[2]")

    try:
        claim = await dead.claim(b"k", lease)  # and never settled: the worker died
        assert isinstance(claim, bytes)
        started = time.perf_counter()
        answer = await cache.answer(b"k", compute, rebuild=repeated, lease=lease)
        elapsed = time.perf_counter() - started
        assert answer.body == b"[2]" and runs == ["retry"]
        assert lease * 0.8 < elapsed < lease + LEASE_MARGIN, elapsed
        # The dead worker's claim, settled late, does not overwrite the new answer.
        await dead.settle(b"k", claim, (200, [], b"[1]"), 60)
        assert await RedisDeliveries(stores[0]).claim(b"k", lease) == (
            200,
            [(b"content-type", b"application/json")],
            b"[2]",
        )
    finally:
        for store in stores:
            await store.aclose()


async def test_a_server_error_releases_the_claim_at_once(redis_url: str) -> None:
    stores = [RedisStore(redis_url), RedisStore(redis_url)]
    caches = [DeliveryCache(shared=RedisDeliveries(store)) for store in stores]
    runs: list[int] = []

    async def compute() -> Reply:
        runs.append(len(runs) + 1)
        return Reply(503 if len(runs) == 1 else 200, body=b"%d" % len(runs))

    try:
        started = time.perf_counter()
        assert (await caches[0].answer(b"k", compute, rebuild=repeated)).status == 503
        assert (await caches[1].answer(b"k", compute, rebuild=repeated)).body == b"2"
        assert (await caches[0].answer(b"k", compute, rebuild=repeated)).body == b"2"
        assert runs == [1, 2]
        assert time.perf_counter() - started < 1.0  # not after a lease of 10 s
    finally:
        for store in stores:
            await store.aclose()


async def test_a_redis_that_fails_still_gets_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    # A port nothing listens on: every operation fails at once.
    store = RedisStore(f"redis://127.0.0.1:{_closed_port()}", timeout=0.2)
    cache = DeliveryCache(shared=RedisDeliveries(store))
    runs: list[int] = []

    async def compute() -> Reply:
        runs.append(1)
        return Reply(200)

    try:
        with caplog.at_level(logging.WARNING, logger="jambonz_webhooks"):
            assert (await cache.answer(b"k", compute, rebuild=repeated)).status == 200
            # Still deduplicated in the process.
            assert (await cache.answer(b"k", compute, rebuild=repeated)).how == "repeat"
        assert runs == [1]
        assert any("cannot be told across workers" in record.getMessage() for record in caplog.records)
    finally:
        with suppress(Exception):
            await store.aclose()


async def test_a_record_that_is_not_an_answer_is_not_trusted(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_url)
    cache = DeliveryCache(shared=RedisDeliveries(store))
    with redis_sync.Redis.from_url(redis_url) as client:
        client.set(DELIVERY_PREFIX + b"k".hex(), b"A{not json\n[]")

    async def compute() -> Reply:
        return Reply(200, body=b"computed")

    try:
        with caplog.at_level(logging.WARNING, logger="jambonz_webhooks"):
            assert (await cache.answer(b"k", compute, rebuild=repeated)).body == b"computed"
        assert any("not an answer this framework wrote" in record.getMessage() for record in caplog.records)
    finally:
        await store.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# =============================================================================================
# Redis: two uvicorn processes of one app
# =============================================================================================


@dataclass
class Pair:
    """Two uvicorn processes of tests/apps/dedup.py on one Redis."""

    servers: list[LiveServer]
    redis_url: str
    log_dir: Path

    def runs(self, sid: str) -> int:
        with redis_sync.Redis.from_url(self.redis_url) as client:
            value = client.get(f"test:runs:{sid}")
        return int(value or 0)


def start_servers(log_dir: Path, redis_url: str, count: int, tag: str) -> list[LiveServer]:
    env = {"JAMBONZ_REDIS_URL": redis_url}
    servers = [_spawn("tests.apps.dedup:app", log_dir, f"{tag}-{i}", env) for i in range(count)]
    deadline = time.monotonic() + 20
    for server in servers:
        if not _wait_ready(server, deadline):
            for started in servers:
                _stop(started.process)
            raise RuntimeError(f"uvicorn tests.apps.dedup:app did not start:\n{server.stderr()}")
    return servers


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    log_dir = tmp_path_factory.mktemp("dedup")
    servers = start_servers(log_dir, redis_server.url, 2, "worker")
    try:
        yield Pair(servers, redis_server.url, log_dir)
    finally:
        for server in servers:
            _stop(server.process)


def deliver(server: LiveServer, path: str, body: bytes, signature: str) -> httpx2.Response:
    """One delivery on a connection of its own, as jambonz's retry opens a new one."""
    with httpx2.Client(base_url=server.origin, timeout=15.0, trust_env=False) as client:
        return client.post(
            path, content=body, headers={"content-type": "application/json", "jambonz-signature": signature}
        )


def said(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()[0]["text"]
    return text


def new_delivery() -> tuple[str, bytes, int, str]:
    sid = f"CA{uuid.uuid4().hex}"
    body = compact(payloads.call_info(call_sid=sid, reason="dtmfDetected", digits="1"))
    t = now()
    return sid, body, t, compute_signature(dedup_app.SECRET, t, body)


@pytest.mark.slow
def test_processes_run_a_delivery_once_however_its_signature_is_written(pair: Pair) -> None:
    a, b = pair.servers
    sid, body, t, digest = new_delivery()
    first = said(deliver(a, "/menu", body, f"t={t},v1={digest}"))
    assert first == f"run 1 pid {a.process.pid}"
    variants = rewritten(t, digest)
    for name, header in variants.items():
        for server in (b, a):
            assert said(deliver(server, "/menu", body, header)) == first, (name, server.port)
    assert pair.runs(sid) == 1


def test_two_genuine_presses_run_twice_across_processes(pair: Pair) -> None:
    a, b = pair.servers
    sid, body, t, _ = new_delivery()
    first = said(deliver(a, "/menu", body, sign(body, dedup_app.SECRET, timestamp=t)))
    second = said(deliver(b, "/menu", body, sign(body, dedup_app.SECRET, timestamp=t + 1)))
    assert (first, second) == (f"run 1 pid {a.process.pid}", f"run 2 pid {b.process.pid}")
    assert pair.runs(sid) == 2


@pytest.mark.slow
def test_a_retry_on_the_other_process_while_the_first_runs_waits_for_its_answer(pair: Pair) -> None:
    a, b = pair.servers
    sid, body, t, digest = new_delivery()

    def send(server: LiveServer, header: str) -> httpx2.Response:
        return deliver(server, "/slow", body, header)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(send, a, f"t={t},v1={digest}")
        deadline = time.monotonic() + 5
        while pair.runs(sid) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pair.runs(sid) == 1  # the first runs now, for half a second
        retry = send(b, f"v1={digest.upper()},t={t}")
        assert said(retry) == said(first.result()) == f"run 1 pid {a.process.pid}"
    assert pair.runs(sid) == 1


@pytest.mark.slow
def test_a_process_dying_mid_handler_does_not_block_the_retry(pair: Pair) -> None:
    _, b = pair.servers
    [victim] = start_servers(pair.log_dir, pair.redis_url, 1, "victim")
    sid, body, t, digest = new_delivery()
    header = f"t={t},v1={digest}"
    outcome: list[BaseException | httpx2.Response] = []

    def first() -> None:
        try:
            outcome.append(deliver(victim, "/stall", body, header))
        except httpx2.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=first)
    sent = time.monotonic()  # the victim claims the delivery after this
    thread.start()
    try:
        with redis_sync.Redis.from_url(pair.redis_url) as client:
            deadline = time.monotonic() + 5
            while client.get(f"test:stalled:{sid}") is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert int(client.get(f"test:stalled:{sid}") or 0) == victim.process.pid
        os.kill(victim.process.pid, signal.SIGKILL)  # mid-handler: its claim is never settled
        victim.process.wait(timeout=5)
        thread.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], httpx2.HTTPError)
        started = time.monotonic()
        retry = said(deliver(b, "/stall", body, header))
        answered = time.monotonic()
    finally:
        _stop(victim.process)
        thread.join(timeout=10)
    assert retry == f"run 2 pid {b.process.pid}"
    # The retry waited for the dead claim's lease (the deadline and a margin) to run out, no longer.
    lease = dedup_app.DEADLINE + LEASE_MARGIN
    assert answered - sent >= lease, (answered - sent, lease)
    assert answered - started < lease + 1.0, answered - started
    assert pair.runs(sid) == 2
    # The answer is the record now: a further retry on either process gets it.
    assert said(deliver(b, "/stall", body, header)) == retry
