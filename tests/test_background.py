"""Hooks that continue in the background: filler at the soft deadline, verbs on the resume hook."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from jambonz_webhooks import Background, CallStatus, Continuation, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.continuation import RESUME_PATH
from tests import payloads
from tests.conftest import REPO_ROOT, LiveServer, _free_port, _inherited_env, _port_answers, _stop

JSON = {"content-type": "application/json"}
FILLER = {"verb": "say", "text": "One moment, please."}
FALLBACK = [
    {"verb": "say", "text": "We are sorry, something went wrong. Please call again later."},
    {"verb": "hangup"},
]
RESUME_PREFIX = RESUME_PATH.split("{", 1)[0]


def gather(sid: str, **extra: Any) -> bytes:
    return json.dumps(payloads.call_info(call_sid=sid, reason="dtmfDetected", digits="1", **extra)).encode()


def resume_hook(verbs: list[dict[str, Any]]) -> str:
    """The redirect's actionHook at the end of a filler answer."""
    last = verbs[-1]
    assert last["verb"] == "redirect", verbs
    hook: str = last["actionHook"]
    return hook


def new_app(**settings: Any) -> JambonzApp:
    app = JambonzApp(webhook_secret=[], insecure=True, background=Background(after=0.3, limit=5), **settings)

    @app.action_hook("/ask", background=True)
    async def ask(result: GatherResult) -> WebhookResponse:
        await asyncio.sleep(float(result.get("delay", 1.0)))
        return WebhookResponse().say(text=f"the answer for {result.digits}").hangup()

    @app.action_hook("/maybe")
    async def maybe(result: GatherResult, later: Continuation) -> WebhookResponse:
        if result.digits == "1":
            later.allow(filler=WebhookResponse().say(text="Let me check."))
        await asyncio.sleep(0.8)
        return WebhookResponse().say(text="done").hangup()

    @app.action_hook("/fail", background=True)
    async def fail(result: GatherResult) -> WebhookResponse:
        await asyncio.sleep(0.5)
        raise RuntimeError("the model is down")

    @app.action_hook("/fast", background=True)
    async def fast(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().hangup()

    return app


@pytest.mark.slow
def test_filler_at_the_soft_deadline_then_the_verbs_on_the_resume_hook() -> None:
    sid = str(uuid.uuid4())
    with TestClient(new_app()) as client:
        started = time.monotonic()
        first = client.post("/ask", content=gather(sid), headers=JSON)
        assert 0.25 < time.monotonic() - started < 0.8
        verbs = first.json()
        assert verbs[0] == FILLER and len(verbs) == 2
        hook = resume_hook(verbs)
        assert hook.startswith(RESUME_PREFIX)
        # Not ready yet (the handler takes 1 s): hold verbs and the same redirect again.
        again = client.post(hook, content=gather(sid), headers=JSON).json()
        assert again == [FILLER, {"verb": "redirect", "actionHook": hook}]
        # jambonz follows each redirect: the verbs come on a resume as soon as they are ready.
        for _ in range(10):
            final = client.post(hook, content=gather(sid), headers=JSON).json()
            if final[-1]["verb"] != "redirect":
                break
        assert final == [{"verb": "say", "text": "the answer for 1"}, {"verb": "hangup"}]
        assert 1.0 < time.monotonic() - started < 1.3  # the handler's 1 s, and little more
        # Handed out once.
        assert client.post(hook, content=gather(sid), headers=JSON).status_code == 404


def test_a_background_hook_that_answers_in_time_answers_directly() -> None:
    with TestClient(new_app()) as client:
        answer = client.post("/fast", content=gather(str(uuid.uuid4())), headers=JSON)
    assert answer.json() == [{"verb": "hangup"}]


@pytest.mark.slow
def test_the_handler_decides_whether_to_continue() -> None:
    with TestClient(new_app()) as client:
        sid = str(uuid.uuid4())
        allowed = client.post("/maybe", content=gather(sid), headers=JSON).json()
        assert allowed[0] == {"verb": "say", "text": "Let me check."}
        hook = resume_hook(allowed)
        time.sleep(0.6)
        assert client.post(hook, content=gather(sid), headers=JSON).json()[0] == {
            "verb": "say",
            "text": "done",
        }
        # Not allowed (the caller pressed 2): the request waits for the handler, within its deadline.
        other = json.dumps(payloads.call_info(reason="dtmfDetected", digits="2")).encode()
        started = time.monotonic()
        direct = client.post("/maybe", content=other, headers=JSON)
        assert direct.json() == [{"verb": "say", "text": "done"}, {"verb": "hangup"}]
        assert time.monotonic() - started > 0.7


@pytest.mark.slow
def test_not_allowed_and_past_the_deadline_is_the_fallback() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True, deadline=0.5)

    @app.action_hook("/maybe")
    async def maybe(result: GatherResult, later: Continuation) -> WebhookResponse:
        await asyncio.sleep(3)
        return WebhookResponse().hangup()

    with TestClient(app) as client:
        started = time.monotonic()
        answer = client.post("/maybe", content=gather(str(uuid.uuid4())), headers=JSON)
    assert answer.json() == FALLBACK
    assert time.monotonic() - started < 1.0


@pytest.mark.slow
def test_work_failing_in_the_background_gets_the_fallback_on_resume(caplog: pytest.LogCaptureFixture) -> None:
    sid = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR), TestClient(new_app()) as client:
        hook = resume_hook(client.post("/fail", content=gather(sid), headers=JSON).json())
        time.sleep(0.4)
        assert client.post(hook, content=gather(sid), headers=JSON).json() == FALLBACK
    assert any(sid in record.getMessage() for record in caplog.records)


@pytest.mark.slow
def test_another_calls_resume_is_refused() -> None:
    sid = str(uuid.uuid4())
    with TestClient(new_app()) as client:
        hook = resume_hook(client.post("/ask", content=gather(sid), headers=JSON).json())
        stranger = client.post(hook, content=gather(str(uuid.uuid4())), headers=JSON)
        assert stranger.status_code == 404
        unknown = client.post(RESUME_PREFIX + "x" * 43, content=gather(sid), headers=JSON)
        assert unknown.status_code == 404
        # The call's own resume still gets its verbs.
        time.sleep(0.8)
        assert client.post(hook, content=gather(sid), headers=JSON).json()[-1] == {"verb": "hangup"}


@pytest.mark.slow
def test_the_resume_hook_is_written_with_the_mount_prefix() -> None:
    sid = str(uuid.uuid4())
    with TestClient(Starlette(routes=[Mount("/voice", app=new_app())])) as client:
        hook = resume_hook(client.post("/voice/ask", content=gather(sid, delay=0.5), headers=JSON).json())
        assert hook.startswith("/voice" + RESUME_PREFIX)
        time.sleep(0.4)
        answer = client.post(hook, content=gather(sid, delay=0.5), headers=JSON)
        assert answer.json() == [{"verb": "say", "text": "the answer for 1"}, {"verb": "hangup"}]


def test_an_app_without_background_hooks_serves_no_resume_hook() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().hangup()

    assert [route.path for route in app.hooks] == ["/menu"]
    response = TestClient(app).post(RESUME_PREFIX + "x" * 43, content=gather("abc"), headers=JSON)
    assert response.status_code == 404


@pytest.mark.slow
def test_a_final_call_status_cancels_the_work_still_continuing() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True, background=Background(after=0.2, limit=30))
    events: list[str] = []

    @app.action_hook("/think", background=True)
    async def think(result: GatherResult) -> WebhookResponse:
        try:
            await asyncio.sleep(20)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return WebhookResponse().hangup()

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        events.append("status")

    sid = str(uuid.uuid4())
    with TestClient(app) as client:
        answer = client.post("/think", content=gather(sid), headers=JSON)
        assert answer.status_code == 200 and answer.json()[-1]["verb"] == "redirect"
        ended = json.dumps(payloads.call_info(call_sid=sid, call_status="completed")).encode()
        assert client.post("/status", content=ended, headers=JSON).status_code == 204
        deadline = time.monotonic() + 2
        while "cancelled" not in events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert events == ["status", "cancelled"]
        resumed = client.post(resume_hook(answer.json()), content=gather(sid), headers=JSON)
        assert resumed.status_code == 404  # nothing left to resume: the call is over


def test_background_settings_are_checked() -> None:
    for bad in ({"after": 0}, {"limit": float("nan")}, {"after": 5, "limit": 5}):
        with pytest.raises(ValueError, match="Background"):
            Background(**bad)


# --------------------------------------------------------------------------- two processes, one Redis


@contextmanager
def agent_server(tmp_path: Path, tag: str, redis_url: str) -> Iterator[LiveServer]:
    """tests/apps/agent.py under its own uvicorn process, sharing ``redis_url``."""
    port = _free_port()
    stderr_path = tmp_path / f"{tag}.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.apps.agent:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO_ROOT,
            env={**_inherited_env(), "JAMBONZ_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    server = LiveServer("tests.apps.agent:app", process, port, stderr_path)
    try:
        deadline = time.monotonic() + 20
        while "Application startup complete" not in server.stderr() or not _port_answers(port):
            assert process.poll() is None and time.monotonic() < deadline, server.stderr()
            time.sleep(0.05)
        yield server
    finally:
        _stop(process)


@pytest.mark.slow
def test_the_verbs_reach_a_resume_on_another_process_through_redis(tmp_path: Path, redis_url: str) -> None:
    with ExitStack() as stack:
        first = stack.enter_context(agent_server(tmp_path, "a", redis_url))
        second = stack.enter_context(agent_server(tmp_path, "b", redis_url))
        a = stack.enter_context(httpx2.Client(base_url=first.origin, timeout=10, trust_env=False))
        b = stack.enter_context(httpx2.Client(base_url=second.origin, timeout=10, trust_env=False))
        sid = str(uuid.uuid4())
        hook = resume_hook(a.post("/ask", content=gather(sid, delay=1.0), headers=JSON).json())
        # jambonz follows the redirect; a load balancer sends it to the other process.
        answers = []
        for _ in range(20):
            verbs = b.post(hook, content=gather(sid), headers=JSON).json()
            answers.append(verbs)
            if verbs[-1]["verb"] != "redirect":
                break
        said = answers[-1][0]["text"]
        assert said == f"answer from pid={first.process.pid}", answers
        assert first.process.pid != second.process.pid and str(second.process.pid) not in said
        assert len(answers) >= 2  # at least one hold while the work ran on the first process
        # Handed out once, whichever process is asked.
        assert a.post(hook, content=gather(sid), headers=JSON).status_code == 404
        assert b.post(hook, content=gather(sid), headers=JSON).status_code == 404
        assert os.getpid() not in (first.process.pid, second.process.pid)
