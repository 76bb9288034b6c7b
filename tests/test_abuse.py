"""Abuse, end to end: the unchanged example IVR exposed with only three environment variables set.

The ``protected_server`` fixture runs ``example_app.app:app`` under uvicorn with
``JAMBONZ_WEBHOOK_SECRET``, ``JAMBONZ_WEBHOOK_USERNAME`` and ``JAMBONZ_WEBHOOK_PASSWORD``; the
framework reads them when the app is built. These tests send it what the internet may send: requests
that are unsigned, forged, replayed, unauthenticated, huge, deeply nested, not JSON, not UTF-8, of the
wrong shape or method. Each is refused with a short JSON error (never a traceback, never an echo of
the input), and the server keeps serving jambonz.

Every abusive body is sent three ways, to show which check refuses it:

- ``signed``: signed and authenticated as jambonz would, so it reaches the decoder;
- ``unsigned``: authenticated, without a signature;
- ``anonymous``: neither signed nor authenticated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import pytest

from jambonz_webhooks.security import SIGNATURE_HEADER
from jambonz_webhooks.testing import basic_auth_header, sign, signed_headers
from tests.conftest import PROTECTED_PASSWORD, PROTECTED_SECRET, PROTECTED_USERNAME, LiveServer
from tests.payloads import call_info, session_new
from tests.test_e2e import (
    SORRY_ANSWER,
    SUPPORT_ANSWER,
    action_hook,
    dial_outcome,
    gather_digits,
    incoming_answer,
    jambonz_json,
    resolve_hook,
    sales_answer,
    verbs_of,
)

AUTH = basic_auth_header(PROTECTED_USERNAME, PROTECTED_PASSWORD)
CHALLENGE = 'Basic realm="jambonz", charset="UTF-8"'
MAX_BODY = 1024 * 1024  # the framework's default limit, which the example app keeps
# What a leaked traceback or source location would contain.
TRACE_MARKERS = ("Traceback", 'File "', ".py", "line ")
ERROR_KEYS = {"error", "fields"}

Mode = Literal["signed", "unsigned", "anonymous"]
MODES: tuple[Mode, ...] = ("signed", "unsigned", "anonymous")
HOOK_PATHS = ("/incoming", "/menu", "/status")


def jambonz_headers(body: bytes) -> dict[str, str]:
    """Exactly what jambonz sends with ``body``: JSON content type, signature, credentials."""
    return {**signed_headers(body, PROTECTED_SECRET), **AUTH}


def post_signed(client: httpx2.Client, path: str, payload: Any) -> httpx2.Response:
    body = jambonz_json(payload)
    return client.post(path, content=body, headers=jambonz_headers(body))


def valid_payload(path: str) -> dict[str, Any]:
    """A payload each hook of the example app accepts."""
    if path == "/incoming":
        return session_new()
    if path == "/menu":
        return gather_digits("2")
    return call_info(call_status="completed", duration=12)


def assert_error(response: httpx2.Response, status: int) -> dict[str, Any]:
    """A short JSON error: the status, ``{"error": str}`` (+ "fields"), no traceback, no echo."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert 400 <= status < 500
    assert response.headers.get("content-type") == "application/json", response.headers
    # Bounded whatever the input's size: nothing of a big input is echoed back.
    assert len(response.content) < 2000, response.text[:300]
    for marker in TRACE_MARKERS:
        assert marker not in response.text, response.text
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert set(body) <= ERROR_KEYS, body
    assert isinstance(body["error"], str)
    assert 0 < len(body["error"]) < 200, body
    return body


def assert_valid_answer(response: httpx2.Response, path: str) -> None:
    """What the example IVR answers to a valid payload on ``path``."""
    if path == "/status":
        assert response.status_code == 204, response.text[:300]
        assert response.content == b""
        assert "content-type" not in response.headers
    elif path == "/incoming":
        assert verbs_of(response) == incoming_answer()
    else:
        assert verbs_of(response) == SUPPORT_ANSWER


def assert_challenge(response: httpx2.Response) -> None:
    """A credentials failure: 401 JSON that asks for basic credentials."""
    assert_error(response, 401)
    assert response.headers.get("www-authenticate") == CHALLENGE


# --------------------------------------------------------------------------- jambonz itself gets through


@pytest.mark.slow
def test_incoming_signed_as_jambonz_gets_the_ivr_verbs(protected_client: httpx2.Client) -> None:
    response = post_signed(protected_client, "/incoming", session_new())
    assert response.content == jambonz_json(incoming_answer())  # compact JSON, byte for byte
    assert verbs_of(response) == incoming_answer()


def test_menu_signed_as_jambonz_gets_the_menu_answer(protected_client: httpx2.Client) -> None:
    # Follow the chain as jambonz does: the gather's actionHook, resolved against the origin.
    verbs = verbs_of(post_signed(protected_client, "/incoming", session_new()))
    menu_url = resolve_hook(protected_client, action_hook(verbs, "gather"))
    assert verbs_of(post_signed(protected_client, menu_url, gather_digits("2"))) == SUPPORT_ANSWER

    verbs = verbs_of(post_signed(protected_client, menu_url, gather_digits("1")))
    assert verbs == sales_answer()
    dial_url = resolve_hook(protected_client, action_hook(verbs, "dial"))
    assert verbs_of(post_signed(protected_client, dial_url, dial_outcome("busy"))) == SORRY_ANSWER


def test_status_signed_as_jambonz_gets_204(protected_client: httpx2.Client) -> None:
    response = post_signed(protected_client, "/status", valid_payload("/status"))
    assert_valid_answer(response, "/status")


def test_non_ascii_fields_signed_as_jambonz_get_through(protected_client: httpx2.Client) -> None:
    # Raw UTF-8 in the signed bytes, as JSON.stringify writes it.
    payload = session_new(caller_name="Zoë 😀 北京 ☎", **{"from": "☎️+15551234567"})
    body = jambonz_json(payload)
    assert "😀".encode() in body
    response = protected_client.post("/incoming", content=body, headers=jambonz_headers(body))
    assert verbs_of(response) == incoming_answer()


def test_other_servers_did_not_get_the_protection(ivr_client: httpx2.Client) -> None:
    """The env vars went to the protected server only: the plain IVR answers unsigned requests."""
    response = ivr_client.post(
        "/incoming", content=jambonz_json(session_new()), headers={"content-type": "application/json"}
    )
    assert verbs_of(response) == incoming_answer()


# --------------------------------------------------------------------------- signatures


def _now() -> int:
    return int(time.time())


def _unsigned(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/json", **AUTH}


def _forged(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {**signed_headers(body, "not-the-webhook-secret"), **AUTH}


def _stale(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {**signed_headers(body, PROTECTED_SECRET, timestamp=_now() - 1000), **AUTH}


def _future(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {**signed_headers(body, PROTECTED_SECRET, timestamp=_now() + 1000), **AUTH}


def _with_header(value: str) -> Any:
    def build(body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: value, **AUTH}

    return build


def _changed_after_signing(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = jambonz_headers(body)
    changed = body.replace(b'"+15083084809"', b'"+15550000000"', 1)
    assert changed != body
    return changed, headers


def _pretty_printed(body: bytes) -> tuple[bytes, dict[str, str]]:
    # Same JSON value, other bytes (a proxy that re-encodes): the signature must not follow.
    headers = jambonz_headers(body)
    pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
    assert json.loads(pretty) == json.loads(body)
    return pretty, headers


_GOOD = sign(b"{}", PROTECTED_SECRET).split(",")[1]  # a well-formed v1 entry (of another body)
SIGNATURE_FAILURES: dict[str, Any] = {
    "absent": _unsigned,
    "forged-other-secret": _forged,
    "stale-now-minus-1000": _stale,
    "future-now-plus-1000": _future,
    "malformed-garbage": _with_header("garbage"),
    "malformed-empty": _with_header(""),
    "malformed-timestamp-not-a-number": _with_header(f"t=yesterday,{_GOOD}"),
    "malformed-no-v1": _with_header("t=1700000000"),
    "malformed-v1-not-hex": _with_header("t=1700000000,v1=" + "z" * 64),
    "malformed-too-many-v1": _with_header("t=1700000000," + ",".join([_GOOD] * 17)),
    "body-changed-after-signing": _changed_after_signing,
    "pretty-printed-re-encoding": _pretty_printed,
}


@pytest.mark.parametrize("path", HOOK_PATHS)
@pytest.mark.parametrize("failure", list(SIGNATURE_FAILURES))
def test_bad_signature_is_401_json(protected_client: httpx2.Client, failure: str, path: str) -> None:
    body, headers = SIGNATURE_FAILURES[failure](jambonz_json(valid_payload(path)))
    response = protected_client.post(path, content=body, headers=headers)
    assert_error(response, 401)
    # The credentials were right: no basic-auth challenge for a signature failure.
    assert "www-authenticate" not in response.headers


def test_signature_failures_are_not_the_signature_check_being_off(protected_client: httpx2.Client) -> None:
    """The same body with a good signature passes: the 401s above are the signature's doing."""
    body = jambonz_json(session_new())
    assert verbs_of(protected_client.post("/incoming", content=body, headers=jambonz_headers(body)))


# --------------------------------------------------------------------------- basic credentials


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": f"Basic {token}"}


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "absent": {},
    "wrong-password": basic_auth_header(PROTECTED_USERNAME, "guess"),
    "wrong-username": basic_auth_header("admin", PROTECTED_PASSWORD),
    "password-prefix": basic_auth_header(PROTECTED_USERNAME, PROTECTED_PASSWORD[:-1]),
    "scheme-without-token": {"Authorization": "Basic"},
    "not-base64": _basic("!!!not base64!!!"),
    "no-colon": _basic("amFtYm9ueg=="),  # base64("jambonz")
    "bearer-scheme": {"Authorization": "Bearer " + AUTH["Authorization"].split(" ", 1)[1]},
}


@pytest.mark.parametrize("path", HOOK_PATHS)
@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_bad_credentials_are_401_with_challenge(
    protected_client: httpx2.Client, credentials: str, path: str
) -> None:
    # Correctly signed: the credentials alone are at fault.
    body = jambonz_json(valid_payload(path))
    headers = {**signed_headers(body, PROTECTED_SECRET), **BAD_CREDENTIALS[credentials]}
    assert_challenge(protected_client.post(path, content=body, headers=headers))


# --------------------------------------------------------------------------- OPTIONS and GET


def test_options_discovery_needs_no_credentials(protected_client: httpx2.Client) -> None:
    """The portal's env-var discovery: unsigned, unauthenticated, answered with a JSON object."""
    response = protected_client.options("/incoming")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    "query", ["", "?call_sid=abc&from=%2B15083084809&sip_status=100"], ids=["bare", "with-query"]
)
def test_get_is_401_saying_to_use_post(protected_client: httpx2.Client, query: str) -> None:
    # Authenticated, so what refuses it is the signature rule: a GET cannot be verified.
    response = protected_client.get(f"/incoming{query}", headers=AUTH)
    assert "POST" in assert_error(response, 401)["error"]


def test_get_without_credentials_is_challenged(protected_client: httpx2.Client) -> None:
    assert_challenge(protected_client.get("/incoming"))


# --------------------------------------------------------------------------- the abuse list

# The check that refuses a request, in the order the framework applies them: method, declared
# size, credentials, the signature header (present, well-formed, fresh), content type, body read
# (streamed size), the signature over the body, decoding, handler.
Stage = Literal["method", "size", "content_type", "read", "decode", "handler"]


@dataclass(frozen=True)
class Abuse:
    body: bytes
    stage: Stage
    status: int = 0  # the refusal's status (unused for stage "handler")
    method: str = "POST"
    content_type: str | None = "application/json"
    chunked: bool = False  # sent without Content-Length: the limit applies while reading
    field: str | None = None  # the field a 422 must name
    may_refuse: bool = False  # a valid payload the server may also refuse with a 4xx


def _deep(opening: bytes, middle: bytes, closing: bytes, depth: int) -> bytes:
    return opening * depth + middle + closing * depth


_SESSION = jambonz_json(session_new())
_BIG = b'{"call_sid":"' + b"x" * (5 * 1024 * 1024) + b'"}'  # 5 MiB of otherwise valid JSON
_MANY_KEYS = jambonz_json({**session_new(), **{f"k{i}": i for i in range(50_000)}})
_LONG_FIELD = jambonz_json(session_new(caller_name="x" * 900_000))
assert len(_MANY_KEYS) < MAX_BODY
assert 850_000 < len(_LONG_FIELD) < MAX_BODY

ABUSES: dict[str, Abuse] = {
    "malformed-json": Abuse(b"call_sid=abc&digits=1", "decode", 400),
    "truncated-json": Abuse(_SESSION[: len(_SESSION) // 2], "decode", 400),
    "json-array": Abuse(b'[{"call_sid":"abc"}]', "decode", 422),
    "json-string": Abuse(b'"hello"', "decode", 422),
    "json-number": Abuse(b"42", "decode", 422),
    "json-null": Abuse(b"null", "decode", 422),
    "empty-body": Abuse(b"", "decode", 422),
    "5mb-content-length": Abuse(_BIG, "size", 413),
    "5mb-chunked": Abuse(_BIG, "read", 413, chunked=True),
    "nested-10000-arrays": Abuse(_deep(b"[", b"", b"]", 10_000), "decode", 400),
    "nested-10000-objects": Abuse(_deep(b'{"a":', b"1", b"}", 10_000), "decode", 400),
    "nested-250-in-a-field": Abuse(b'{"call_sid":' + _deep(b"[", b"", b"]", 250) + b"}", "decode", 400),
    "raw-nul-in-string": Abuse(_SESSION.replace(b'"Alice Example"', b'"Alice\x00Example"'), "decode", 400),
    "invalid-utf8": Abuse(_SESSION.replace(b'"Alice Example"', b'"Alice \xff\xfe Example"'), "decode", 400),
    # Valid JSON grammar, but no Unicode text: refused like invalid UTF-8.
    "lone-surrogate-escape": Abuse(
        _SESSION.replace(b'"Alice Example"', b'"Alice \\ud800 Example"'), "decode", 400
    ),
    "emoji-non-ascii-fields": Abuse(
        jambonz_json(session_new(caller_name="Zoë 😀 北京 ☎", **{"from": "☎️+15551234567"})), "handler"
    ),
    "call-sid-as-number": Abuse(jambonz_json(session_new(call_sid=12345)), "decode", 422, field="call_sid"),
    "sip-status-as-text": Abuse(
        jambonz_json(session_new(sip_status="one hundred")), "decode", 422, field="sip_status"
    ),
    "50000-keys": Abuse(_MANY_KEYS, "handler", may_refuse=True),
    "900kb-string-field": Abuse(_LONG_FIELD, "handler", may_refuse=True),
    "content-type-text-plain": Abuse(_SESSION, "content_type", 415, content_type="text/plain"),
    "content-type-form": Abuse(
        b"call_sid=abc", "content_type", 415, content_type="application/x-www-form-urlencoded"
    ),
    "content-type-absent": Abuse(_SESSION, "content_type", 415, content_type=None),
    "method-put": Abuse(_SESSION, "method", 405, method="PUT"),
    "method-patch": Abuse(_SESSION, "method", 405, method="PATCH"),
    "method-delete": Abuse(_SESSION, "method", 405, method="DELETE"),
}

ABUSE_PATHS = ("/incoming", "/status")  # a call hook and a status hook: the two answer shapes


def expected_status(abuse: Abuse, mode: Mode, path: str) -> int:
    """What the first check to refuse ``abuse`` answers, or the hook's own answer."""
    if abuse.stage in ("method", "size"):
        return abuse.status  # before credentials
    if mode in ("anonymous", "unsigned"):
        return 401  # authentication comes before anything about the body is looked at
    if abuse.stage in ("content_type", "read"):
        return abuse.status
    if abuse.stage == "handler":
        return 204 if path == "/status" else 200
    return abuse.status


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 256 * 1024):
        yield body[start : start + 256 * 1024]


def send_abuse(client: httpx2.Client, path: str, abuse: Abuse, mode: Mode) -> httpx2.Response:
    headers: dict[str, str] = {}
    if mode == "signed":
        headers.update(jambonz_headers(abuse.body))
    elif mode == "unsigned":
        headers.update(AUTH)
    headers.pop("Content-Type", None)
    if abuse.content_type is not None:
        headers["Content-Type"] = abuse.content_type
    content: bytes | Iterator[bytes] = _chunks(abuse.body) if abuse.chunked else abuse.body
    return client.request(abuse.method, path, content=content, headers=headers)


def check_abuse_answer(response: httpx2.Response, abuse: Abuse, mode: Mode, path: str) -> None:
    status = expected_status(abuse, mode, path)
    if status in (200, 204):
        if abuse.may_refuse and 400 <= response.status_code < 500:
            assert_error(response, response.status_code)
        else:
            assert_valid_answer(response, path)
        return
    body = assert_error(response, status)
    if status == 401:
        # The challenge is for missing credentials only, not for a missing signature.
        assert ("www-authenticate" in response.headers) == (mode == "anonymous"), response.headers
    if status == 405:
        # Only the call hook answers the portal's OPTIONS discovery.
        allow = "GET, POST, OPTIONS" if path == "/incoming" else "GET, POST"
        assert response.headers.get("allow") == allow
    if status == 422 and abuse.field is not None:
        assert abuse.field in body["error"]
        fields = body.get("fields")
        assert isinstance(fields, list)
        assert abuse.field in {item["field"] for item in fields}


def _abuse_params() -> list[Any]:
    params = []
    for name in ABUSES:
        for path in ABUSE_PATHS:
            for mode in MODES:
                params.append(pytest.param(name, mode, path, id=f"{name}-{mode}-{path[1:]}"))
    return params


@pytest.mark.parametrize(("name", "mode", "path"), _abuse_params())
def test_abuse_is_refused_cleanly(protected_client: httpx2.Client, name: str, mode: Mode, path: str) -> None:
    abuse = ABUSES[name]
    check_abuse_answer(send_abuse(protected_client, path, abuse, mode), abuse, mode, path)


def test_body_limit_with_content_length_is_still_413(protected_client: httpx2.Client) -> None:
    """What holds despite the bug above: refused with 413 unread, briefly, whatever the credentials."""
    for mode in MODES:
        response = send_abuse(protected_client, "/incoming", ABUSES["5mb-content-length"], mode)
        assert response.status_code == 413
        assert len(response.content) < 2000
        assert "Traceback" not in response.text


# --------------------------------------------------------------------------- still standing
# Last in the file: by then every abuse above has been sent (pytest runs a file in order). It
# sends the signed abuse list once more itself, so that it proves its point when run alone too.


def test_server_survives_the_abuse_list(
    protected_server: LiveServer, protected_client: httpx2.Client
) -> None:
    for abuse in ABUSES.values():
        response = send_abuse(protected_client, "/incoming", abuse, "signed")
        assert response.status_code < 500, response.text[:300]

    assert protected_server.is_running()
    assert verbs_of(post_signed(protected_client, "/incoming", session_new())) == incoming_answer()
    assert_valid_answer(post_signed(protected_client, "/status", valid_payload("/status")), "/status")
    # Tracebacks are logged for handler failures only, and no refused request reached a handler.
    stderr = protected_server.stderr()
    assert "Uvicorn running on" in stderr  # the right file, read
    assert "Traceback" not in stderr
    assert "Exception in ASGI application" not in stderr
