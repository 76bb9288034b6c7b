"""Where the REST API key goes, end to end: uvicorn on a real port, a fake API, a fake attacker.

A payload's ``api_base_url`` is what a request says. The key (``Authorization: Bearer ...``)
must reach the address the operator configured, or the payload's address when jambonz signed
the request, and never an address an unauthenticated request named. The app keeps one client
whatever the payloads say: a new account per request must not grow the process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest

from jambonz_webhooks.testing import signed_headers
from tests import payloads
from tests.conftest import LiveServer, _spawn, _stop, _wait_ready
from tests.fake_jambonz_api import ACCOUNT_SID, API_KEY, LIVE_CALL_SID, FakeJambonzAPI, serve

SECRET = "wh_secret_rest_trust_0123456789"
APP = "tests.apps.rest_caller:app"


@pytest.fixture(scope="module")
def attacker() -> Iterator[tuple[FakeJambonzAPI, str]]:
    """A second API server, standing for an address an attacker chose: it records every request."""
    api = FakeJambonzAPI()
    with serve(api) as origin:
        yield api, origin


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, fake_api_server: tuple[FakeJambonzAPI, str]
) -> Iterator[dict[str, LiveServer]]:
    """The same app three ways: opened without protection, signed, and opened with a configured API."""
    _, api_origin = fake_api_server
    log_dir: Path = tmp_path_factory.mktemp("rest-trust")
    key = {"JAMBONZ_API_KEY": API_KEY}
    envs = {
        "open": {**key, "JAMBONZ_WEBHOOK_INSECURE": "1"},
        "signed": {**key, "JAMBONZ_WEBHOOK_SECRET": SECRET},
        "configured": {**key, "JAMBONZ_WEBHOOK_INSECURE": "1", "JAMBONZ_API_BASE_URL": api_origin},
    }
    with ExitStack() as stack:
        started = {name: _spawn(APP, log_dir, name, env) for name, env in envs.items()}
        for server in started.values():
            stack.callback(_stop, server.process)
        for server in started.values():
            assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        yield started


def _body(api_base_url: str, account_sid: str = ACCOUNT_SID) -> bytes:
    payload: dict[str, Any] = payloads.session_new(
        api_base_url=f"{api_base_url}/v1", account_sid=account_sid, call_sid=LIVE_CALL_SID
    )
    return json.dumps(payload, separators=(",", ":")).encode()


def _post(server: LiveServer, body: bytes, *, signed: bool = False) -> httpx2.Response:
    headers = signed_headers(body, SECRET) if signed else {"Content-Type": "application/json"}
    return httpx2.post(f"{server.origin}/incoming", content=body, headers=headers, timeout=10)


def _said(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()[0]["text"]
    return text


def _keys_seen(api: FakeJambonzAPI) -> list[str | None]:
    return [request.authorization for request in api.requests]


@pytest.mark.slow
def test_an_unsigned_request_naming_an_address_on_an_open_app_sends_the_key_nowhere(
    servers: dict[str, LiveServer], attacker: tuple[FakeJambonzAPI, str]
) -> None:
    spy, spy_origin = attacker
    spy.reset()
    assert _said(_post(servers["open"], _body(spy_origin))) == "refused UntrustedAddressError"
    assert spy.requests == []


def test_an_unsigned_request_to_a_signed_app_is_refused_before_the_handler(
    servers: dict[str, LiveServer], attacker: tuple[FakeJambonzAPI, str]
) -> None:
    spy, spy_origin = attacker
    spy.reset()
    response = _post(servers["signed"], _body(spy_origin))
    assert response.status_code == 401
    assert spy.requests == []


def test_a_signed_request_is_trusted_with_its_api_base_url(
    servers: dict[str, LiveServer], fake_api: FakeJambonzAPI, fake_api_server: tuple[FakeJambonzAPI, str]
) -> None:
    _, api_origin = fake_api_server
    assert _said(_post(servers["signed"], _body(api_origin), signed=True)) == "sent"
    assert _keys_seen(fake_api) == [f"Bearer {API_KEY}"]


def test_a_signed_request_naming_a_clear_text_address_on_the_network_is_refused(
    servers: dict[str, LiveServer],
) -> None:
    # 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is tried.
    body = _body("http://192.0.2.10:3000")
    assert _said(_post(servers["signed"], body, signed=True)) == "refused UntrustedAddressError"


def test_a_configured_address_wins_over_any_payload(
    servers: dict[str, LiveServer], fake_api: FakeJambonzAPI, attacker: tuple[FakeJambonzAPI, str]
) -> None:
    spy, spy_origin = attacker
    spy.reset()
    assert _said(_post(servers["configured"], _body(spy_origin))) == "sent"
    assert spy.requests == []
    assert _keys_seen(fake_api) == [f"Bearer {API_KEY}"]


def _rss_kib(server: LiveServer) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_new_account_per_request_does_not_grow_the_process(
    servers: dict[str, LiveServer], fake_api: FakeJambonzAPI, attacker: tuple[FakeJambonzAPI, str]
) -> None:
    server = servers["configured"]
    _, spy_origin = attacker
    with httpx2.Client(base_url=server.origin, timeout=10) as client:

        def burst(count: int) -> None:
            for _ in range(count):
                body = _body(spy_origin, account_sid=str(uuid.uuid4()))
                response = client.post(
                    "/incoming", content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 200

        burst(300)  # warm: every model, validator and pool built
        before = _rss_kib(server)
        burst(1500)
        after = _rss_kib(server)
    # Before: one client, with its pool, per account: 1,441 accounts took 1.2 GB.
    assert after - before < 8 * 1024, (before, after)
    assert len(fake_api.requests) == 1800
