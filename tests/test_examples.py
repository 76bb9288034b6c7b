"""The apps in examples/, played as calls with the call simulator; the docs/ guide's snippets and links.

The example apps are driven in process: ``examples.fastapi_mount`` (a FastAPI API with the voice app
under ``/voice``), ``examples.speech_bot`` (a conversation kept in the call's state) and
``examples.voice_agent`` (an ``llm`` verb whose tools the app answers over HTTP).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic_core
import pytest
from starlette.testclient import TestClient

from examples import fastapi_mount, speech_bot, voice_agent
from jambonz_webhooks import MemoryStore, pytest_plugin
from jambonz_webhooks.pytest_plugin import SimulatorFactory
from jambonz_webhooks.testing import CallSimulator, signed_headers
from tests import schemas
from tests.conftest import DEPLOYED_SECRET, deploy_with_a_secret

# The plugin's fixture, made visible to this module's tests (the plugin is not registered for the suite).
jambonz_simulator = pytest_plugin.jambonz_simulator

DOCS = Path(__file__).resolve().parent.parent / "docs"
MENU = "Press 1 for sales or 2 for support."
SALES, SUPPORT = "+15551230001", "+15551230002"

# --------------------------------------------------------------------------- the FastAPI mount


@pytest.fixture
def contact_centre(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh module-level data for each test: the API changes TEAMS, the status hook fills RECENT_CALLS."""
    monkeypatch.setattr(fastapi_mount, "TEAMS", {"sales": SALES, "support": SUPPORT})
    monkeypatch.setattr(fastapi_mount, "RECENT_CALLS", deque(maxlen=100))
    monkeypatch.setattr(fastapi_mount.voice.hook_settings, "state", MemoryStore())
    deploy_with_a_secret(monkeypatch, fastapi_mount.voice)


def voice_simulator(jambonz_simulator: SimulatorFactory) -> CallSimulator:
    """A simulator of calls to the FastAPI app, whose hooks are under /voice.

    The target is the FastAPI app, not the JambonzApp, so the simulator cannot find the voice app's
    secret and credentials itself (they come from the environment when it is imported): pass them.
    """
    security = fastapi_mount.voice.hook_settings.security
    credentials = security.basic_auth
    return jambonz_simulator(
        fastapi_mount.app,
        call_hook="/voice/incoming",
        status_hook="/voice/status",
        secret=security.secrets[0] if security.secrets else False,
        basic_auth=(credentials.username, credentials.password) if credentials else False,
    )


@pytest.mark.usefixtures("contact_centre")
def test_fastapi_routes_of_its_own_answer_json() -> None:
    with TestClient(fastapi_mount.app) as client:
        assert client.get("/api/health").json() == {"status": "ok"}
        assert client.get("/api/teams").json() == {"sales": SALES, "support": SUPPORT}
        changed = client.put("/api/teams/sales", json={"number": "+15557770000"})
        assert changed.status_code == 200
        assert changed.json() == {"team": "sales", "number": "+15557770000"}
        assert client.get("/api/teams").json()["sales"] == "+15557770000"
        assert client.put("/api/teams/billing", json={"number": "+1"}).status_code == 404
        assert client.put("/api/teams/sales", json={}).status_code == 422  # FastAPI's own validation
        assert client.get("/api/calls").json() == []
        # The voice app answers under /voice only; the API's paths are not hooks.
        assert client.post("/incoming", json={}).status_code == 404


@pytest.mark.usefixtures("contact_centre")
def test_a_call_through_voice_follows_hooks_written_with_the_prefix(
    jambonz_simulator: SimulatorFactory,
) -> None:
    sim = voice_simulator(jambonz_simulator)
    call = sim.start()
    assert call.heard == ["Thank you for calling.", MENU]
    assert call.waiting_verb is not None
    # jambonz resolves a hook path against the host only: the prefix must be in it.
    assert call.waiting_verb["actionHook"] == "/voice/menu"

    call.press("1")
    assert call.requests[-1].url == "http://testserver/voice/menu"
    assert call.heard[-1] == "Connecting you to sales."
    assert call.dialed == [{"type": "phone", "number": SALES}]
    assert call.waiting_verb is not None and call.waiting_verb["actionHook"] == "/voice/dial-done"

    call.dial_answered()
    assert call.requests[-2].url == "http://testserver/voice/dial-done"
    assert call.ended and call.hung_up_by == "app"
    assert call.heard[-1] == "Connecting you to sales."  # a completed dial gets no apology

    # The status hook, under /voice too, fed the API's record of calls.
    recent = TestClient(fastapi_mount.app).get("/api/calls").json()
    assert recent == [
        {"call_sid": call.sid, "status": "in-progress"},
        {"call_sid": call.sid, "status": "completed"},
    ]


@pytest.mark.usefixtures("contact_centre")
def test_a_wrong_key_offers_the_menu_again_and_a_busy_team_is_apologized_for(
    jambonz_simulator: SimulatorFactory,
) -> None:
    call = voice_simulator(jambonz_simulator).start()
    call.press("7")
    assert call.heard[-2:] == ["Sorry, that is not an option.", MENU]
    assert call.waiting_for == "gather"
    assert call.last_answer[1]["actionHook"] == "/voice/menu"
    call.press("2").dial_busy()
    assert call.dialed == [{"type": "phone", "number": SUPPORT}]
    assert call.heard[-1] == "Nobody is available right now. Please try again later."
    assert call.hung_up_by == "app"


@pytest.mark.usefixtures("contact_centre")
def test_a_number_changed_through_the_api_is_dialed_by_the_next_call(
    jambonz_simulator: SimulatorFactory,
) -> None:
    sim = voice_simulator(jambonz_simulator)
    assert sim.client.put("/api/teams/support", json={"number": "+15557770002"}).status_code == 200
    call = sim.start().press("2")
    assert call.dialed == [{"type": "phone", "number": "+15557770002"}]


@pytest.mark.usefixtures("contact_centre")
def test_silence_lets_the_goodbye_after_the_gather_run(jambonz_simulator: SimulatorFactory) -> None:
    call = voice_simulator(jambonz_simulator).start().silence()
    assert call.requests[-2].payload["reason"] == "timeout"
    assert call.last_answer == []  # /voice/menu answered no verbs...
    assert call.heard[-1] == "We did not hear from you. Goodbye."  # ...so the call hook's next ones ran
    assert call.ended and call.hung_up_by == "app"


# --------------------------------------------------------------------------- the speech bot


@pytest.fixture
def bot_store(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """The bot's state in a store of this test's own, to look into it between turns."""
    store = MemoryStore()
    monkeypatch.setattr(speech_bot.app.hook_settings, "state", store)
    deploy_with_a_secret(monkeypatch, speech_bot.app)
    return store


@pytest.fixture
def bot(jambonz_simulator: SimulatorFactory, bot_store: MemoryStore) -> CallSimulator:
    return jambonz_simulator(speech_bot.app, call_hook="/bot", status_hook="/status")


def stored(store: MemoryStore, call_sid: str, key: str) -> Any:
    """A value of the call's state, as the handlers stored it (JSON)."""
    raw = asyncio.run(store.get(call_sid, key))
    return None if raw is None else pydantic_core.from_json(raw)


ENV = {"BOT_NAME": "Kim", "COMPANY_NAME": "Globex", "LANGUAGE": "en-GB"}


def test_the_bot_greets_with_its_env_vars_and_listens_for_speech(bot: CallSimulator) -> None:
    call = bot.start(env_vars=ENV)
    assert call.heard == [
        "Hi, I am Kim, the assistant of Globex. Ask me about our opening hours or our prices."
    ]
    gather = call.waiting_verb
    assert gather is not None
    assert gather["input"] == ["speech"]
    assert gather["actionHook"] == "/turn"
    assert gather["recognizer"] == {"vendor": "default", "language": "en-GB"}


def test_a_conversation_keeps_its_turns_in_the_call_state(bot: CallSimulator, bot_store: MemoryStore) -> None:
    call = bot.start(env_vars=ENV)

    call.speak("Hello, my name is Alice")
    assert call.heard[-1] == "Nice to meet you, Alice. Anything else?"
    assert stored(bot_store, call.sid, "caller_name") == "Alice"

    # /turn's payload has no env_vars: COMPANY_NAME comes from the state the call hook filled.
    call.speak("When are you open?")
    hours = "Globex is open from nine to five, Monday to Friday."
    assert call.heard[-1] == f"{hours} Anything else?"

    # Only the state knows what the bot said last.
    call.speak("Could you say that again")
    assert call.heard[-1] == f"{hours} Anything else?"
    assert call.requests[-1].payload["speech"]["language_code"] == "en-GB"
    assert stored(bot_store, call.sid, "turns") == [
        {"caller": "Hello, my name is Alice", "bot": "Nice to meet you, Alice."},
        {"caller": "When are you open?", "bot": hours},
        {"caller": "Could you say that again", "bot": hours},
    ]

    call.speak("what does it cost")
    assert call.heard[-1] == "Plans start at ten dollars a month. Anything else?"

    # The caller's name, remembered four hooks ago, is in the goodbye.
    call.speak("OK, goodbye")
    assert call.heard[-1] == "Goodbye, Alice. Thanks for calling."
    assert call.ended and call.hung_up_by == "app"
    # The final status hook dropped the call's state.
    assert asyncio.run(bot_store.get_all(call.sid)) == {}


def test_calls_do_not_share_state(bot: CallSimulator) -> None:
    first = bot.start(env_vars=ENV).speak("my name is Alice")
    second = bot.start(env_vars=ENV).speak("repeat that")
    assert second.heard[-1] == "I have not said anything yet. Anything else?"
    second.speak("bye")
    assert second.heard[-1] == "Goodbye. Thanks for calling."  # not Alice's name
    first.speak("goodbye")
    assert first.heard[-1] == "Goodbye, Alice. Thanks for calling."


def test_the_conversation_ends_after_max_turns(bot: CallSimulator) -> None:
    # jambonz sends env var values as the portal holds them: "2" becomes MAX_TURNS=2.
    call = bot.start(env_vars={"MAX_TURNS": "2"})
    call.speak("what are your prices")
    assert not call.ended
    call.speak("and your hours")
    assert call.heard[-2:] == [
        "Acme is open from nine to five, Monday to Friday.",
        "That is all I can help with today. Goodbye.",
    ]
    assert call.ended and call.hung_up_by == "app"


def test_two_silences_in_a_row_end_the_call(bot: CallSimulator) -> None:
    call = bot.start()
    call.silence()
    assert call.heard[-1] == "Sorry, I did not catch that. Could you say it again?"
    call.speak("prices?")  # speech resets the count
    call.silence()
    assert not call.ended
    call.silence()
    assert call.heard[-1] == "I cannot hear you. Goodbye."
    assert call.ended


def test_the_status_hook_logs_the_conversation_when_the_call_ends(
    bot: CallSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="examples.speech_bot")
    call = bot.start().speak("hours").speak("prices")
    assert not [record for record in caplog.records if record.name == "examples.speech_bot"]
    call.hangup()
    (record,) = [record for record in caplog.records if record.name == "examples.speech_bot"]
    assert record.getMessage() == f"call {call.sid} ended (completed) after 2 turns"


def test_the_portal_discovers_the_bot_settings(bot: CallSimulator) -> None:
    declarations = bot.client.options("/bot").json()
    assert set(declarations) == {"BOT_NAME", "COMPANY_NAME", "OPENING_HOURS", "MAX_TURNS", "LANGUAGE"}
    assert declarations["MAX_TURNS"] == {
        "description": "Questions answered before the bot says goodbye",
        "type": "number",
        "default": 5,
    }


def test_a_setting_that_does_not_fit_gets_the_fallback(bot: CallSimulator) -> None:
    call = bot.start(env_vars={"MAX_TURNS": "many"})
    assert call.heard == ["We are sorry, something went wrong. Please call again later."]
    assert call.hung_up_by == "app"


# --------------------------------------------------------------------------- the voice agent


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of the voice agent, signing as jambonz does; an empty queue of handoffs."""
    monkeypatch.setattr(voice_agent, "HANDOFFS", deque(maxlen=100))
    deploy_with_a_secret(monkeypatch, voice_agent.app)
    with TestClient(voice_agent.app) as client:
        yield client


def post_signed(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    body = json.dumps(data).encode()
    answer = client.post(path, content=body, headers=signed_headers(body, DEPLOYED_SECRET))
    assert answer.status_code == 200, answer.text
    return answer.json()


def tool_output(client: TestClient, hook: str, name: str, args: dict[str, Any]) -> Any:
    """Call a tool as jambonz does over HTTP, and read the output the model gets."""
    answer = post_signed(client, hook, {"tool_call_id": f"call_{name}", "name": name, "args": args})
    assert answer["type"] == "conversation.item.create"
    item = answer["item"]
    assert (item["type"], item["call_id"]) == ("function_call_output", f"call_{name}")
    return json.loads(item["output"])


def test_the_agent_connects_the_caller_to_the_model_with_its_tools(
    agent: TestClient, jambonz_simulator: SimulatorFactory
) -> None:
    call = jambonz_simulator(voice_agent.app, call_hook="/incoming", status_hook=None).start()
    (llm,) = call.verbs
    assert (llm["verb"], llm["vendor"]) == ("llm", "openai")
    assert (llm["toolHook"], llm["actionHook"]) == ("/tools/openai", "/agent-done")
    declared = llm["llmOptions"]["session_update"]["tools"]
    assert [tool["name"] for tool in declared] == ["lookup_order", "hand_off"]
    hand_off = declared[1]["parameters"]
    assert hand_off["properties"]["department"] == {
        "description": "Who the caller needs",
        "enum": ["sales", "support"],
        "type": "string",
    }
    assert hand_off["required"] == ["department", "summary"]  # its ToolCall parameter is not the model's
    assert llm["llmOptions"]["session_update"]["instructions"] == voice_agent.PROMPT
    assert schemas.errors("verbs/llm", llm) == []


def test_the_agent_tools_answer_the_model_over_http(agent: TestClient) -> None:
    hook = "/tools/openai"
    assert tool_output(agent, hook, "lookup_order", {"order_id": "1001"}) == {
        "order_id": "1001",
        "status": "shipped",
        "carrier": "UPS",
        "eta": "tomorrow",
        "items": 2,
    }
    assert tool_output(agent, hook, "lookup_order", {"order_id": "4242"}) == {
        "error": "There is no order with that number: ask the caller to check it."
    }
    assert tool_output(agent, hook, "lookup_order", {"order_id": "ten"})["error"].startswith(
        "invalid arguments: order_id: String should match pattern"
    )
    queued = tool_output(agent, hook, "hand_off", {"department": "sales", "summary": "Wants a quote"})
    assert queued == {
        "queued": True,
        "position": 1,
        "say": "A colleague from sales will be with you shortly.",
    }
    # Over HTTP jambonz sends no call with a tool call: the handoff has no call_sid.
    assert list(voice_agent.HANDOFFS) == [
        {"department": "sales", "summary": "Wants a quote", "call_sid": None}
    ]
    # The other vendors' paths answer in their shapes (the verb writes only its own).
    ultravox = post_signed(agent, "/tools/ultravox", {"tool_call_id": "u1", "name": "hand_off", "args": {}})
    assert (ultravox["type"], ultravox["invocation_id"]) == ("client_tool_result", "u1")
    assert json.loads(ultravox["result"])["error"].startswith("invalid arguments: department: Field required")
    # Unsigned, it is refused as every hook is.
    assert agent.post(hook, json={"tool_call_id": "x", "name": "lookup_order"}).status_code == 401


def test_the_agent_says_goodbye_when_the_conversation_ends(agent: TestClient) -> None:
    call: dict[str, Any] = {"call_sid": "CA-1", "account_sid": "AC", "application_sid": "AP"}
    call |= {"direction": "inbound", "from": "+15551230000", "to": "+15559870000", "call_id": "c"}
    call |= {"sip_status": 200, "call_status": "in-progress"}
    verbs = post_signed(agent, "/agent-done", {**call, "completion_reason": "normal conversation end"})
    assert verbs == [{"verb": "say", "text": "Thank you for calling Acme. Goodbye."}, {"verb": "hangup"}]


# --------------------------------------------------------------------------- the docs


def doc_pages() -> list[Path]:
    pages = sorted(DOCS.glob("*.md"))
    assert pages, f"no pages in {DOCS}"
    return pages


PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# [text](target): inline links; images and code spans hold none in these pages.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def python_snippets() -> list[tuple[str, str]]:
    return [
        (f"{page.name}#{number}", code)
        for page in doc_pages()
        for number, code in enumerate(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")), start=1)
    ]


def test_the_docs_have_python_snippets() -> None:
    # The compile test below must have something to check: every page but the index shows code.
    with_code = {name.partition("#")[0] for name, _ in python_snippets()}
    assert with_code >= {page.name for page in doc_pages()} - {"index.md", "cli.md"}


@pytest.mark.parametrize("code", [pytest.param(code, id=name) for name, code in python_snippets()])
def test_every_python_snippet_compiles(code: str, request: pytest.FixtureRequest) -> None:
    # No top-level await and no fragments: each snippet is a module that could be saved and run.
    compile(code, request.node.callspec.id, "exec")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = PYTHON_BLOCK.sub("", page.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def test_every_relative_link_points_to_an_existing_file_and_heading() -> None:
    checked = 0
    for page in doc_pages():
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # http(s) and mailto links are not checked here
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{page.name}: the link {target!r} points to nothing"
            if anchor:
                assert resolved.suffix == ".md", f"{page.name}: an anchor into a non-page: {target!r}"
                assert anchor in anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"
            checked += 1
    assert checked > 20  # the pages link to each other; a broken LINK pattern would find none


def test_the_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(index)}
    assert {page.name for page in doc_pages()} - {"index.md"} <= linked


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    """docs/quickstart.md's app and its "try it" script, saved and run as a newcomer would."""
    app_code, try_code = PYTHON_BLOCK.findall((DOCS / "quickstart.md").read_text(encoding="utf-8"))[:2]
    (tmp_path / "app.py").write_text(app_code, encoding="utf-8")
    (tmp_path / "sim.py").write_text(try_code, encoding="utf-8")
    # A newcomer's environment: no secret, no credentials, not opened.
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAMBONZ_")}
    result = subprocess.run(
        [sys.executable, "sim.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The printed lines are those the script's comments show.
    shown = re.findall(r"^    # (\[.*\])$|print\(call\.dialed\)  # (\[.*\])$", try_code, re.MULTILINE)
    expected = [heard or dialed for heard, dialed in shown]
    assert len(expected) == 2
    lines = result.stdout.splitlines()
    assert lines[-2:] == expected
    assert lines[0].endswith(" in-progress")  # the status hook's print
