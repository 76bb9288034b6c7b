"""The example IVR's own suite, written with the call simulator: each branch as the caller lives it.

Every test runs through the ``ivr`` fixture on both transports, HTTP webhooks and jambonz's
WebSocket API: in process (the ASGI app, called through Starlette's TestClient) and against
``example_app.app:app`` served by uvicorn on a real socket, over WebSocket also with basic auth
configured (the protected deployment).
"""

from __future__ import annotations

import pytest

import example_app.app
from jambonz_webhooks import pytest_plugin
from jambonz_webhooks.pytest_plugin import SimulatorFactory
from jambonz_webhooks.security import BasicCredentials, HookSecurity
from jambonz_webhooks.testing import CallSimulator, SimulatorError
from tests.conftest import (
    PROTECTED_PASSWORD,
    PROTECTED_SECRET,
    PROTECTED_USERNAME,
    LiveServer,
)

# The plugin's fixture, made visible to this module's tests (the plugin is not registered for the suite).
jambonz_simulator = pytest_plugin.jambonz_simulator

MENU = "Press 1 for sales or 2 for support"
SALES = "+15551230001"


IVR_TARGETS = ["asgi-http", "asgi-websocket", "uvicorn-http", "uvicorn-websocket", "uvicorn-websocket-auth"]


@pytest.fixture(params=IVR_TARGETS)
def ivr(
    request: pytest.FixtureRequest, jambonz_simulator: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> CallSimulator:
    """The example IVR in process or served by uvicorn, over HTTP or WebSocket: the same tests run on each."""
    where, _, transport = request.param.partition("-")
    websocket = transport.startswith("websocket")
    if where == "asgi":
        # Deployed as production deploys it: a secret signs HTTP hooks, and basic auth (the one
        # check jambonz's WebSocket upgrade carries) lets sockets in. The simulator uses both.
        security = HookSecurity(
            secrets=(PROTECTED_SECRET,), basic_auth=BasicCredentials(PROTECTED_USERNAME, PROTECTED_PASSWORD)
        )
        monkeypatch.setattr(example_app.app.app.hook_settings, "security", security)
        return jambonz_simulator(example_app.app.app, transport="websocket" if websocket else "http")
    if transport == "websocket-auth":
        protected: LiveServer = request.getfixturevalue("protected_server")
        return jambonz_simulator(
            f"ws://127.0.0.1:{protected.port}", basic_auth=(PROTECTED_USERNAME, PROTECTED_PASSWORD)
        )
    server: LiveServer = request.getfixturevalue("ivr_server")
    return jambonz_simulator(f"ws://127.0.0.1:{server.port}" if websocket else server.origin)


def test_greeting_names_the_company_and_offers_the_menu(ivr: CallSimulator) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"})
    assert call.heard == ["Hello, and thank you for calling Globex.", MENU]
    assert call.waiting_for == "gather"
    assert call.waiting_verb is not None
    assert call.waiting_verb["input"] == ["digits", "speech"]


def test_greeting_without_env_vars_names_the_declared_default(ivr: CallSimulator) -> None:
    call = ivr.start()
    assert call.heard[0] == "Hello, and thank you for calling our company."


@pytest.mark.parametrize("outcome", ["answered", "busy", "no_answer", "failed"])
def test_sales_is_dialed_and_a_failed_dial_is_apologized_for(ivr: CallSimulator, outcome: str) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"})
    call.press("1")
    # /menu's payload has no env_vars: the company comes from the call's state.
    assert call.heard[-1] == "Thank you for calling Globex. Connecting you to sales."
    assert call.dialed == [{"type": "phone", "number": SALES}]
    assert call.waiting_for == "dial"

    getattr(call, f"dial_{outcome}")()
    apology = [] if outcome == "answered" else ["Sorry, we could not connect your call."]
    assert call.heard[3:] == apology
    assert call.ended and call.hung_up_by == "app"


def test_support_is_closed(ivr: CallSimulator) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"}).press("2")
    assert call.heard[-1] == "Globex support is closed right now. Please call back tomorrow."
    assert call.hung_up_by == "app"


def test_speech_is_repeated_back(ivr: CallSimulator) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"}).speak("I need help")
    assert call.heard[-1] == "You said: I need help. Thank you for calling Globex, goodbye."
    assert call.hung_up_by == "app"


def test_silence_says_goodbye(ivr: CallSimulator) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"}).silence()
    assert call.heard[-1] == "Thank you for calling Globex. Goodbye."
    # The menu's answer replaced the call hook's "We did not receive any input."
    assert "We did not receive any input." not in call.heard
    assert call.hung_up_by == "app"


@pytest.mark.parametrize("digit", ["3", "9", "*", "#"])
def test_another_key_says_goodbye(ivr: CallSimulator, digit: str) -> None:
    call = ivr.start(env_vars={"COMPANY_NAME": "Globex"}).press(digit)
    assert call.heard[-1] == "Thank you for calling Globex. Goodbye."


def test_only_the_first_key_counts(ivr: CallSimulator) -> None:
    # numDigits is 1: "21" is "2" to jambonz.
    call = ivr.start().press("21")
    assert call.heard[-1].endswith("support is closed right now. Please call back tomorrow.")


def test_the_caller_hangs_up_during_the_menu(ivr: CallSimulator) -> None:
    call = ivr.start().hangup()
    assert call.ended and call.hung_up_by == "caller"
    assert [request.kind for request in call.requests] == ["call", "status", "status"]
    assert call.requests[-1].payload["call_status"] == "completed"
    assert call.requests[-1].payload["call_termination_by"] == "caller"


def test_status_hooks_follow_the_call(ivr: CallSimulator) -> None:
    call = ivr.start().press("2")
    sent = [(request.kind, request.payload.get("call_status")) for request in call.requests]
    assert sent == [
        ("call", "trying"),
        ("status", "in-progress"),
        ("action", "in-progress"),
        ("status", "completed"),
    ]
    if ivr.transport == "http":
        assert [request.status_code for request in call.requests] == [200, 204, 200, 204]
    else:
        # Messages on the call's socket: the hooks named as the verbs wrote them, no HTTP status.
        messages = [(request.message, request.hook, request.status_code) for request in call.requests]
        assert messages == [
            ("session:new", None, None),
            ("call:status", None, None),
            ("verb:hook", "/menu", None),
            ("call:status", None, None),
        ]


# --------------------------------------------------------------------------- protected deployment


def test_signed_call_with_credentials_against_the_protected_server(
    protected_server: LiveServer, jambonz_simulator: SimulatorFactory
) -> None:
    sim = jambonz_simulator(
        protected_server.origin, secret=PROTECTED_SECRET, basic_auth=(PROTECTED_USERNAME, PROTECTED_PASSWORD)
    )
    call = sim.start(env_vars={"COMPANY_NAME": "Initech"}).press("1").dial_busy()
    assert call.heard == [
        "Hello, and thank you for calling Initech.",
        MENU,
        "Thank you for calling Initech. Connecting you to sales.",
        "Sorry, we could not connect your call.",
    ]
    assert all("Jambonz-Signature" in request.headers for request in call.requests)
    assert [request.status_code for request in call.requests] == [200, 204, 200, 200, 204]


@pytest.mark.parametrize("drop", ["secret", "basic_auth"])
def test_the_protected_server_refuses_a_simulator_without_the_secret_or_credentials(
    protected_server: LiveServer, jambonz_simulator: SimulatorFactory, drop: str
) -> None:
    sim = jambonz_simulator(
        protected_server.origin,
        secret=False if drop == "secret" else PROTECTED_SECRET,
        basic_auth=False if drop == "basic_auth" else (PROTECTED_USERNAME, PROTECTED_PASSWORD),
    )
    with pytest.raises(SimulatorError) as error:
        sim.start()
    assert error.value.status_code == 401
    assert error.value.body is not None and '"error"' in error.value.body


@pytest.mark.parametrize(
    "credentials", [None, (PROTECTED_USERNAME, "not it"), ("someone", PROTECTED_PASSWORD)]
)
def test_the_protected_server_refuses_a_websocket_upgrade_without_the_right_credentials(
    protected_server: LiveServer, jambonz_simulator: SimulatorFactory, credentials: tuple[str, str] | None
) -> None:
    sim = jambonz_simulator(f"ws://127.0.0.1:{protected_server.port}", basic_auth=credentials or False)
    with pytest.raises(SimulatorError) as error:
        sim.start()
    assert error.value.status_code == 401  # a real HTTP answer to the upgrade, which jambonz does not retry
    assert error.value.body is not None and '"error"' in error.value.body
    assert protected_server.is_running()


def test_an_http_url_with_transport_websocket_reaches_the_same_socket(
    ivr_server: LiveServer, jambonz_simulator: SimulatorFactory
) -> None:
    sim = jambonz_simulator(ivr_server.origin, transport="websocket")
    assert sim.call_hook_url == f"ws://127.0.0.1:{ivr_server.port}/incoming"
    call = sim.start(env_vars={"COMPANY_NAME": "Globex"}).press("2")
    assert call.heard[-1] == "Globex support is closed right now. Please call back tomorrow."
    assert {request.method for request in call.requests} == {"WS"}
