"""Protections configured in code, end to end against uvicorn on a real port (tests/apps/secure.py).

Secret rotation, a custom tolerance, GET hooks let through unsigned by choice, and repeated
deliveries answered once: each checked with requests signed the way jambonz signs them.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from jambonz_webhooks.testing import signed_headers
from tests import payloads
from tests.apps.secure import SECRETS, TOLERANCE


def body_of(payload: dict[str, Any]) -> bytes:
    """What jambonz sends: ``JSON.stringify``, compact and raw UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def new_call() -> tuple[str, bytes]:
    sid = f"CA{uuid.uuid4().hex}"
    return sid, body_of(payloads.session_new(call_sid=sid))


def runs(client: httpx2.Client, sid: str) -> int:
    count: int = client.get(f"/runs/{sid}").json()["runs"]
    return count


def said(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()[0]["text"]
    return text


@pytest.mark.parametrize("secret", SECRETS, ids=["new secret", "old secret"])
def test_either_secret_of_a_rotation_is_accepted(secure_client: httpx2.Client, secret: str) -> None:
    _, body = new_call()
    assert (
        said(secure_client.post("/incoming", content=body, headers=signed_headers(body, secret))) == "run 1"
    )


def test_a_secret_outside_the_rotation_is_refused(secure_client: httpx2.Client) -> None:
    sid, body = new_call()
    response = secure_client.post(
        "/incoming", content=body, headers=signed_headers(body, "wh_secret_retired")
    )
    assert response.status_code == 401
    assert response.json() == {"error": "the signature does not match"}
    assert runs(secure_client, sid) == 0


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        pytest.param(-(TOLERANCE - 20), 200, id="recent past"),
        pytest.param(TOLERANCE - 20, 200, id="near future"),
        pytest.param(-(TOLERANCE + 30), 401, id="stale"),
        pytest.param(TOLERANCE + 30, 401, id="too far in the future"),
    ],
)
def test_the_configured_tolerance_applies_both_ways(
    secure_client: httpx2.Client, offset: int, status: int
) -> None:
    _, body = new_call()
    headers = signed_headers(body, SECRETS[0], timestamp=int(time.time()) + offset)
    response = secure_client.post("/incoming", content=body, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert "tolerance" in response.json()["error"]


@pytest.mark.slow
def test_get_hooks_are_let_through_unsigned_when_the_app_opts_in(secure_client: httpx2.Client) -> None:
    sid = f"CA{uuid.uuid4().hex}"
    response = secure_client.get("/slow", params={"call_sid": sid})
    assert said(response) == "slow run 1"
    # A POST to the same hook is still checked.
    unsigned = secure_client.post(
        "/slow", content=body_of({"call_sid": sid}), headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401
    body = body_of({"call_sid": sid})
    not_json = {**signed_headers(body, SECRETS[0]), "content-type": "text/plain"}
    assert secure_client.post("/slow", content=body, headers=not_json).status_code == 415


def test_a_repeated_delivery_gets_the_first_answer_and_the_handler_runs_once(
    secure_client: httpx2.Client,
) -> None:
    sid, body = new_call()
    headers = signed_headers(body, SECRETS[0])
    first = secure_client.post("/incoming", content=body, headers=headers)
    repeat = secure_client.post("/incoming", content=body, headers=headers)
    assert said(first) == "run 1"
    assert repeat.content == first.content
    assert runs(secure_client, sid) == 1
    # Signed again (another timestamp), it is another delivery: the handler runs.
    later = signed_headers(body, SECRETS[0], timestamp=int(time.time()) + 1)
    assert said(secure_client.post("/incoming", content=body, headers=later)) == "run 2"


@pytest.mark.slow
def test_a_repeat_that_arrives_while_the_first_still_runs_waits_for_its_answer(
    secure_server_origin: str,
) -> None:
    sid = f"CA{uuid.uuid4().hex}"
    body = body_of(payloads.call_info(call_sid=sid))
    headers = signed_headers(body, SECRETS[1])

    def deliver(_: int) -> httpx2.Response:
        # One connection each, as jambonz's retry opens a new one after a timeout.
        with httpx2.Client(base_url=secure_server_origin, timeout=10) as client:
            return client.post("/slow", content=body, headers=headers)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(deliver, range(3)))
    assert [said(answer) for answer in answers] == ["slow run 1"] * 3
    with httpx2.Client(base_url=secure_server_origin) as client:
        assert runs(client, sid) == 1


def test_a_server_error_is_not_repeated_so_a_retry_can_get_past_it(secure_client: httpx2.Client) -> None:
    sid = f"CA{uuid.uuid4().hex}"
    body = body_of(payloads.call_info(call_sid=sid))
    headers = signed_headers(body, SECRETS[0])
    failed = secure_client.post("/flaky", content=body, headers=headers)
    assert failed.status_code == 503
    assert failed.json() == {"error": "try again"}
    retried = secure_client.post("/flaky", content=body, headers=headers)
    assert retried.json() == [{"verb": "hangup"}]
    assert runs(secure_client, sid) == 2
    # The successful answer is the one repeated now.
    assert secure_client.post("/flaky", content=body, headers=headers).json() == [{"verb": "hangup"}]
    assert runs(secure_client, sid) == 2


def test_routes_that_are_not_hooks_are_not_asked_for_a_signature(secure_client: httpx2.Client) -> None:
    # A container's health check, say: only hooks are jambonz's to call.
    assert secure_client.get(f"/runs/CA{uuid.uuid4().hex}").json() == {"runs": 0}
