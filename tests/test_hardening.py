"""Bounds on what a request, a call or a failing store can make the process spend.

Each test sends or simulates what an attacker (or an outage) would, and checks the bound
holds: the kept session, the memory store's bytes, the Redis pool, a body sent slowly or
in too many parts at once, a huge signature header, and the log during a store outage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient
from starlette.types import Message

import jambonz_webhooks.asgi as asgi
from jambonz_webhooks import (
    CallSession,
    CallState,
    GatherResult,
    JambonzApp,
    MemoryStore,
    RedisStore,
    WebhookResponse,
)
from jambonz_webhooks.asgi import RequestHeaders, read_body
from jambonz_webhooks.errors import HookError
from jambonz_webhooks.security import MAX_SIGNATURE_HEADER
from jambonz_webhooks.state import MAX_SESSION_SIZE, SESSION_KEY, OutageLog, StateStoreError, session_to_keep
from jambonz_webhooks.testing import signed_headers
from tests import payloads

LOGGER = "jambonz_webhooks"
SECRET = "wh_secret_hardening_0123456789"


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def big_call(call_sid: str, sip_bytes: int = 1_000_000) -> dict[str, Any]:
    """A call hook whose SIP INVITE body is ``sip_bytes`` long, with env vars the later hooks need."""
    payload = payloads.session_new(call_sid=call_sid, env_vars={"COMPANY_NAME": "Globex"})
    payload["sip"]["body"] = "v=0\r\n" + "a" * sip_bytes
    return payload


# --------------------------------------------------------------------------- the kept session


def test_a_session_within_the_cap_is_kept_byte_for_byte() -> None:
    body = compact(payloads.session_new())
    assert session_to_keep("CA1", body) is body


def test_a_large_session_loses_its_sip_details_first_and_keeps_env_vars(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = compact(big_call("CA-big"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        kept = session_to_keep("CA-big", body)
    assert len(kept) <= MAX_SESSION_SIZE
    session = json.loads(kept)
    assert "sip" not in session
    assert session["env_vars"] == {"COMPANY_NAME": "Globex"}
    assert session["call_sid"] == "CA-big" and session["from"] == payloads.session_new()["from"]
    (record,) = caplog.records
    message = record.getMessage()
    assert "kept without sip" in message and str(len(body)) in message
    assert "aaaa" not in message and "Globex" not in message  # names and sizes, never values


def test_fields_the_protocol_does_not_define_are_counted_not_named(caplog: pytest.LogCaptureFixture) -> None:
    payload = {**payloads.session_new(), **{f"attacker-{i}": "x" * 100 for i in range(2_000)}}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        kept = json.loads(session_to_keep("CA1", compact(payload)))
    assert kept["call_sid"] == payload["call_sid"]
    message = caplog.records[0].getMessage()
    assert "attacker-" not in message and "other fields" in message
    assert len(message) < 300


def test_env_vars_go_last_and_only_when_they_alone_pass_the_cap() -> None:
    payload = payloads.session_new(env_vars={"HUGE": "x" * 100_000})
    kept = json.loads(session_to_keep("CA1", compact(payload)))
    assert "env_vars" not in kept and kept["call_sid"] == payload["call_sid"]


def test_a_1_mib_call_hook_keeps_at_most_the_cap_and_later_hooks_still_have_its_env_vars() -> None:
    store = MemoryStore()
    app = JambonzApp(webhook_secret=SECRET, state=store)
    seen: list[Any] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(input=["digits"], action_hook=menu)

    @app.action_hook("/menu")
    async def menu(result: GatherResult, state: CallState) -> WebhookResponse:
        seen.append(await state.env_vars())
        return WebhookResponse().hangup()

    with TestClient(app) as client:
        for index in range(40):
            body = compact(big_call(f"CA-{index}"))
            assert len(body) > 1_000_000
            answer = client.post("/incoming", content=body, headers=signed_headers(body, SECRET))
            assert answer.status_code == 200
            kept = asyncio.run(store.get("CA-0", SESSION_KEY))
            assert kept is not None and len(kept) <= MAX_SESSION_SIZE
        # 40 calls of 1 MiB each hold at most 40 times the cap (they held 40 MiB before).
        assert store.size <= 40 * MAX_SESSION_SIZE
        follow = compact(payloads.call_info(call_sid="CA-7", digits="1"))
        assert client.post("/menu", content=follow, headers=signed_headers(follow, SECRET)).status_code == 200
    assert seen == [{"COMPANY_NAME": "Globex"}]


def test_the_cap_is_the_apps_to_choose() -> None:
    store = MemoryStore()
    app = JambonzApp(insecure=True, state=store, max_session_size=1024)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
        return WebhookResponse().hangup()

    with TestClient(app) as client:
        assert client.post("/incoming", json=payloads.session_new(call_sid="CA-x")).status_code == 200
    kept = asyncio.run(store.get("CA-x", SESSION_KEY))
    assert kept is not None and len(kept) <= 1024 and json.loads(kept)["call_sid"] == "CA-x"


# --------------------------------------------------------------------------- the memory store's bytes


async def test_the_memory_store_drops_the_oldest_calls_past_its_bytes() -> None:
    store = MemoryStore(max_bytes=10_000)
    for index in range(50):
        store.put(f"CA-{index}", {"k": b"x" * 1000})
    assert store.size <= 10_000
    assert len(store) == 10
    assert await store.get("CA-0", "k") is None
    assert await store.get("CA-49", "k") == b"x" * 1000


async def test_the_memory_store_counts_what_it_holds_through_every_change() -> None:
    store = MemoryStore()
    await store.set("CA", {"a": b"12345", "b": b"1"})
    assert store.size == 6
    await store.set("CA", {"a": b"1"})  # replaced, smaller
    assert store.size == 2
    assert await store.take("CA", "b") == b"1"
    assert store.size == 1
    await store.delete("CA", "a")
    assert store.size == 0
    await store.set("CA", {"a": b"1"})
    await store.drop("CA")
    assert store.size == 0 and len(store) == 0


async def test_expired_calls_give_their_bytes_back() -> None:
    now = [0.0]
    store = MemoryStore(ttl=10, clock=lambda: now[0])
    await store.set("CA-old", {"a": b"x" * 100})
    now[0] = 11.0
    await store.set("CA-new", {"a": b"y"})
    assert store.size == 1 and len(store) == 1
    await store.set("CA-old", {"b": b"zz"})  # expired: written anew, its old bytes gone
    assert store.size == 3 and await store.get("CA-old", "a") is None


async def test_put_one_counts_as_put_does() -> None:
    now = [0.0]
    store = MemoryStore(ttl=10, clock=lambda: now[0])
    store.put_one("CA", SESSION_KEY, b"x" * 100)
    assert store.size == 100
    store.put_one("CA", SESSION_KEY, b"y" * 40)  # the same call again: replaced
    store.put_one("CA", "other", b"z" * 5)
    assert store.size == 45 and await store.get("CA", SESSION_KEY) == b"y" * 40
    now[0] = 20.0  # expired: written anew
    store.put_one("CA", SESSION_KEY, b"w" * 7)
    assert store.size == 7 and await store.get("CA", "other") is None
    small = MemoryStore(max_bytes=1_000)
    for index in range(10):
        small.put_one(f"CA-{index}", SESSION_KEY, b"s" * 300)
    assert small.size <= 1_000 and len(small) == 3


# --------------------------------------------------------------------------- the Redis pool


class _SilentServer:
    """A TCP server that accepts connections and never answers: a Redis that stalls."""

    def __init__(self) -> None:
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.accepted += 1
            self._writers.append(writer)

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@pytest.mark.slow
async def test_a_stalled_redis_gets_a_bounded_number_of_connections() -> None:
    silent = _SilentServer()
    port = await silent.start()
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.5, max_connections=8)
    try:
        results = await asyncio.gather(
            *(store.get(f"CA-{index}", "k") for index in range(200)), return_exceptions=True
        )
        assert all(isinstance(result, StateStoreError) for result in results)
        assert 1 <= silent.accepted <= 8, silent.accepted  # 200 before the bound
    finally:
        await store.aclose()
        await silent.stop()


# --------------------------------------------------------------------------- a store outage in the log


def test_an_outage_logs_one_line_a_period_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = OutageLog(logging.getLogger(LOGGER), period=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for index in range(500):
            outage.failed()
            outage.warn("hook failed for call_sid=%s", f"CA-{index}", call_sid=f"CA-{index}")
        now[0] += 1.5
        outage.failed()
        outage.warn("hook failed for call_sid=%s", "CA-last", call_sid="CA-last")
        outage.recovered("Redis at redis://host:6379")
        outage.recovered  # noqa: B018 - once only: down is cleared
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "hook failed for call_sid=CA-0",
        "hook failed for call_sid=CA-last (and 499 more such failures in the last 1 s, not logged)",
        "Redis at redis://host:6379 answers again, after 501 failed operations",
    ]
    assert all(record.exc_info is None for record in caplog.records)
    assert not outage.down


# --------------------------------------------------------------------------- bodies and headers


def _parts(*chunks: bytes, stall: bool = False) -> Any:
    """An ASGI receive that hands out ``chunks`` as parts of one body, then stalls or ends."""
    queue = list(chunks)

    async def receive() -> Message:
        if queue:
            chunk = queue.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(queue) or stall}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    return receive


async def test_a_body_in_parts_is_read_whole() -> None:
    assert await read_body(_parts(b"ab", b"cd", b"ef"), 10) == b"abcdef"
    assert asgi._in_flight == 0


async def test_a_stalled_body_is_refused_in_time_with_its_connection_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asgi, "BODY_TIMEOUT", 0.2)
    started = time.monotonic()
    with pytest.raises(HookError) as refused:
        await read_body(_parts(b"a" * 1000, stall=True), 1_000_000)
    assert 0.15 < time.monotonic() - started < 2
    assert refused.value.status_code == 408
    assert (b"connection", b"close") in refused.value.headers
    assert asgi._in_flight == 0  # its bytes are given back


async def test_bodies_in_parts_share_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asgi, "MAX_BODIES_IN_FLIGHT", 10_000)
    stalled = [asyncio.ensure_future(read_body(_parts(b"x" * 4_000, stall=True), None)) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert asgi._in_flight == 8_000
    with pytest.raises(HookError) as refused:
        await read_body(_parts(b"y" * 4_000, stall=True), None)
    assert refused.value.status_code == 503
    for task in stalled:
        task.cancel()
    await asyncio.gather(*stalled, return_exceptions=True)
    assert asgi._in_flight == 0
    # A body in one message never counts: jambonz's own are not refused by others' stalls.
    assert await read_body(_parts(b"z" * 20_000), None) == b"z" * 20_000


def test_a_huge_signature_header_is_cut_before_it_is_decoded() -> None:
    headers = RequestHeaders([(b"jambonz-signature", b"t=1," + b"v1=" * 5_000_000)])
    assert headers.signature is not None and len(headers.signature) == MAX_SIGNATURE_HEADER + 1


def test_a_huge_signature_header_is_refused_as_too_long_at_once() -> None:
    app = JambonzApp(webhook_secret=SECRET)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise AssertionError("never reached")

    body = compact(payloads.session_new())
    header = f"t={int(time.time())}," + ",".join(["v1=" + "0" * 64] * 250_000)  # 17 MB
    with TestClient(app) as client:
        started = time.monotonic()
        response = client.post(
            "/incoming",
            content=body,
            headers={"Jambonz-Signature": header, "Content-Type": "application/json"},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert response.json() == {"error": "malformed Jambonz-Signature header: too long"}
    assert elapsed < 1.0


@pytest.fixture
def unsigned_refusal(protected_server: Any) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", protected_server.port), timeout=5) as sock:
        yield sock


def test_a_request_refused_before_its_body_closes_the_connection(unsigned_refusal: socket.socket) -> None:
    """300 of these held 326 MB and never closed: now each is answered at once, then closed."""
    sock = unsigned_refusal
    sock.sendall(
        b"POST /incoming HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1048566\r\n\r\n" + b"{" * 10
    )
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break  # the server closed it
        received += chunk
    assert received.startswith(b"HTTP/1.1 401 ")
    assert b"connection: close" in received.lower()


# --------------------------------------------------------------------------- NaN in an answer


@pytest.mark.parametrize(
    "build",
    [
        lambda: WebhookResponse().pause(length=float("nan")),
        lambda: WebhookResponse().tag(data={"score": float("nan")}),
        lambda: WebhookResponse().tag(data={"nested": [{"x": float("inf")}]}),
        lambda: WebhookResponse().config(record={"tries": float("-inf")}),
        lambda: WebhookResponse([{"verb": "tag", "data": {"x": float("nan")}}]),
    ],
    ids=["typed-number", "free-form", "deep", "nested-component", "raw-dict"],
)
def test_a_handler_answering_nan_gets_the_fallback_never_invalid_json(build: Any) -> None:
    with pytest.raises(ValidationError, match=r"finite|NaN"):
        build()  # refused when the answer is built, naming the field, not the value
    app = JambonzApp(insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        answer: WebhookResponse = build()
        return answer

    with TestClient(app) as client:
        response = client.post("/incoming", json=payloads.session_new())
    assert response.status_code == 200
    assert b"NaN" not in response.content and b"Infinity" not in response.content
    assert response.json() == _fallback()


def _fallback() -> list[dict[str, Any]]:
    from jambonz_webhooks.app import DEFAULT_FALLBACK
    from jambonz_webhooks.hooks import NO_CONTEXT
    from jambonz_webhooks.response import encode_verbs

    encoded: list[dict[str, Any]] = json.loads(encode_verbs(DEFAULT_FALLBACK.verbs, NO_CONTEXT))
    return encoded


# --------------------------------------------------------------------------- deep JSON in a query


@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_json_nested_deep_in_a_query_value_is_a_400_on_a_real_server(probe_server: Any, depth: int) -> None:
    """A 500 with a traceback in the log before; the server answers the next request as usual."""
    from urllib.parse import quote

    import httpx2

    deep = quote("[" * depth + "]" * depth)
    query = (
        f"call_sid=CA1&account_sid=AC1&application_sid=AP1&direction=inbound&from=a&to=b&call_id=c&sip={deep}"
    )
    before = len(probe_server.stderr())  # the probe's other hooks raise on purpose: only what follows counts
    with httpx2.Client(base_url=probe_server.origin, timeout=10, trust_env=False) as client:
        response = client.get(f"/echo-call?{query}")
        assert response.status_code == 400, response.text[:300]
        assert response.json() == {"error": "the payload is nested too deeply"}
        assert client.post("/echo-call", json=payloads.session_new()).status_code == 200
    assert "Traceback" not in probe_server.stderr()[before:]


# --------------------------------------------------------------------------- secrets


def test_secrets_are_in_no_repr_and_no_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret, password, key = "wh_secret_NEVER_SHOWN", "pw_NEVER_SHOWN", "key_NEVER_SHOWN"
    monkeypatch.setenv("JAMBONZ_API_KEY", key)
    app = JambonzApp(
        webhook_secret=[secret, secret + "_old"],
        basic_auth=("jambonz", password),
        state=RedisStore(f"redis://user:{password}@127.0.0.1:1/0", timeout=0.2),
        api_base_url="https://api.example.com",
    )

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
        await state.get("x")  # fails: the store is unreachable
        return WebhookResponse().hangup()

    shown = " ".join(
        repr(thing)
        for thing in (
            app.hook_settings.security,
            app.hook_settings.state,
            app.hook_settings.api,
            app.hook_settings,
        )
    )
    body = compact(payloads.session_new())
    from jambonz_webhooks.testing import basic_auth_header

    headers = {**signed_headers(body, secret), **basic_auth_header("jambonz", password)}
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        assert client.post("/incoming", content=body, headers=headers).status_code == 200  # the fallback
        wrong = {
            **signed_headers(body, "wh_secret_wrong"),
            **basic_auth_header("jambonz", "nope"),
        }
        assert client.post("/incoming", content=body, headers=wrong).status_code == 401
    logged = caplog.text
    for value in (secret, password, key):
        assert value not in shown
        assert value not in logged
    assert "Redis at redis://user:***@127.0.0.1:1/0 failed" in logged  # the store's failure, redacted
