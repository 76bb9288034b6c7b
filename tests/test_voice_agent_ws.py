"""Voice agents over jambonz's WebSocket API, end to end: uvicorn on a real port, the call simulator
playing jambonz over a real socket.

The example voice agent answers its model's tool calls on the call's socket (``llm:tool-call`` in,
``llm:tool-output`` out); an app controlling its calls live sends commands from its handlers and
from a task it started, and streams text through a ``full`` pause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jambonz_webhooks.testing import CallSimulator
from tests.conftest import INSECURE, LiveServer, _spawn, _stop, _wait_ready

USERNAME, PASSWORD = "jambonz", "agent-password-for-tests"
AGENT_ENV = {
    "JAMBONZ_WEBHOOK_USERNAME": USERNAME,
    "JAMBONZ_WEBHOOK_PASSWORD": PASSWORD,
    "JAMBONZ_WEBHOOK_SECRET": "wh_secret_voice_agent_ws",
}


def _serve(app: str, tmp_path: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    server = _spawn(app, tmp_path, app.split(":")[0].rsplit(".", 1)[-1], env)
    try:
        assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        yield server
    finally:
        _stop(server.process)


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[LiveServer]:
    yield from _serve("examples.voice_agent:app", tmp_path, AGENT_ENV)


@pytest.fixture
def control_server(tmp_path: Path) -> Iterator[LiveServer]:
    yield from _serve("tests.apps.live_control:app", tmp_path, INSECURE)


@pytest.mark.slow
def test_the_voice_agents_tools_answer_on_the_socket(agent_server: LiveServer) -> None:
    url = f"ws://127.0.0.1:{agent_server.port}"
    with CallSimulator(url, basic_auth=(USERNAME, PASSWORD)) as jambonz:
        call = jambonz.start()
        assert call.waiting_verb is not None and call.waiting_verb["verb"] == "llm"
        hook = call.waiting_verb["toolHook"]
        assert hook == "/tools/openai"

        found = call.tool_call("lookup_order", {"order_id": "1001"}, hook=hook)
        assert found.name == "llm:tool-output" and found.tool_call_id is not None
        assert found.data["type"] == "conversation.item.create"
        assert found.data["item"]["call_id"] == found.tool_call_id
        assert json.loads(found.data["item"]["output"])["status"] == "shipped"

        unknown = call.tool_call("lookup_order", {"order_id": "9999"}, hook=hook)
        assert "no order with that number" in json.loads(unknown.data["item"]["output"])["error"]
        invalid = call.tool_call("lookup_order", {"order_id": "not digits"}, hook=hook)
        assert "error" in json.loads(invalid.data["item"]["output"])

        handed = call.tool_call("hand_off", {"department": "sales", "summary": "wants a quote"}, hook=hook)
        assert json.loads(handed.data["item"]["output"])["queued"] is True

        call.llm_ended()
    assert call.heard == ["Thank you for calling Acme. Goodbye."]
    assert call.hung_up_by == "app"
    assert [request.kind for request in call.requests].count("tool") == 4


@pytest.mark.slow
def test_commands_and_streamed_text_through_a_full_pause(control_server: LiveServer) -> None:
    with CallSimulator(f"ws://127.0.0.1:{control_server.port}") as jambonz:
        call = jambonz.start()
        assert call.heard == ["Please hold"]
        # The call hook muted the caller before answering.
        assert [(command.name, command.data) for command in call.commands] == [
            ("mute:status", {"mute_status": "mute"})
        ]
        # jambonz's TTS buffer is full for the first text the app streams.
        call.refuse_tokens(1).press("1")
        whisper = call.wait_for_command("whisper")
        assert whisper.data == {"whisper": [{"verb": "say", "text": "An agent is ready"}]}
        first = call.wait_for_command("tts:tokens")
        assert first.data["tokens"] == "Thank you "
        time.sleep(0.3)  # the app waits for room: nothing more is streamed meanwhile
        call.poll()
        assert call.tokens_paused and call.tokens_text == ""
        assert [command.name for command in call.commands].count("tts:tokens") == 1
        call.resume_tokens()
        call.wait_for_command("tts:flush")
        assert call.tokens_text == "Thank you for waiting."
        names = [command.name for command in call.commands]
        assert names[:3] == ["mute:status", "mute:status", "whisper"]
        assert names[3:] == ["tts:tokens", "tts:tokens", "tts:tokens", "tts:flush"]
        assert call.commands[1].data == {"mute_status": "unmute"}
