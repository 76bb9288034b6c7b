"""End to end: uvicorn on a real socket, driven the way jambonz drives an application.

Every hook is sent four ways (PROTOCOL.md, sections 1 and 2):

- ``post``: a compact JSON body, as jambonz does by default;
- ``get_brackets``: a GET whose query string carries flat keys, nested objects in bracket
  notation (``sip[headers][X-Foo]=bar``) and every value as text (``sip_status=100``);
- ``get_json``: a GET whose query string carries nested objects as JSON text (``sip={...}``);
- ``get_body``: a GET that carries the JSON body, as older jambonz servers did.

Hook chains are followed like jambonz does: the ``actionHook`` of an answer is resolved against
the server's origin (never its path) and called next.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any, Literal
from urllib.parse import quote

import httpx2
import pytest

from jambonz_webhooks.app import DEFAULT_FALLBACK
from tests.conftest import REPO_ROOT, LiveServer
from tests.payloads import call_info, session_new

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # a folder of scripts, not a package
from bare_app import incoming_verbs  # after the path that finds it

Style = Literal["post", "get_brackets", "get_json", "get_body"]
STYLES: tuple[Style, ...] = ("post", "get_brackets", "get_json", "get_body")

SALES_NUMBER = "+15551230001"
TRANSCRIPT = "Je voudrais parler à quelqu'un & vite = merci ☎"

# --------------------------------------------------------------------------- encoding helpers


def _text(value: Any) -> str:
    """A scalar as a query string carries it: everything is text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bracket_pairs(value: Any, key: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for sub, item in value.items() for pair in _bracket_pairs(item, f"{key}[{sub}]")]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value) for pair in _bracket_pairs(item, f"{key}[{index}]")]
    if value is None:
        return []
    return [(key, _text(value))]


def _encode(pairs: list[tuple[str, str]]) -> str:
    # Brackets stay literal in keys, as form encoders write them; everything else is escaped.
    return "&".join(f"{quote(key, safe='[]')}={quote(value, safe='')}" for key, value in pairs)


def query_brackets(payload: dict[str, Any]) -> str:
    """``a=1&sip[headers][X-Foo]=bar&speech[alternatives][0][transcript]=hi``."""
    return _encode([pair for key, value in payload.items() for pair in _bracket_pairs(value, key)])


def query_json(payload: dict[str, Any]) -> str:
    """Scalars as text, objects and lists as JSON text: ``a=1&sip={"headers":{...}}``."""
    pairs = [
        (
            key,
            json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            if isinstance(value, dict | list)
            else _text(value),
        )
        for key, value in payload.items()
        if value is not None
    ]
    return _encode(pairs)


def jambonz_json(payload: Any) -> bytes:
    """The body jambonz sends: ``JSON.stringify`` (compact, raw UTF-8)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def send(client: httpx2.Client, url: str, payload: dict[str, Any], style: Style) -> httpx2.Response:
    """Deliver ``payload`` to the hook at ``url`` the way ``style`` says."""
    if style == "post":
        return client.post(url, content=jambonz_json(payload), headers={"content-type": "application/json"})
    if style == "get_body":
        return client.request(
            "GET", url, content=jambonz_json(payload), headers={"content-type": "application/json"}
        )
    query = query_brackets(payload) if style == "get_brackets" else query_json(payload)
    return client.get(f"{url}?{query}")


def resolve_hook(client: httpx2.Client, hook: Any) -> str:
    """What jambonz calls for a hook: ``origin + hook`` for a relative one (never the app's path)."""
    assert isinstance(hook, str), hook
    if hook.startswith("/"):
        url = client.base_url
        return f"{url.scheme}://{url.host}:{url.port}{hook}"
    return hook


def verbs_of(response: httpx2.Response) -> list[dict[str, Any]]:
    """The verbs of a 200 answer, checking it is what jambonz can parse."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    verbs = response.json()
    assert isinstance(verbs, list)
    assert verbs, "an empty answer would fail the call"
    return verbs


def action_hook(verbs: list[dict[str, Any]], verb: str) -> Any:
    """The actionHook of the only ``verb`` in ``verbs``."""
    found = [item for item in verbs if item.get("verb") == verb]
    assert len(found) == 1, verbs
    return found[0]["actionHook"]


def assert_json_error(response: httpx2.Response, status: int) -> str:
    """A short JSON error, no traceback; returns its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body["error"]


def new_sid() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- expected answers


# The company the test payloads' env_vars name (payloads.session_new): the call hook reads it
# from its payload, and /menu from the call's state, since its own payload has no env_vars.
COMPANY = "Acme"


def incoming_answer(prefix: str = "") -> list[dict[str, Any]]:
    # The bare benchmark app's answer: the example's incoming, written by hand as dicts.
    verbs = incoming_verbs(COMPANY)
    verbs[1]["actionHook"] = f"{prefix}/menu"
    return verbs


def sales_answer(prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"verb": "say", "text": f"Thank you for calling {COMPANY}. Connecting you to sales."},
        {
            "verb": "dial",
            "target": [{"type": "phone", "number": SALES_NUMBER}],
            "actionHook": f"{prefix}/dial-result",
        },
    ]


HANGUP = {"verb": "hangup"}
SUPPORT_ANSWER = [
    {"verb": "say", "text": f"{COMPANY} support is closed right now. Please call back tomorrow."},
    HANGUP,
]
GOODBYE_ANSWER = [{"verb": "say", "text": f"Thank you for calling {COMPANY}. Goodbye."}, HANGUP]
SPEECH_ANSWER = [
    {"verb": "say", "text": f"You said: {TRANSCRIPT}. Thank you for calling {COMPANY}, goodbye."},
    HANGUP,
]
SORRY_ANSWER = [{"verb": "say", "text": "Sorry, we could not connect your call."}, HANGUP]
FALLBACK_ANSWER = [
    {"verb": "say", "text": "We are sorry, something went wrong. Please call again later."},
    HANGUP,
]

# --------------------------------------------------------------------------- payloads


def gather_digits(digits: str, **overrides: Any) -> dict[str, Any]:
    return call_info(reason="dtmfDetected", digits=digits, **overrides)


def gather_speech(**overrides: Any) -> dict[str, Any]:
    speech = {
        "is_final": True,
        "language_code": "fr-FR",
        "channel_tag": 1,
        "alternatives": [{"transcript": TRANSCRIPT, "confidence": 0.92}],
    }
    return call_info(reason="speechDetected", speech=speech, **overrides)


def dial_outcome(status: str) -> dict[str, Any]:
    sip_status = {"completed": 200, "busy": 486, "no-answer": 487, "failed": 503}[status]
    return call_info(
        dial_call_status=status,
        dial_sip_status=sip_status,
        dial_call_sid="c0ffee00-0000-4000-8000-000000000001",
        dial_sbc_callid="0a1b2c3d@198.51.100.7",
    )


# --------------------------------------------------------------------------- the example IVR


def start_call(client: httpx2.Client, style: Style, prefix: str = "") -> list[dict[str, Any]]:
    """The call hook, checked exactly; returns its verbs."""
    verbs = verbs_of(send(client, f"{prefix}/incoming", session_new(), style))
    assert verbs == incoming_answer(prefix)
    gather = verbs[1]
    assert "verb" not in gather["say"], "a nested verb with a 'verb' key fails the call"
    return verbs


@pytest.mark.parametrize("style", STYLES)
def test_call_hook_answer(ivr_client: httpx2.Client, style: Style) -> None:
    response = send(ivr_client, "/incoming", session_new(), style)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    # Compact JSON, exactly the verbs the IVR answers.
    assert response.content == jambonz_json(incoming_answer())


MENU_BRANCHES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "support": (gather_digits("2"), SUPPORT_ANSWER),
    "speech": (gather_speech(), SPEECH_ANSWER),
    "speech-without-words": (
        call_info(reason="speechDetected", speech={"is_final": True, "alternatives": [{"transcript": ""}]}),
        GOODBYE_ANSWER,
    ),
    "timeout": (call_info(reason="timeout"), GOODBYE_ANSWER),
    "other-digit": (gather_digits("7"), GOODBYE_ANSWER),
    "error": (call_info(reason="error", details={"msg": "stt failed"}), GOODBYE_ANSWER),
}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("branch", sorted(MENU_BRANCHES))
def test_menu_branch(ivr_client: httpx2.Client, style: Style, branch: str) -> None:
    payload, expected = MENU_BRANCHES[branch]
    verbs = start_call(ivr_client, style)
    menu_url = resolve_hook(ivr_client, action_hook(verbs, "gather"))
    assert verbs_of(send(ivr_client, menu_url, payload, style)) == expected


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("dial_status", ["completed", "busy", "no-answer", "failed"])
def test_sales_transfer_chain(ivr_client: httpx2.Client, style: Style, dial_status: str) -> None:
    verbs = start_call(ivr_client, style)
    menu_url = resolve_hook(ivr_client, action_hook(verbs, "gather"))

    verbs = verbs_of(send(ivr_client, menu_url, gather_digits("1"), style))
    assert verbs == sales_answer()
    dial_url = resolve_hook(ivr_client, action_hook(verbs, "dial"))

    verbs = verbs_of(send(ivr_client, dial_url, dial_outcome(dial_status), style))
    assert verbs == ([HANGUP] if dial_status == "completed" else SORRY_ANSWER)


@pytest.mark.parametrize("style", STYLES)
def test_status_hook_answers_204_without_content_type(ivr_client: httpx2.Client, style: Style) -> None:
    for status in ("ringing", "in-progress", "completed"):
        payload = call_info(call_status=status, call_termination_by="caller", duration=42)
        response = send(ivr_client, "/status", payload, style)
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert "content-type" not in response.headers


@pytest.mark.parametrize("path", ["/incoming", "/menu", "/dial-result"])
def test_get_without_payload_is_422_that_says_to_use_post(ivr_client: httpx2.Client, path: str) -> None:
    """What jambonz 0.9.8 sends for a GET hook: no body, no query."""
    message = assert_json_error(ivr_client.get(path), 422)
    assert "POST" in message


def test_get_bracket_query_is_what_the_brief_shows() -> None:
    """The encoder the tests use writes the shapes PROTOCOL.md describes."""
    query = query_brackets(
        {
            "sip_status": 100,
            "sip": {"headers": {"X-Foo": "bar"}},
            "speech": {"alternatives": [{"transcript": "hi"}]},
        }
    )
    assert query == "sip_status=100&sip[headers][X-Foo]=bar&speech[alternatives][0][transcript]=hi"
    assert query_json({"sip_status": 100, "sip": {"headers": {"X-Foo": "bar"}}}) == (
        "sip_status=100&sip=" + quote('{"headers":{"X-Foo":"bar"}}', safe="")
    )


# --------------------------------------------------------------------------- what the models decode


@pytest.mark.parametrize("style", STYLES)
def test_call_session_decoded_from_each_transport(probe_client: httpx2.Client, style: Style) -> None:
    sid = new_sid()
    payload = session_new(call_sid=sid)
    payload["sip"]["headers"]["X-Foo"] = "bar"
    verbs = verbs_of(send(probe_client, "/echo-call", payload, style))
    assert verbs[1] == HANGUP
    seen = json.loads(verbs[0]["text"])
    expected_headers = dict(payload["sip"]["headers"])
    assert seen == {
        "call_sid": sid,
        "from": "+15083084809",
        "sip_status": 100,  # "100" in a query string, coerced to an int
        "direction": "inbound",
        "caller_name": "Alice Example",
        "headers": expected_headers,
        "called_number": "+15083728299",
        # A query string has no numbers: str | int keeps the text there.
        "source_port": 5060 if style in ("post", "get_body", "get_json") else "5060",
        "customer_data": {"crmId": "CRM-123", "nested": {"tier": "gold"}},
        "synth_voice": "en-US-Standard-C",
    }
    assert seen["headers"]["X-Odd-Header"] == 'a=b; c="d e"; ünïcödé ☎'


@pytest.mark.parametrize("style", STYLES)
def test_gather_result_decoded_from_each_transport(probe_client: httpx2.Client, style: Style) -> None:
    verbs = verbs_of(send(probe_client, "/echo-gather", gather_speech(), style))
    assert json.loads(verbs[0]["text"]) == {
        "reason": "speechDetected",
        "digits": None,
        "sip_status": 200,
        "is_final": True,
        "transcript": TRANSCRIPT,
        "confidence": 0.92,
    }


# --------------------------------------------------------------------------- mounted under /voice


MOUNT_CLIENTS = ["starlette_mount_client", "fastapi_mount_client"]


@pytest.mark.parametrize("client_fixture", MOUNT_CLIENTS)
@pytest.mark.parametrize("style", STYLES)
def test_mounted_ivr_writes_and_follows_prefixed_hooks(
    request: pytest.FixtureRequest, client_fixture: str, style: Style
) -> None:
    client: httpx2.Client = request.getfixturevalue(client_fixture)
    verbs = start_call(client, style, prefix="/voice")
    assert action_hook(verbs, "gather") == "/voice/menu"
    menu_url = resolve_hook(client, action_hook(verbs, "gather"))
    assert menu_url == f"{client.base_url.scheme}://{client.base_url.host}:{client.base_url.port}/voice/menu"

    verbs = verbs_of(send(client, menu_url, gather_digits("1"), style))
    assert verbs == sales_answer(prefix="/voice")
    assert action_hook(verbs, "dial") == "/voice/dial-result"
    dial_url = resolve_hook(client, action_hook(verbs, "dial"))

    assert verbs_of(send(client, dial_url, dial_outcome("busy"), style)) == SORRY_ANSWER
    assert verbs_of(send(client, dial_url, dial_outcome("completed"), style)) == [HANGUP]

    # Other branches behind the mount, and the status hook.
    assert verbs_of(send(client, menu_url, gather_speech(), style)) == SPEECH_ANSWER
    response = send(client, "/voice/status", call_info(call_status="completed", duration=7), style)
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


@pytest.mark.parametrize("client_fixture", MOUNT_CLIENTS)
def test_mounted_ivr_is_not_served_at_the_unprefixed_path(
    request: pytest.FixtureRequest, client_fixture: str
) -> None:
    """Following ``/menu`` as written by a prefix-unaware app would land here: nothing is served."""
    client: httpx2.Client = request.getfixturevalue(client_fixture)
    assert (
        client.post(
            "/menu", content=jambonz_json(gather_digits("1")), headers={"content-type": "application/json"}
        ).status_code
        == 404
    )
    assert client.get("/health").status_code == 200  # the outer app's own routes still work


# --------------------------------------------------------------------------- failures


def test_default_fallback_is_say_then_hangup() -> None:
    assert DEFAULT_FALLBACK.to_list() == FALLBACK_ANSWER


@pytest.mark.parametrize("style", STYLES)
def test_raising_call_hook_answers_fallback_and_logs_call_sid(
    probe_server: LiveServer, probe_client: httpx2.Client, style: Style
) -> None:
    sid = new_sid()
    response = send(probe_client, "/boom", session_new(call_sid=sid), style)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == FALLBACK_ANSWER
    assert "Traceback" not in response.text
    assert "exploded" not in response.text  # the exception stays in the log

    stderr = probe_server.wait_for_stderr(f"call_sid={sid}")
    lines = [line for line in stderr.splitlines() if f"call_sid={sid}" in line]
    assert lines, stderr
    assert "/boom" in lines[0]
    assert "probe handler exploded on purpose (async" in stderr
    assert probe_server.is_running()


def test_raising_sync_action_hook_answers_fallback_and_logs_call_sid(
    probe_server: LiveServer, probe_client: httpx2.Client
) -> None:
    sid = new_sid()
    response = probe_client.post(
        "/boom-sync",
        content=jambonz_json(gather_digits("3", call_sid=sid)),
        headers={"content-type": "application/json"},
    )
    assert response.json() == FALLBACK_ANSWER
    stderr = probe_server.wait_for_stderr(f"call_sid={sid}")
    assert any(f"call_sid={sid}" in line and "/boom-sync" in line for line in stderr.splitlines()), stderr
    assert f"probe handler exploded on purpose (sync, {sid})" in stderr


def _without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in payload.items() if name != key}


BAD_BODIES: dict[str, tuple[bytes, int, str | None]] = {
    # name: (body, status, a word the error must name)
    "not-json": (b"call_sid=abc&digits=1", 400, None),
    "truncated-json": (b'{"call_sid": "abc", ', 400, None),
    "json-array": (b'[{"call_sid": "abc"}]', 422, None),
    "json-string": (b'"hello"', 422, None),
    "missing-call-sid": (jambonz_json(_without(session_new(), "call_sid")), 422, "call_sid"),
    "sip-status-as-text": (jambonz_json(session_new(sip_status="200")), 422, "sip_status"),
}


@pytest.mark.parametrize("path", ["/incoming", "/menu"])
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_answer_short_json_errors(
    ivr_server: LiveServer, ivr_client: httpx2.Client, path: str, case: str
) -> None:
    body, status, names = BAD_BODIES[case]
    response = ivr_client.post(path, content=body, headers={"content-type": "application/json"})
    message = assert_json_error(response, status)
    if names is not None:
        assert names in message
        fields = response.json().get("fields")
        assert isinstance(fields, list)
        assert names in {field["field"] for field in fields}
    # The server keeps serving.
    assert ivr_server.is_running()
    assert (
        verbs_of(
            ivr_client.post(
                "/incoming", content=jambonz_json(session_new()), headers={"content-type": "application/json"}
            )
        )
        == incoming_answer()
    )


def test_bad_bodies_on_the_probe_app_then_it_keeps_serving(
    probe_server: LiveServer, probe_client: httpx2.Client
) -> None:
    for body, status, _ in BAD_BODIES.values():
        assert_json_error(
            probe_client.post("/boom", content=body, headers={"content-type": "application/json"}), status
        )
    sid = new_sid()
    verbs = verbs_of(
        probe_client.post(
            "/echo-call",
            content=jambonz_json(session_new(call_sid=sid)),
            headers={"content-type": "application/json"},
        )
    )
    assert json.loads(verbs[0]["text"])["call_sid"] == sid
    assert probe_server.is_running()
    # A refused payload is not a handler failure: the handler never ran.
    assert "call_sid=None" not in probe_server.stderr()


# --------------------------------------------------------------------------- env vars and call state


def test_the_portal_discovers_the_example_apps_env_vars(ivr_client: httpx2.Client) -> None:
    response = ivr_client.options("/incoming", headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.json() == {
        "COMPANY_NAME": {
            "description": "The company the IVR names when it greets callers",
            "type": "string",
            "default": "our company",
        }
    }


def test_menu_names_the_company_from_the_calls_state(ivr_client: httpx2.Client) -> None:
    sid = new_sid()
    incoming = session_new(call_sid=sid, env_vars={"COMPANY_NAME": "Globex"})
    verbs = verbs_of(send(ivr_client, "/incoming", incoming, "post"))
    assert verbs[0]["text"] == "Hello, and thank you for calling Globex."
    # The gather's payload carries no env_vars: the company comes from the call's state.
    answer = verbs_of(send(ivr_client, "/menu", gather_digits("2", call_sid=sid), "post"))
    assert answer[0]["text"] == "Globex support is closed right now. Please call back tomorrow."
    # Another call, whose call hook this server never saw: the declared default.
    other = verbs_of(send(ivr_client, "/menu", gather_digits("2", call_sid=new_sid()), "post"))
    assert other[0]["text"] == "our company support is closed right now. Please call back tomorrow."
    # Once the call is over, its state is gone.
    assert (
        send(ivr_client, "/status", call_info(call_sid=sid, call_status="completed"), "post").status_code
        == 204
    )
    after = verbs_of(send(ivr_client, "/menu", gather_digits("2", call_sid=sid), "post"))
    assert after[0]["text"].startswith("our company")
