"""Query strings and JSON text values: ``decoding.parse_query``, ``expand_json_values``, ``json_shape``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.decoding import MAX_DEPTH, DecodeError, expand_json_values, json_shape, parse_query
from tests.payloads import session_new

# ---------------------------------------------------------------------------------------------
# parse_query
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", {}, id="empty"),
        pytest.param("a=1", {"a": "1"}, id="flat"),
        pytest.param("a=1&b=2&c=3", {"a": "1", "b": "2", "c": "3"}, id="flat-many"),
        pytest.param("sip_status=100", {"sip_status": "100"}, id="numbers-stay-text"),
        pytest.param("b[c]=2", {"b": {"c": "2"}}, id="one-level"),
        pytest.param(
            "sip[headers][X-Foo]=bar&sip[headers][Via]=v&sip[method]=INVITE",
            {"sip": {"headers": {"X-Foo": "bar", "Via": "v"}, "method": "INVITE"}},
            id="nested",
        ),
        pytest.param(
            "defaults[synthesizer][vendor]=google&defaults[recognizer][language]=en-US",
            {"defaults": {"synthesizer": {"vendor": "google"}, "recognizer": {"language": "en-US"}}},
            id="nested-siblings",
        ),
        pytest.param("customerData[crmId]=x", {"customerData": {"crmId": "x"}}, id="case-kept"),
        pytest.param("f[]=4&f[]=5", {"f": ["4", "5"]}, id="append-list"),
        pytest.param("f[]=only", {"f": ["only"]}, id="append-list-one"),
        pytest.param("o[f][]=1&o[f][]=2&o[g]=3", {"o": {"f": ["1", "2"], "g": "3"}}, id="append-list-nested"),
        pytest.param("a[][b]=1&a[][b]=2", {"a": [{"b": "1"}, {"b": "2"}]}, id="append-objects"),
        pytest.param("d[0]=a&d[1]=b", {"d": ["a", "b"]}, id="indexed-list"),
        pytest.param("d[1]=b&d[0]=a", {"d": ["a", "b"]}, id="indexed-list-out-of-order"),
        pytest.param("d[0]=a&d[2]=b", {"d": {"0": "a", "2": "b"}}, id="indexes-with-gap-stay-object"),
        pytest.param("d[1]=b", {"d": {"1": "b"}}, id="index-not-from-zero-stays-object"),
        pytest.param("d[99999999999]=x", {"d": {"99999999999": "x"}}, id="huge-index-no-huge-list"),
        pytest.param("d[0]=a&d[x]=b", {"d": {"0": "a", "x": "b"}}, id="mixed-keys-stay-object"),
        pytest.param(
            "d[0][e]=3&d[1][e]=4&d[1][f]=5", {"d": [{"e": "3"}, {"e": "4", "f": "5"}]}, id="indexed-objects"
        ),
        pytest.param(
            "speech[alternatives][0][transcript]=hi&speech[alternatives][0][confidence]=0.9"
            "&speech[alternatives][1][transcript]=high&speech[is_final]=true",
            {
                "speech": {
                    "alternatives": [{"transcript": "hi", "confidence": "0.9"}, {"transcript": "high"}],
                    "is_final": "true",
                }
            },
            id="gather-speech",
        ),
        pytest.param("a=", {"a": ""}, id="blank"),
        pytest.param("a", {"a": ""}, id="no-equals"),
        pytest.param("a=&b=&c[d]=", {"a": "", "b": "", "c": {"d": ""}}, id="blanks"),
        pytest.param("&&a=1&&", {"a": "1"}, id="empty-pairs-skipped"),
        pytest.param("a=1=2", {"a": "1=2"}, id="equals-in-value"),
        pytest.param("a=b+c", {"a": "b c"}, id="plus-is-space"),
        pytest.param("from=%2B15083084809", {"from": "+15083084809"}, id="encoded-plus"),
        pytest.param("a=%20x%26y%3Dz%25", {"a": " x&y=z%"}, id="percent-escapes"),
        pytest.param("k%20y=v", {"k y": "v"}, id="percent-in-key"),
        pytest.param(
            "sip%5Bheaders%5D%5BX-Foo%5D=bar", {"sip": {"headers": {"X-Foo": "bar"}}}, id="encoded-brackets"
        ),
        pytest.param("a=caf%C3%A9%20%F0%9F%8E%89", {"a": "café 🎉"}, id="utf8-emoji"),
        pytest.param("n%C3%A4me[cl%C3%A9]=%E2%98%8E", {"näme": {"clé": "☎"}}, id="utf8-keys"),
        pytest.param(
            "sip=%7B%22headers%22%3A%7B%7D%7D", {"sip": '{"headers":{}}'}, id="json-text-stays-text"
        ),
        pytest.param(
            "sip[headers][X-Odd]=a%3Db%3B+c%3D%22d+e%22",
            {"sip": {"headers": {"X-Odd": 'a=b; c="d e"'}}},
            id="odd-header-value",
        ),
        pytest.param("a[b]=x]y", {"a": {"b": "x]y"}}, id="bracket-in-value"),
    ],
)
def test_parse_query(query: str, expected: dict[str, Any]) -> None:
    assert parse_query(query) == expected


def test_parse_query_bracket_notation_of_a_whole_session() -> None:
    payload = session_new()
    pairs = [(key, value) for key, value in payload.items() if isinstance(value, str)]
    pairs += [(f"sip[headers][{name}]", value) for name, value in payload["sip"]["headers"].items()]
    pairs += [("sip[body]", payload["sip"]["body"]), ("sip[source_port]", "5060")]
    parsed = parse_query(urlencode(pairs))
    sip = payload["sip"]
    assert parsed["sip"] == {"headers": sip["headers"], "body": sip["body"], "source_port": "5060"}
    assert parsed["from"] == payload["from"]
    assert parsed["caller_name"] == "Alice Example"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("a=1&a[b]=2", id="value-then-object"),
        pytest.param("a[b]=2&a=1", id="object-then-value"),
        pytest.param("a=1&a=2", id="repeated-key"),
        pytest.param("a[b]=1&a[b]=2", id="repeated-nested-key"),
        pytest.param("a[b]=1&a[b][c]=2", id="nested-value-then-object"),
        pytest.param("a=1&a[]=2", id="value-then-list"),
        pytest.param("a[]=1&a=2", id="list-then-value"),
        pytest.param("a[]=1&a[b]=2", id="list-and-object"),
        pytest.param("a[0]=x&a[]=y", id="index-and-append"),
        # Found by tests/test_fuzz.py: the top level became a list, and decoding it was a 500.
        pytest.param("0", id="top-level-index"),
        pytest.param("0=a&1=b", id="top-level-indexes"),
        pytest.param("[]=a", id="top-level-list"),
    ],
)
def test_parse_query_conflicts_are_decode_errors(query: str) -> None:
    with pytest.raises(DecodeError):
        parse_query(query)


def _deep_key(levels: int) -> str:
    return "a" + "[x]" * levels


def test_parse_query_accepts_nesting_below_the_limit() -> None:
    parsed = parse_query(f"{_deep_key(MAX_DEPTH - 1)}=v")
    node: Any = parsed["a"]
    for _ in range(MAX_DEPTH - 2):
        node = node["x"]
    assert node == {"x": "v"}


@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1, 1000])
def test_parse_query_too_deep_is_a_decode_error(levels: int) -> None:
    with pytest.raises(DecodeError, match="deep"):
        parse_query(f"{_deep_key(levels)}=v")


def test_parse_query_too_deep_with_list_brackets_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_query("a" + "[]" * 500 + "=v")


@pytest.mark.parametrize("query", ["a=%ff", "%ff=1", "a=%C3%28", "a[%ff]=1", "a=%ED%A0%80", "a=caf%E9"])
def test_parse_query_invalid_utf8_is_a_decode_error(query: str) -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        parse_query(query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # keys that only look like the parser's own bookkeeping, or like an index
        pytest.param("a[%00list]=x", {"a": {"\x00list": "x"}}, id="nul-list-key"),
        pytest.param("a[%C2%B2]=x", {"a": {"²": "x"}}, id="superscript-digit-key"),
    ],
)
def test_parse_query_odd_keys_are_kept_as_keys(query: str, expected: dict[str, Any]) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "a[%00list]=x&a[]=y",
        "a[%00list][b]=x&a[]=y",
        "a[%C2%B2]=x",
        "a[%C2%B2]=x&a[0]=y",
    ],
)
def test_parse_query_hostile_keys_raise_nothing_but_decode_error(query: str) -> None:
    with contextlib.suppress(DecodeError):
        parse_query(query)


# ---------------------------------------------------------------------------------------------
# json_shape and expand_json_values
# ---------------------------------------------------------------------------------------------


def test_json_shape_of_call_session() -> None:
    shape = json_shape(CallSession)
    assert shape["sip"] == {"headers": None}
    assert shape["env_vars"] is None
    assert shape["customerData"] is None
    assert shape["defaults"] == {"synthesizer": {}, "recognizer": {}}
    for scalar in ("call_sid", "from", "from_", "to", "sip_status", "caller_name", "customer_data"):
        assert scalar not in shape


def test_json_shape_of_gather_result() -> None:
    shape = json_shape(GatherResult)
    assert shape["speech"] == {"alternatives": None, "vendor": {"evt": None}}
    assert shape["details"] is None
    assert shape["customerData"] is None
    assert "digits" not in shape


SIP_JSON = '{"headers":{"X-Foo":"bar"},"method":"INVITE","source_port":5060}'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"sip": SIP_JSON},
            {"sip": {"headers": {"X-Foo": "bar"}, "method": "INVITE", "source_port": 5060}},
            id="sip",
        ),
        pytest.param(
            {"sip": {"headers": '{"X-Foo":"bar"}', "method": "INVITE"}},
            {"sip": {"headers": {"X-Foo": "bar"}, "method": "INVITE"}},
            id="json-inside-brackets",
        ),
        pytest.param(
            {"defaults": '{"synthesizer":{"vendor":"google"}}'},
            {"defaults": {"synthesizer": {"vendor": "google"}}},
            id="defaults",
        ),
        pytest.param(
            {"defaults": {"synthesizer": '{"vendor":"google","voice":"en-US-Standard-C"}'}},
            {"defaults": {"synthesizer": {"vendor": "google", "voice": "en-US-Standard-C"}}},
            id="defaults-inner",
        ),
        pytest.param(
            {"customerData": '{"crmId":"x","n":{"tier":"gold"}}'},
            {"customerData": {"crmId": "x", "n": {"tier": "gold"}}},
            id="customerData",
        ),
        pytest.param({"env_vars": '{"A":1,"B":true}'}, {"env_vars": {"A": 1, "B": True}}, id="env_vars"),
        pytest.param({"customerData": '["a"]'}, {"customerData": ["a"]}, id="list-text"),
        pytest.param({"call_sid": '{"x":1}'}, {"call_sid": '{"x":1}'}, id="scalar-field-untouched"),
        pytest.param({"caller_name": "[Bob]"}, {"caller_name": "[Bob]"}, id="brackets-in-name-untouched"),
        pytest.param({"unknown": '{"x":1}'}, {"unknown": '{"x":1}'}, id="unknown-key-untouched"),
        pytest.param(
            {"sip": {"headers": {"X-Json": '{"a":1}'}}},
            {"sip": {"headers": {"X-Json": '{"a":1}'}}},
            id="header-values-untouched",
        ),
        pytest.param({"sip": "plain"}, {"sip": "plain"}, id="non-json-text-left-for-validation"),
        pytest.param({"sip": ' {"headers":{}}'}, {"sip": ' {"headers":{}}'}, id="leading-space-not-json"),
        pytest.param({}, {}, id="empty"),
    ],
)
def test_expand_json_values(data: dict[str, Any], expected: dict[str, Any]) -> None:
    result = expand_json_values(data, json_shape(CallSession))
    assert result == expected
    assert result is data


@pytest.mark.parametrize(
    "data",
    [
        {"sip": '{"headers":'},
        {"sip": "{bad}"},
        {"customerData": "{'single': 'quotes'}"},
        {"env_vars": "[1,2"},
        {"sip": {"headers": "{nope"}},
        {"defaults": {"synthesizer": "{vendor}"}},
    ],
)
def test_expand_json_values_invalid_json_is_a_decode_error(data: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match="JSON"):
        expand_json_values(data, json_shape(CallSession))


# ---------------------------------------------------------------------------------------------
# Through the app: bad query strings are 400s, never 500s
# ---------------------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
REQUIRED_QUERY = urlencode(
    {key: value for key, value in session_new().items() if key != "sip_status" and isinstance(value, str)}
    | {"sip_status": "100"}
)


@pytest.fixture(scope="module")
def app_client() -> Iterator[tuple[TestClient, list[Any]]]:
    app = JambonzApp(fallback=None, insecure=True)
    received: list[Any] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        received.append(call)
        return WebhookResponse().say(text="ok")

    @app.action_hook("/raw")
    async def raw(payload: dict[str, Any]) -> WebhookResponse:
        received.append(payload)
        return WebhookResponse().say(text="ok")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, received


@pytest.fixture
def client(app_client: tuple[TestClient, list[Any]]) -> TestClient:
    app_client[1].clear()
    return app_client[0]


@pytest.fixture
def received(app_client: tuple[TestClient, list[Any]]) -> list[Any]:
    return app_client[1]


def test_required_query_is_served(client: TestClient, received: list[Any]) -> None:
    response = client.get(f"/incoming?{REQUIRED_QUERY}")
    assert response.status_code == 200, response.text
    assert isinstance(received[0], CallSession)
    assert received[0].sip_status == 100


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("sip=%7Bbad", "sip"),
        ("customerData=%7B%22crmId%22%3A", "customerData"),
        ("defaults[synthesizer]=%7Bvendor%7D", "synthesizer"),
        ("env_vars=%5B1%2C2", "env_vars"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_invalid_json_in_query_value_is_400(
    client: TestClient, received: list[Any], extra: str, named: str, method: str
) -> None:
    response = client.request(method, f"/incoming?{REQUIRED_QUERY}&{extra}", headers=JSON)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert named in error
    assert "JSON" in error
    assert received == []


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("caller_name=%ff", id="invalid-utf8"),
        pytest.param("sip_status=100", id="repeated-key"),
        pytest.param("sip[headers][X]=1&sip[headers][X][Y]=2", id="conflict"),
        pytest.param("x" + "[y]" * (MAX_DEPTH + 5) + "=1", id="too-deep"),
    ],
)
@pytest.mark.parametrize("path", ["/incoming", "/raw"])
def test_undecodable_query_is_400(client: TestClient, received: list[Any], extra: str, path: str) -> None:
    response = client.get(f"{path}?{REQUIRED_QUERY}&{extra}")
    assert response.status_code == 400, response.text
    assert isinstance(response.json()["error"], str)
    assert received == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("a[%00list]=x&a[]=y", None, id="nul-list-key"),
        pytest.param("a[%C2%B2]=x", {"a": {"²": "x"}}, id="superscript-digit-key"),
    ],
)
def test_hostile_query_keys_are_never_a_500(
    client: TestClient, received: list[Any], query: str, expected: dict[str, Any] | None
) -> None:
    response = client.get(f"/raw?{query}")
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert received == [expected]


def test_json_text_values_through_the_app(client: TestClient, received: list[Any]) -> None:
    sip = {"headers": {"X-Foo": "bar"}, "source_port": 5060, "callingNumber": "+1508"}
    query = urlencode({"sip": json.dumps(sip), "customerData": json.dumps({"crmId": "CRM-1"})})
    response = client.get(f"/incoming?{REQUIRED_QUERY}&{query}")
    assert response.status_code == 200, response.text
    call = received[0]
    assert isinstance(call, CallSession)
    assert call.sip is not None
    assert call.sip.headers == {"X-Foo": "bar"}
    assert call.sip.source_port == 5060
    assert call.sip.calling_number == "+1508"
    assert call.customer_data == {"crmId": "CRM-1"}


def test_raw_payload_from_query_is_text_not_json(client: TestClient, received: list[Any]) -> None:
    """A ``dict`` parameter gets the query as parsed: values are text, nothing is coerced."""
    response = client.get("/raw?a=1&b[c]=2&sip=%7B%7D")
    assert response.status_code == 200, response.text
    assert received == [{"a": "1", "b": {"c": "2"}, "sip": "{}"}]
