"""The hook pipeline: deadlines, status hooks answered at once, dispatch, registration refusals."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from jambonz_webhooks import (
    Background,
    CallInfo,
    CallSession,
    CallState,
    EnvVars,
    GatherResult,
    HookRouter,
    JambonzApp,
    WebhookResponse,
)
from jambonz_webhooks.events import VerbStatus
from jambonz_webhooks.logs import ACCESS_LOGGER, TEXT_FORMAT, BufferedStreamHandler
from jambonz_webhooks.pipeline import ENV_DEADLINE, deadline_from
from jambonz_webhooks.testing import signed_headers
from tests import payloads
from tests.conftest import _spawn, _stop, _wait_ready

JSON = {"content-type": "application/json"}
FALLBACK = [
    {"verb": "say", "text": "We are sorry, something went wrong. Please call again later."},
    {"verb": "hangup"},
]


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def new_sid() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- deadlines, on uvicorn


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/slow-call", payloads.session_new),
        ("/slow-action", lambda **kw: payloads.call_info(reason="dtmfDetected", digits="1", **kw)),
        ("/slow-sync", lambda **kw: payloads.call_info(reason="dtmfDetected", digits="1", **kw)),
    ],
    ids=["call-async", "action-async", "action-sync"],
)
def test_a_handler_past_its_deadline_gets_the_fallback_within_it(
    slow_client: httpx2.Client, path: str, payload: Any
) -> None:
    sid = new_sid()
    started = time.monotonic()
    response = slow_client.post(path, content=body(payload(call_sid=sid)), headers=JSON)
    took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == FALLBACK
    assert 0.45 < took < 1.2, took  # the deadline is 0.5 s; the handler would take 1.5 s or 5 s


@pytest.mark.slow
def test_an_overrun_async_handler_is_cancelled_and_a_sync_one_abandoned(slow_client: httpx2.Client) -> None:
    sid = new_sid()
    gather = body(payloads.call_info(call_sid=sid, reason="dtmfDetected", digits="1"))
    slow_client.post("/slow-action", content=gather, headers=JSON)
    slow_client.post("/slow-sync", content=gather, headers=JSON)
    time.sleep(1.3)  # the sync handler (1.5 s) ends in its abandoned thread
    finished = slow_client.get(f"/finished/{sid}").json()
    assert finished == ["slow_sync"]  # the async one never reached its end: it was cancelled


def test_a_hook_sets_its_own_deadline_and_fallback(slow_client: httpx2.Client) -> None:
    started = time.monotonic()
    response = slow_client.post("/own-fallback", content=body(payloads.call_info()), headers=JSON)
    assert time.monotonic() - started < 0.45  # 0.2 s, not the app's 0.5 s
    assert response.json() == [{"verb": "say", "text": "still thinking"}, {"verb": "hangup"}]


def test_a_handler_within_its_deadline_answers_its_own_verbs(slow_client: httpx2.Client) -> None:
    response = slow_client.post("/quick", content=body(payloads.call_info()), headers=JSON)
    assert response.json() == [{"verb": "say", "text": "in time"}]


def test_status_hooks_are_answered_at_once_and_their_handler_runs_after(slow_client: httpx2.Client) -> None:
    sid = new_sid()
    started = time.monotonic()
    response = slow_client.post("/status", content=body(payloads.call_info(call_sid=sid)), headers=JSON)
    assert response.status_code == 204
    assert time.monotonic() - started < 0.25  # the handler takes 0.3 s
    deadline = time.monotonic() + 3
    while "status" not in slow_client.get(f"/finished/{sid}").json():
        assert time.monotonic() < deadline, "the status handler never ran"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_stuck_status_handler_is_cancelled_at_the_deadline(slow_client: httpx2.Client) -> None:
    sid = new_sid()
    response = slow_client.post("/status-stuck", content=body(payloads.call_info(call_sid=sid)), headers=JSON)
    assert response.status_code == 204
    time.sleep(0.8)
    # Cancelled at 0.5 s: it holds nothing, and never finishes.
    assert slow_client.get(f"/finished/{sid}").json() == []
    assert slow_client.post("/quick", content=body(payloads.call_info()), headers=JSON).status_code == 200


def test_the_deadline_is_logged_with_the_call_sid(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True, deadline=0.1)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        await asyncio.sleep(2)
        return WebhookResponse().hangup()

    sid = new_sid()
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        response = client.post("/incoming", content=body(payloads.session_new(call_sid=sid)), headers=JSON)
    assert response.json() == FALLBACK
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "deadline" in r.getMessage()]
    assert len(warnings) == 1 and sid in warnings[0].getMessage()
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert line.outcome == "deadline"  # type: ignore[attr-defined]
    assert line.call_sid == sid  # type: ignore[attr-defined]


@pytest.mark.slow
def test_state_store_work_shares_the_hooks_budget() -> None:
    class SlowStore:
        """A store whose every operation takes 0.3 s: three of them pass a 0.5 s deadline."""

        async def _slow(self) -> None:
            await asyncio.sleep(0.3)

        async def get(self, call_sid: str, key: str) -> bytes | None:
            await self._slow()
            return None

        async def get_all(self, call_sid: str) -> dict[str, bytes]:
            await self._slow()
            return {}

        async def set(self, call_sid: str, values: Any) -> None:
            await self._slow()

        async def delete(self, call_sid: str, *keys: str) -> None:
            await self._slow()

        async def drop(self, call_sid: str) -> None:
            await self._slow()

        async def aclose(self) -> None:
            return None

    app = JambonzApp(webhook_secret=[], insecure=True, deadline=0.5, state=SlowStore())

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
        await state.get("a")  # 0.3 s, after the 0.3 s the session took to keep
        return WebhookResponse().hangup()

    started = time.monotonic()
    with TestClient(app) as client:
        response = client.post("/incoming", content=body(payloads.session_new()), headers=JSON)
    assert response.json() == FALLBACK
    assert time.monotonic() - started < 0.9


def test_deadline_settings_are_checked() -> None:
    assert deadline_from(None, {}) == 8.0
    assert deadline_from(None, {ENV_DEADLINE: "2.5"}) == 2.5
    assert deadline_from(3, {ENV_DEADLINE: "2.5"}) == 3
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="deadline"):
            deadline_from(bad, {})
    with pytest.raises(ValueError, match=ENV_DEADLINE):
        deadline_from(None, {ENV_DEADLINE: "soon"})


def test_the_environment_sets_the_apps_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DEADLINE, "0.1")
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(call: CallInfo) -> WebhookResponse:
        await asyncio.sleep(1)
        return WebhookResponse().hangup()

    started = time.monotonic()
    response = TestClient(app).post("/menu", content=body(payloads.call_info()), headers=JSON)
    assert response.json() == FALLBACK
    assert time.monotonic() - started < 0.6


# --------------------------------------------------------------------------- what the handler raises


def test_a_handler_raising_cancelled_error_gets_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(call: CallInfo) -> WebhookResponse:
        raise asyncio.CancelledError()

    with caplog.at_level(logging.ERROR):
        response = TestClient(app).post("/menu", content=body(payloads.call_info()), headers=JSON)
    assert response.status_code == 200 and response.json() == FALLBACK
    assert any(r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    "raised", [SystemExit(3), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"]
)
@pytest.mark.parametrize("runs", ["async", "sync", "in the background"])
def test_a_handler_raising_system_exit_fails_like_any_other_and_the_app_serves_on(
    raised: BaseException, runs: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Raised from a task, these two would end asyncio's event loop: the whole server.
    app = JambonzApp(webhook_secret=[], insecure=True)
    options: dict[str, Any] = {"background": Background(after=5)} if runs == "in the background" else {}

    if runs == "sync":

        @app.action_hook("/menu")
        def sync_menu(call: CallInfo) -> WebhookResponse:
            raise raised

    else:

        @app.action_hook("/menu", **options)
        async def menu(call: CallInfo) -> WebhookResponse:
            raise raised

    @app.action_hook("/next")
    async def after(call: CallInfo) -> WebhookResponse:
        return WebhookResponse().hangup()

    info = payloads.call_info()
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        response = client.post("/menu", content=body(info), headers=JSON)
        assert client.post("/next", content=body(payloads.call_info()), headers=JSON).json() == [
            {"verb": "hangup"}
        ]
    assert response.status_code == 200 and response.json() == FALLBACK
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"call_sid={info['call_sid']}" in failure.getMessage()
    assert type(raised).__name__ in failure.getMessage() or type(raised).__name__ in (failure.exc_text or "")


@pytest.mark.parametrize(
    "answer",
    [
        lambda: WebhookResponse().pause(length=float("nan")),  # a typed field: refused when built
        lambda: WebhookResponse().pause(length=float("inf")),
        lambda: WebhookResponse([{"verb": "pause", "length": float("-inf")}]),
        lambda: WebhookResponse().gather(say={"text": "hi", "loop": float("nan")}),  # nested
    ],
)
def test_nan_or_an_infinity_in_the_answer_gets_the_fallback(
    answer: Callable[[], WebhookResponse], caplog: pytest.LogCaptureFixture
) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(call: CallInfo) -> WebhookResponse:
        return answer()

    with caplog.at_level(logging.ERROR):
        response = TestClient(app).post("/menu", content=body(payloads.call_info()), headers=JSON)
    assert response.status_code == 200 and response.json() == FALLBACK
    assert b"NaN" not in response.content and b"Infinity" not in response.content
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "call_sid=" in failure.getMessage()


def test_nan_and_infinity_as_text_are_answered_as_they_are() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(call: CallInfo) -> WebhookResponse:
        return WebhookResponse().say(text="NaN, Infinity and -Infinity").tag(data={"NaN": "Infinity"})

    response = TestClient(app).post("/menu", content=body(payloads.call_info()), headers=JSON)
    assert response.json() == [
        {"verb": "say", "text": "NaN, Infinity and -Infinity"},
        {"verb": "tag", "data": {"NaN": "Infinity"}},
    ]


def test_a_handler_raising_timeout_error_is_a_failure_not_a_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(call: CallInfo) -> WebhookResponse:
        raise TimeoutError("the upstream did not answer")

    with caplog.at_level(logging.INFO), TestClient(app) as client:
        response = client.post("/menu", content=body(payloads.call_info()), headers=JSON)
    assert response.json() == FALLBACK
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert line.outcome == "fallback"  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [403, 404, 429])
def test_an_http_exception_from_a_handler_is_answered_and_logged_with_its_status(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise HTTPException(status, "not for you", headers={"X-Reason": "blocked"})

    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER), TestClient(app) as client:
        response = client.post("/incoming", content=body(payloads.session_new()), headers=JSON)
    assert response.status_code == status
    assert response.json() == {"error": "not for you"}
    assert response.headers["x-reason"] == "blocked"
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert line.status == status  # type: ignore[attr-defined]


def test_an_apps_own_http_exception_handler_still_answers() -> None:
    async def teapot(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"mine": True}, status_code=418)

    app = JambonzApp(webhook_secret=[], insecure=True, exception_handlers={HTTPException: teapot})

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise HTTPException(403)

    response = TestClient(app).post("/incoming", content=body(payloads.session_new()), headers=JSON)
    assert (response.status_code, response.json()) == (418, {"mine": True})


# --------------------------------------------------------------------------- the access log's facts


def test_an_unverified_call_sid_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(webhook_secret=["s3cret"])

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    forged = body(payloads.session_new(call_sid="abc\n2026-12-02 INFO forged line"))
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        response = client.post("/incoming", content=forged, headers=JSON)
    assert response.status_code == 401
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert line.call_sid is None  # type: ignore[attr-defined]
    assert line.status == 401  # type: ignore[attr-defined]
    assert "forged" not in line.getMessage()
    for record in caplog.records:
        assert "forged" not in record.getMessage()


def test_a_signed_request_logs_its_validated_call_sid(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(webhook_secret=["s3cret"])

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    sid = new_sid()
    payload = body(payloads.session_new(call_sid=sid))
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER), TestClient(app) as client:
        client.post("/incoming", content=payload, headers=signed_headers(payload, "s3cret"))
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert (line.call_sid, line.status, line.verbs) == (sid, 200, ["hangup"])  # type: ignore[attr-defined]


def test_a_payload_that_fails_validation_logs_no_call_sid(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    payload = body(payloads.session_new(call_sid="logged-if-wrong", sip_status="not a number"))
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER), TestClient(app) as client:
        assert client.post("/incoming", content=payload, headers=JSON).status_code == 422
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert line.call_sid is None  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- registration


def test_a_decorator_without_parentheses_is_refused_naming_the_fix() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)
    with pytest.raises(TypeError, match=r'@app\.call_hook\("/incoming"\)'):

        @app.call_hook  # type: ignore[arg-type]
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().hangup()

    router = HookRouter()
    with pytest.raises(TypeError, match=r"action_hook takes the hook's path"):

        @router.action_hook  # type: ignore[arg-type]
        async def menu(call: CallInfo) -> WebhookResponse:
            return WebhookResponse().hangup()

    assert app.hooks == [] and router.hooks == []


class Settings(EnvVars):
    COMPANY: str = "Acme"


async def _state_on_verb_status(event: VerbStatus, state: CallState) -> None:
    return None


async def _env_on_verb_status(event: VerbStatus, env: Settings) -> None:
    return None


@pytest.mark.parametrize("handler", [_state_on_verb_status, _env_on_verb_status], ids=["state", "env"])
def test_state_for_a_payload_without_a_call_sid_is_refused_at_registration(handler: Any) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)
    with pytest.raises(TypeError, match="VerbStatus may come without a call_sid"):
        app.action_hook("/verb-status")(handler)


def test_state_with_a_payload_that_carries_the_call_is_accepted() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(result: GatherResult, state: CallState) -> WebhookResponse:
        return WebhookResponse().hangup()

    assert [route.path for route in app.hooks] == ["/menu"]


def test_a_path_parameter_is_converted_to_its_annotation() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)
    seen: list[Any] = []

    @app.action_hook("/step/{n}")
    async def step(call: CallInfo, n: int) -> WebhookResponse:
        seen.append(n)
        return WebhookResponse().hangup()

    @app.action_hook("/typed/{n:int}")
    async def typed(call: CallInfo, n: int) -> WebhookResponse:
        seen.append(n)
        return WebhookResponse().hangup()

    client = TestClient(app)
    assert client.post("/step/42", content=body(payloads.call_info()), headers=JSON).status_code == 200
    assert client.post("/typed/7", content=body(payloads.call_info()), headers=JSON).status_code == 200
    assert seen == [42, 7] and all(type(value) is int for value in seen)
    refused = client.post("/step/forty-two", content=body(payloads.call_info()), headers=JSON)
    assert refused.status_code == 422
    assert refused.json() == {"error": "invalid path parameter: n"}
    assert seen == [42, 7]


def test_a_path_parameter_of_an_impossible_type_is_refused_at_registration() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)
    with pytest.raises(TypeError, match="path parameter 'n'"):

        @app.action_hook("/step/{n}")
        async def step(call: CallInfo, n: asyncio.Lock) -> WebhookResponse:
            return WebhookResponse().hangup()


# --------------------------------------------------------------------------- dispatch


class Tagging:
    """User middleware: marks every answer, so a test sees the request went through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tagged", b"yes")]
            await send(message)

        await self.app(scope, receive, tagged)


@pytest.mark.parametrize("middleware", [False, True], ids=["direct", "through-middleware"])
def test_hooks_are_served_with_and_without_user_middleware(middleware: bool) -> None:
    app = JambonzApp(
        webhook_secret=[], insecure=True, middleware=[Middleware(Tagging)] if middleware else None
    )

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    @app.action_hook("/step/{n:int}")
    async def step(call: CallInfo, n: int) -> WebhookResponse:
        return WebhookResponse().say(text=str(n))

    client = TestClient(app)
    answer = client.post("/incoming", content=body(payloads.session_new()), headers=JSON)
    assert answer.json() == [{"verb": "hangup"}]
    assert (answer.headers.get("x-tagged") == "yes") is middleware
    assert client.post("/step/3", content=body(payloads.call_info()), headers=JSON).json() == [
        {"verb": "say", "text": "3"}
    ]
    assert client.post("/nowhere", content=b"{}", headers=JSON).status_code == 404
    assert client.put("/incoming", content=b"{}", headers=JSON).status_code == 405


def test_the_last_of_200_hooks_is_found() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    def make(index: int) -> Any:
        async def handler(call: CallInfo) -> WebhookResponse:
            return WebhookResponse().say(text=str(index))

        handler.__name__ = f"hook{index}"
        return handler

    for index in range(200):
        app.action_hook(f"/hook{index}")(make(index))
    response = TestClient(app).post("/hook199", content=body(payloads.call_info()), headers=JSON)
    assert response.json() == [{"verb": "say", "text": "199"}]
    assert len(app.hook_table.fixed) == 200


# --------------------------------------------------------------------------- the deadline watch


async def test_a_deadline_cancels_its_task_within_a_tick() -> None:
    from jambonz_webhooks.deadline import TICK, deadlines

    async def work() -> tuple[bool, float]:
        deadline = deadlines.start(0.2)
        started = time.monotonic()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            expired = deadline.finish()
            task = asyncio.current_task()
            assert task is not None and task.cancelling() == 0  # the cancellation was undone
            return expired, time.monotonic() - started
        return False, time.monotonic() - started

    expired, took = await asyncio.wait_for(work(), 2)
    assert expired
    assert 0.19 < took < 0.2 + 2 * TICK, took


async def test_a_finished_deadline_never_fires_and_the_watch_stops() -> None:
    from jambonz_webhooks.deadline import TICK, deadlines

    deadline = deadlines.start(0.1)
    assert not deadline.finish()
    await asyncio.sleep(0.1 + 3 * TICK)  # a cancellation would land in this sleep
    assert not deadline.expired
    watch = deadlines._last
    assert watch is not None and watch.handle is None and not watch.queues  # idle: no timer left


async def test_a_finished_deadline_frees_its_task_at_once() -> None:
    """Nothing of a request that ended waits for the watch's next tick to be freed."""
    from jambonz_webhooks.deadline import deadlines

    async def work() -> None:
        deadlines.start(10).finish()

    task = asyncio.ensure_future(work())
    await task
    await asyncio.sleep(0)  # the loop's own reference (the done callbacks) goes
    freed = weakref.ref(task)
    del task
    assert freed() is None  # by reference counting: no collector, no tick
    watch = deadlines._last
    assert watch is not None and not any(watch.queues.values())


async def test_deadlines_of_several_durations_fire_in_their_own_time() -> None:
    from jambonz_webhooks.deadline import deadlines

    async def wait(seconds: float) -> float:
        deadline = deadlines.start(seconds)
        started = time.monotonic()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert deadline.finish()
        return time.monotonic() - started

    long, short = await asyncio.gather(wait(0.4), wait(0.1))
    assert 0.09 < short < 0.25 and 0.39 < long < 0.55, (short, long)


# --------------------------------------------------------------------------- the access log, written


@contextmanager
def buffered_access_log() -> Iterator[io.StringIO]:
    """The access logger writing through the framework's buffered handler only (a long timer).

    Entered in the test's body: pytest gives each phase's non-propagating loggers a capture
    handler of its own, which would (rightly) send the lines through stdlib's path.
    """
    logger = logging.getLogger(ACCESS_LOGGER)
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=60)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        handler.flush()
        logger.handlers[:], logger.propagate, _ = saved
        logger.setLevel(saved[2])


def test_access_lines_are_buffered_then_written_at_shutdown() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    sid = new_sid()
    with buffered_access_log() as log:
        with TestClient(app) as client:
            client.post("/incoming", content=body(payloads.session_new(call_sid=sid)), headers=JSON)
            assert log.getvalue() == ""  # kept raw, for a batch: nothing formatted yet
        # The app's lifespan ended: the kept line was written out.
        (line,) = log.getvalue().splitlines()
    assert "call hook POST /incoming -> 200 in " in line and f"call_sid={sid}" in line


def test_a_newline_in_a_validated_call_sid_stays_on_one_line() -> None:
    app = JambonzApp(webhook_secret=["s3cret"])

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    signed = body(payloads.session_new(call_sid="abc\n2026-12-02 INFO jambonz_webhooks.access: forged"))
    unsigned = body(payloads.session_new(call_sid="xyz\nforged-unsigned"))
    with buffered_access_log() as log:
        with TestClient(app) as client:
            assert client.post(
                "/incoming", content=signed, headers=signed_headers(signed, "s3cret")
            ).is_success
            assert client.post("/incoming", content=unsigned, headers=JSON).status_code == 401
        lines = log.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "call_sid=abc\\n2026-12-02 INFO" in lines[0]  # escaped, on its own line
    assert "-> 401" in lines[1] and "xyz" not in lines[1] and "call_sid=None" in lines[1]


@pytest.mark.slow
def test_the_example_app_under_uvicorn_writes_one_access_line_per_hook_through_shutdown(
    tmp_path: Path,
) -> None:
    server = _spawn(
        "example_app.app:app", tmp_path, "access", {"LOG_LEVEL": "INFO", "JAMBONZ_WEBHOOK_INSECURE": "1"}
    )
    try:
        assert _wait_ready(server, time.monotonic() + 20), server.stderr()
        sids = [new_sid() for _ in range(5)]
        with httpx2.Client(base_url=server.origin, timeout=10, trust_env=False) as client:
            for sid in sids:
                payload = body(payloads.session_new(call_sid=sid))
                assert client.post("/incoming", content=payload, headers=JSON).status_code == 200
            forged = body(payloads.session_new(call_sid="one\ntwo"))
            assert client.post("/incoming", content=forged, headers=JSON).status_code == 200
        server.process.send_signal(signal.SIGTERM)  # at once: lines may still be kept
        server.process.wait(timeout=10)
    finally:
        _stop(server.process)
    lines = [line for line in server.stderr().splitlines() if "jambonz_webhooks.access" in line]
    assert len(lines) == 6, server.stderr()
    for sid, line in zip(sids, lines, strict=False):
        assert f"call_sid={sid}" in line and "-> 200" in line
    assert lines[-1].endswith("call_sid=one\\ntwo")
    assert not any(line.startswith("two") for line in server.stderr().splitlines())


@pytest.mark.slow
def test_what_start_up_built_is_kept_out_of_the_collectors_sweeps() -> None:
    import gc

    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(app):
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the models, validators and routes, out of every full collection
        started = time.perf_counter()
        gc.collect()
        assert time.perf_counter() - started < 0.05


def test_the_verbs_an_app_names_are_built_when_it_starts_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jambonz_webhooks import verbs
    from jambonz_webhooks.response import _VALIDATORS
    from jambonz_webhooks.verbs._wire import VerbValidator

    # Fresh validators, whatever other tests built before this one.
    dequeue, decline = VerbValidator(verbs.Dequeue), VerbValidator(verbs.SipDecline)
    monkeypatch.setitem(_VALIDATORS, "dequeue", dequeue)
    monkeypatch.setitem(_VALIDATORS, "sip:decline", decline)
    app = JambonzApp(webhook_secret=[], insecure=True, prepare_verbs=("dequeue", "sip_decline"))
    assert dequeue.wire == dequeue._build_and_validate and decline.wire == decline._build_and_validate
    with TestClient(app):
        assert dequeue.wire != dequeue._build_and_validate
        assert decline.wire != decline._build_and_validate
    with pytest.raises(ValueError, match="unknown verb 'sya'"):
        JambonzApp(webhook_secret=[], insecure=True, prepare_verbs=("say", "sya"))


def test_a_handler_failing_on_caller_data_logs_the_field_not_the_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        fields: dict[str, Any] = {"length": call.caller_name}  # the mistake tested: text for a number
        return WebhookResponse().pause(**fields)

    session = {**payloads.session_new(), "caller_name": "Alice Example"}
    with caplog.at_level(logging.DEBUG):
        response = TestClient(app).post("/incoming", content=body(session), headers=JSON)
    assert response.json() == FALLBACK
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    text = logging.Formatter().format(failure)  # the message and its traceback, as a handler writes them
    assert "length" in text and "Traceback" in text
    assert "Alice Example" not in text


def test_payload_validation_errors_never_hold_the_payloads_values() -> None:
    with pytest.raises(ValidationError) as caught:
        CallSession.model_validate({**payloads.session_new(), "sip_status": "Alice Example"})
    assert "sip_status" in str(caught.value) and "Alice Example" not in str(caught.value)
