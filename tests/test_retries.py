"""jambonz's retry policy from Python: written as the fragment the server reads, and served.

jambonz reads a hook's retry policy from its URL's fragment (``/menu#rc=2&rp=5xx,ct``) and, for
a relative hook, sends the fragment on the wire inside the request target (PROTOCOL.md,
section 1). The tests write policies with :func:`hook`, :class:`RetryPolicy` and
``JambonzApp(retries=...)``; read what is written as the server does (node's URL and
URLSearchParams, the server's own rules); send requests whose target carries the fragment to
real uvicorn servers (httptools and h11) and to the app in process; and retry a delivery.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallSession,
    GatherResult,
    HookObject,
    JambonzApp,
    RetryPolicy,
    RetryPolicyWarning,
    WebhookResponse,
    hook,
)
from jambonz_webhooks import hooks as hooks_module
from jambonz_webhooks.hooks import HookContext
from jambonz_webhooks.routing import drop_fragment
from jambonz_webhooks.testing import CallSimulator, jambonz_json, sign
from tests.apps import retries as retries_app
from tests.conftest import HOST, REPO_ROOT, LiveServer, _free_port, _inherited_env, _stop, _wait_ready
from tests.payloads import session_new

SECRET = retries_app.SECRET

# The warnings themselves are tested below; elsewhere they are the expected noise of the policies built.
pytestmark = pytest.mark.filterwarnings("ignore::jambonz_webhooks.RetryPolicyWarning")


async def menu(result: GatherResult) -> WebhookResponse:
    return WebhookResponse().say(text=f"You pressed {result.digits}").hangup()


async def other() -> WebhookResponse:
    return WebhookResponse().hangup()


ROOT = HookContext("", {menu: "/menu", other: "/other"})
VOICE = HookContext("/voice", {menu: "/menu", other: "/other"})


def written_hook(value: Any, context: HookContext = ROOT) -> Any:
    """The ``actionHook`` a gather built with ``value`` is written with."""
    verbs = WebhookResponse().gather(input=["digits"], action_hook=value).to_list(context)
    return verbs[0]["actionHook"]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process warnings as a new process would."""
    monkeypatch.setattr(hooks_module, "_warned", set())


# =============================================================================================
# Writing a policy
# =============================================================================================


def test_a_handler_with_a_policy_is_written_with_the_fragment_jambonz_reads() -> None:
    policy_hook = hook(menu, retries=2, retry_on={"5xx", "connect"})
    assert written_hook(policy_hook) == "/menu#rc=2&rp=5xx,ct"
    assert written_hook(policy_hook, VOICE) == "/voice/menu#rc=2&rp=5xx,ct"  # mounted: the prefix first
    assert written_hook(hook("/menu", retries=2, retry_on=["connect", "5xx"])) == "/menu#rc=2&rp=5xx,ct"


@pytest.mark.parametrize(
    ("retries", "on", "fragment"),
    [
        (1, None, "rc=1&rp=ct"),  # jambonz's default failure, written all the same
        (3, "timeout", "rc=3&rp=rt"),
        (5, {"4xx", "5xx"}, "rc=5&rp=4xx,5xx"),
        (2, ["all", "5xx"], "rc=2&rp=all"),  # "all" covers the rest
        (1, "ct, rt", "rc=1&rp=ct,rt"),  # the server's own codes, as it splits them
        (4, ("CONNECT", "5XX"), "rc=4&rp=5xx,ct"),
        (0, None, ""),  # no retries: nothing to write
    ],
)
def test_a_policy_is_written_as_rc_and_rp(retries: int, on: Any, fragment: str) -> None:
    policy = RetryPolicy(retries) if on is None else RetryPolicy(retries, on=on)
    assert policy.fragment == fragment
    assert policy.suffix == (f"#{fragment}" if fragment else "")
    assert written_hook(hook(menu, retries=policy)) == "/menu" + policy.suffix
    assert written_hook(hook(menu, retries=retries, retry_on=on or "connect")) == "/menu" + policy.suffix


def test_a_policy_knows_the_delays_jambonz_waits() -> None:
    assert RetryPolicy(5).delays == (0.5, 1.0, 2.0, 4.0, 6.0)
    assert RetryPolicy(2).delays == (0.5, 1.0)
    assert RetryPolicy(0).delays == ()


def test_a_hook_object_carries_its_policy_in_its_url() -> None:
    assert written_hook(hook(menu, retries=1, retry_on="5xx", method="get", username="u", password="p")) == {
        "url": "/menu#rc=1&rp=5xx",
        "method": "GET",
        "username": "u",
        "password": "p",
    }
    # As a dict, as any hook object may be given.
    assert written_hook({"url": "/menu", "method": "POST", "retry": {"retries": 2, "on": ["4xx"]}}) == {
        "url": "/menu#rc=2&rp=4xx",
        "method": "POST",
    }
    assert written_hook({"url": "/menu", "retry": 3}) == "/menu#rc=3&rp=ct"
    assert written_hook(hook("https://crm.example/hook?x=1", retries=1, retry_on="all")) == (
        "https://crm.example/hook?x=1#rc=1&rp=all"
    )


def test_an_app_default_policy_is_written_on_its_hooks_unless_one_names_its_own() -> None:
    default = HookContext("/voice", {menu: "/menu"}, retry=RetryPolicy(2, on="5xx"))
    assert written_hook(menu, default) == "/voice/menu#rc=2&rp=5xx"
    assert written_hook("/menu", default) == "/voice/menu#rc=2&rp=5xx"
    assert written_hook(HookObject(url=menu, method="GET"), default) == {
        "url": "/voice/menu#rc=2&rp=5xx",
        "method": "GET",
    }
    assert written_hook(hook(menu, retries=1, retry_on="all"), default) == "/voice/menu#rc=1&rp=all"
    assert written_hook(hook(menu, retries=0), default) == "/voice/menu"  # turned off for this hook
    assert written_hook("/menu#rc=4", default) == "/voice/menu#rc=4"  # written by hand: left alone
    # Another server's URL is written as given: the default is for the app's own hooks.
    assert written_hook("https://crm.example/hook", default) == "https://crm.example/hook"


def test_an_app_writes_its_default_policy_in_its_answers() -> None:
    app = JambonzApp(insecure=True, retries=RetryPolicy(2, on={"connect", "5xx"}))

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return (
            WebhookResponse()
            .gather(input=["digits"], action_hook=ask, say={"text": "Press 1"})
            .redirect(action_hook=hook(ask, retries=1, retry_on="all"))
        )

    @app.action_hook("/ask")
    async def ask(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().hangup()

    outer = Starlette(routes=[Mount("/voice", app=app)])
    with TestClient(outer) as client:
        answer = client.post("/voice/incoming", json=session_new())
    assert answer.status_code == 200
    assert [verb["actionHook"] for verb in answer.json()] == [
        "/voice/ask#rc=2&rp=5xx,ct",
        "/voice/ask#rc=1&rp=all",
    ]
    assert JambonzApp(insecure=True, retries=3).hook_settings.retry == RetryPolicy(3)
    assert JambonzApp(insecure=True).hook_settings.retry is None


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: RetryPolicy(6), ValueError, "0 to 5 times"),
        (lambda: RetryPolicy(-1), ValueError, "0 to 5 times"),
        (lambda: RetryPolicy(True), TypeError, "whole number"),
        (lambda: RetryPolicy(1.5), TypeError, "whole number"),  # type: ignore[arg-type]
        (lambda: RetryPolicy(1, on="timeouts"), ValueError, "'timeouts' is not a failure"),
        (lambda: RetryPolicy(1, on=set()), ValueError, "names no failure"),
        (lambda: RetryPolicy(1, on=[5]), ValueError, "5 is not a failure"),  # type: ignore[list-item]
        (lambda: hook(menu, retry_on="5xx"), TypeError, "retry_on goes with retries=N"),
        (lambda: hook(menu, retries=RetryPolicy(1), retry_on="5xx"), TypeError, "names its own"),
        (lambda: hook("/menu#rc=1", retries=2), ValueError, "not both"),
        (lambda: HookObject.model_validate({"url": "/m", "retry": {"tries": 2}}), ValueError, "retry"),
        (lambda: HookObject.model_validate({"url": "/m", "retry": {"retries": True}}), ValueError, "whole"),
        (
            lambda: HookObject.model_validate({"url": "/m", "retry": {"retries": 1, "on": 5}}),
            ValueError,
            "one or",
        ),
        (lambda: JambonzApp(insecure=True, retries=9), ValueError, "0 to 5 times"),
    ],
)
def test_a_policy_jambonz_cannot_read_is_refused_when_it_is_built(
    build: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build()


# =============================================================================================
# What jambonz 0.9.8 ignores: said once, at the line that asks for it
# =============================================================================================


def test_a_timeout_policy_warns_once_that_0_9_8_never_retries_a_timeout() -> None:
    with pytest.warns(
        RetryPolicyWarning, match=r"'timeout' \(rt\) does nothing on jambonz 0\.9\.8"
    ) as caught:
        hook(menu, retries=2, retry_on={"timeout", "5xx"})
    assert "only 'all' retries a timeout" in str(caught[0].message)
    assert caught[0].filename == __file__  # the line that asked, not the framework's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RetryPolicy(3, on="rt")  # once per process
        RetryPolicy(2, on={"all"})  # "all" retries a timeout: nothing to say
        RetryPolicy(0, on="timeout")  # no retries: nothing asked


def test_a_connect_policy_jambonzs_default_is_not_warned_about() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JambonzApp(insecure=True, retries=2)  # the app's default policy: connect
        hook(menu, retries=1)


# =============================================================================================
# What the server reads of what is written (node: WHATWG URL and URLSearchParams)
# =============================================================================================

# The feature server's reading of a hook's fragment (lib/utils/http-requestor.js, 0.9.8): the
# URL's hash parsed as search parameters; rc = min(|parseInt(rc or "0")|, 5); rp (default "ct")
# split on commas, each trimmed. Relative hooks are read after the application's origin.
SERVER_READS = """
const written = JSON.parse(process.argv[1]);
const out = written.map((hook) => {
  const url = typeof hook === 'object' ? hook.url : hook;
  const abs = url.startsWith('/') ? `http://app.example:3000${url}` : url;
  const hash = new URL(abs).hash;
  const params = hash ? Object.fromEntries(new URLSearchParams(hash.substring(1))) : {};
  const rc = hash ? Math.min(Math.abs(parseInt(params.rc || '0')), 5) : 0;
  const rp = (params.rp || 'ct').split(',').map((v) => v.trim());
  return {rc, rp: rp.sort(), path: new URL(abs).pathname};
});
console.log(JSON.stringify(out));
"""


def test_the_server_reads_back_each_policy_as_it_was_asked() -> None:
    policies = [
        RetryPolicy(1),
        RetryPolicy(2, on={"5xx", "connect"}),
        RetryPolicy(3, on="timeout"),
        RetryPolicy(4, on={"4xx", "5xx", "rt"}),
        RetryPolicy(5, on="all"),
        RetryPolicy(0),
    ]
    written = [
        *(written_hook(hook(menu, retries=policy), VOICE) for policy in policies),
        written_hook(hook(menu, retries=policies[1], method="GET"), VOICE),
        written_hook(hook("https://crm.example/h?q=1", retries=policies[2])),
    ]
    run = subprocess.run(
        ["node", "-e", SERVER_READS, json.dumps(written)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    read = json.loads(run.stdout)
    expected = [
        {"rc": policy.retries, "rp": sorted(policy.on) if policy.retries else ["ct"], "path": "/voice/menu"}
        for policy in policies
    ]
    expected.append({**expected[1]})
    expected.append({"rc": 3, "rp": ["rt"], "path": "/h"})
    assert read == expected


# =============================================================================================
# A request whose target carries the fragment: real uvicorn servers
# =============================================================================================

# How each server is run, and where the app is: uvicorn's two HTTP parsers (httptools drops the
# fragment itself; h11 leaves it in the path), at the root and mounted under /voice.
SERVERS = {
    "httptools": ("httptools", "tests.apps.retries:app", ""),
    "h11": ("h11", "tests.apps.retries:app", ""),
    "h11-mounted": ("h11", "tests.apps.retries:outer", "/voice"),
}


def _spawn_uvicorn(http: str, app: str, log_dir: Path, tag: str) -> LiveServer:
    port = _free_port()
    stderr_path = log_dir / f"{tag}.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), "--http", http],
            cwd=REPO_ROOT,
            env={**_inherited_env(), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return LiveServer(app, process, port, stderr_path)


@pytest.fixture(scope="module")
def retry_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[LiveServer, str]]]:
    log_dir = tmp_path_factory.mktemp("retries")
    servers = {key: _spawn_uvicorn(http, app, log_dir, key) for key, (http, app, _) in SERVERS.items()}
    try:
        deadline = time.monotonic() + 20
        for key, server in servers.items():
            assert _wait_ready(server, deadline), f"uvicorn {key} did not start:\n{server.stderr()}"
        yield {key: (server, SERVERS[key][2]) for key, server in servers.items()}
    finally:
        for server in servers.values():
            _stop(server.process)


def post_raw(server: LiveServer, target: str, body: bytes, signature: str) -> tuple[int, Any]:
    """POST ``target`` exactly as given (http.client sends a ``#`` as it is, as jambonz does)."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=5)
    try:
        connection.request(
            "POST", target, body, {"Content-Type": "application/json", "Jambonz-Signature": signature}
        )
        answer = connection.getresponse()
        data = answer.read()
        return answer.status, json.loads(data) if data else None
    finally:
        connection.close()


def said(verbs: list[dict[str, Any]]) -> str:
    return str(verbs[0]["text"])


@pytest.mark.slow
@pytest.mark.parametrize("key", list(SERVERS))
def test_a_hook_target_with_its_fragment_is_routed_and_a_retry_answered_once(
    retry_servers: dict[str, tuple[LiveServer, str]], key: str
) -> None:
    server, prefix = retry_servers[key]
    call = session_new(call_sid=f"CA-retries-{key}")
    body = jambonz_json(call)
    status, verbs = post_raw(server, f"{prefix}/incoming#rc=1&rp=all", body, sign(body, SECRET))
    assert status == 200, server.stderr()
    menu_target = verbs[0]["actionHook"]
    assert menu_target == f"{prefix}/menu#rc=2&rp=5xx,ct"  # the hook's own policy

    # The gather's outcome, sent to the target as written, fragment and all; then the retry:
    # the same body and the same signature header.
    result = jambonz_json({**call, "reason": "dtmfDetected", "digits": "1"})
    signature = sign(result, SECRET)
    status, first = post_raw(server, menu_target, result, signature)
    assert status == 200, server.stderr()
    assert said(first).startswith("menu ran ")
    runs = int(said(first).removeprefix("menu ran "))
    status, retried = post_raw(server, menu_target, result, signature)
    assert (status, retried) == (200, first)  # the first answer: the handler ran once
    assert first[1]["actionHook"] == f"{prefix}/bye#rc=1&rp=all"  # the app's default policy

    # A new delivery (another press) runs the handler again; a forged one is refused.
    again = jambonz_json({**call, "reason": "dtmfDetected", "digits": "2"})
    status, second = post_raw(server, menu_target, again, sign(again, SECRET))
    assert (status, said(second)) == (200, f"menu ran {runs + 1}")
    status, refused = post_raw(server, menu_target, again, sign(again, "another secret"))
    assert status == 401 and "signature" in refused["error"]

    status, bye = post_raw(server, first[1]["actionHook"], result, signature)
    assert (status, said(bye)) == (200, "Goodbye")
    status, _ = post_raw(server, f"{prefix}/nowhere#rc=1&rp=all", result, signature)
    assert status == 404
    assert "Traceback" not in server.stderr()


# =============================================================================================
# The same, in process: the scopes each server makes of such a target
# =============================================================================================


def _scope(path: str, raw_path: bytes | None, query: bytes = b"", method: str = "POST") -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    return scope


def serve(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[int, Any]:
    """Run one request through ``app``'s ASGI interface; the status and the decoded JSON answer."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    content = b"".join(
        message.get("body", b"") for message in sent if message["type"] == "http.response.body"
    )
    return sent[0]["status"], json.loads(content) if content else None


def echo_app(**options: Any) -> JambonzApp:
    app = JambonzApp(insecure=True, allow_unsigned_get=True, **options)

    @app.action_hook("/menu")
    async def echo_menu(payload: dict[str, Any] | None) -> WebhookResponse:
        return WebhookResponse().say(text=json.dumps(payload))

    @app.action_hook("/item/{name}")
    async def item(name: str) -> WebhookResponse:
        return WebhookResponse().say(text=name)

    return app


BODY = jambonz_json({**session_new(call_sid="CA-scope"), "digits": "1"})


@pytest.mark.parametrize(
    ("scope", "expected_path"),
    [
        (_scope("/menu#rc=2&rp=all", b"/menu#rc=2&rp=all"), "/menu"),  # h11
        (_scope("/menu#rc=2&rp=all", None), "/menu"),  # a server that gives no raw_path
        (_scope("/menu", b"/menu"), "/menu"),  # httptools: already cut
        (_scope("/item/a#b", b"/item/a%23b"), "/item/a#b"),  # httptools: a "#" sent as %23
        (_scope("/item/a#b#rc=1", b"/item/a%23b#rc=1"), "/item/a#b"),  # h11: the same, with a fragment
        (_scope("/caf\u00e9#rc=1&rp=caf\u00e9", b"/caf%C3%A9#rc=1&rp=caf%C3%A9"), "/caf\u00e9"),
    ],
)
def test_a_fragment_is_cut_from_the_scope_and_a_sent_hash_is_kept(
    scope: dict[str, Any], expected_path: str
) -> None:
    assert drop_fragment(scope) == expected_path
    assert scope["path"] == expected_path
    assert b"#rc" not in scope.get("raw_path", b"")


@pytest.mark.parametrize("middleware", [False, True])
def test_a_target_with_a_fragment_reaches_its_hook_in_process(middleware: bool) -> None:
    # With middleware of its own the app routes through Starlette's router (HookRoute.matches).
    app = echo_app(middleware=[Middleware(GZipMiddleware)] if middleware else None)
    status, verbs = serve(app, _scope("/menu#rc=2&rp=all", b"/menu#rc=2&rp=all"), BODY)
    assert status == 200 and json.loads(said(verbs))["digits"] == "1"
    status, verbs = serve(app, _scope("/item/a#b#rc=1", b"/item/a%23b#rc=1"), BODY)
    assert (status, said(verbs)) == (200, "a#b")
    outer = Starlette(routes=[Mount("/voice", app=app)])
    status, verbs = serve(outer, _scope("/voice/menu#rc=1&rp=ct", b"/voice/menu#rc=1&rp=ct"), BODY)
    assert status == 200 and json.loads(said(verbs))["digits"] == "1"


def test_a_get_hook_with_a_query_and_a_fragment_reads_the_query_alone() -> None:
    # h11 leaves the fragment at the end of the query string: it is not the payload's.
    scope = _scope("/menu", b"/menu", b"digits=1&call_sid=CA1#rc=2&rp=all", method="GET")
    status, verbs = serve(echo_app(), scope)
    assert status == 200
    assert json.loads(said(verbs)) == {"digits": "1", "call_sid": "CA1"}
    assert scope["query_string"] == b"digits=1&call_sid=CA1"


# =============================================================================================
# Over WebSocket: the hook's name arrives as written, fragment and all
# =============================================================================================


@pytest.mark.slow
def test_a_hook_with_a_policy_reaches_its_handler_over_websocket() -> None:
    app = JambonzApp(insecure=True, retries=1)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(
            input=["digits"], action_hook=hook(ws_menu, retries=2, retry_on="5xx"), say={"text": "Press"}
        )

    @app.action_hook("/menu")
    async def ws_menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text=f"You pressed {result.digits}").redirect(action_hook=ws_bye)

    @app.action_hook("/bye")
    async def ws_bye() -> WebhookResponse:
        return WebhookResponse().say(text="Goodbye").hangup()

    with CallSimulator(app, transport="websocket", status_hook=None) as sim:
        call = sim.start().press("7")
    assert call.heard == ["Press", "You pressed 7", "Goodbye"]
    # The names as the verbs wrote them, policies included: each reached its handler.
    assert [(request.message, request.hook) for request in call.requests] == [
        ("session:new", None),
        ("verb:hook", "/menu#rc=2&rp=5xx"),
        ("session:redirect", "/bye#rc=1&rp=ct"),  # the app's default
    ]
