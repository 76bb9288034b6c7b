"""LLM tools: schemas from signatures, each vendor's shapes, the tool hook over HTTP and its WebSocket entry.

The vendors' shapes are jambonz-feature-server 0.9.8's (lib/tasks/llm/llms/*.js): what each
adapter reads from a verb's llmOptions, and what its processToolOutput forwards.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import httpx2
import pytest
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from jambonz_webhooks import (
    HookRouter,
    JambonzApp,
    Toolbox,
    ToolCall,
    ToolError,
    UnroutedHandlerError,
    WebhookResponse,
)
from jambonz_webhooks.hooks import HookContext
from jambonz_webhooks.logs import ACCESS_LOGGER
from jambonz_webhooks.response import _VALIDATORS
from jambonz_webhooks.testing import signed_headers
from jambonz_webhooks.tools import DEFAULT_TIMEOUT, VENDORS, Tool
from jambonz_webhooks.verbs import (
    DeepgramS2s,
    ElevenlabsS2s,
    GoogleS2s,
    Llm,
    OpenaiS2s,
    S2s,
    UltravoxS2s,
    Verb,
)
from tests import schemas
from tests.apps import tools as served
from tests.conftest import LiveServer, _spawn, _stop, _wait_ready

# --------------------------------------------------------------------------- schemas


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Address(BaseModel):
    """Where to deliver."""

    street: str = Field(description="Street and number")
    zip_code: str | None = None


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of a JSON value, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_a_tool_schema_comes_from_its_signature() -> None:
    box = Toolbox()

    @box.tool
    async def order_pizza(
        size: Size,
        crust: Literal["thin", "thick"] = "thin",
        count: Annotated[int, Field(description="How many", ge=1, le=5)] = 1,
        note: str | None = None,
        deliver_to: Address | None = None,
        call: ToolCall | None = None,
    ) -> str:
        """Order a pizza.

        Say the order back to the caller first.
        """
        return "ok"

    tool = box.tools["order_pizza"]
    assert tool.description == "Order a pizza.\n\nSay the order back to the caller first."
    assert tool.parameters == {
        "type": "object",
        "additionalProperties": False,  # an argument the model made up is an error it can correct
        "required": ["size"],
        "properties": {
            "size": {"enum": ["small", "large"], "type": "string"},
            "crust": {"default": "thin", "enum": ["thin", "thick"], "type": "string"},
            "count": {"default": 1, "description": "How many", "maximum": 5, "minimum": 1, "type": "integer"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "deliver_to": {
                "anyOf": [
                    {
                        "description": "Where to deliver.",
                        "type": "object",
                        "properties": {
                            "street": {"description": "Street and number", "type": "string"},
                            "zip_code": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                        },
                        "required": ["street"],
                    },
                    {"type": "null"},
                ],
                "default": None,
            },
        },
    }
    # Inlined, for every vendor: no $ref, no $defs, and no pydantic titles (tokens for nothing).
    assert not {"$ref", "$defs", "title"} & {key for key, _ in _walk(tool.parameters)}
    assert tool.context == "call"  # the ToolCall parameter is the framework's, not the model's


def test_names_descriptions_and_odd_parameter_names() -> None:
    box = Toolbox()

    @box.tool(name="find", description="Find something")
    def lookup(json: str, model_config: int = 2, copy: bool = False) -> str:
        """Not this."""
        return json

    tool = box.tools["find"]
    assert (tool.name, tool.description) == ("find", "Find something")
    # Parameter names pydantic keeps for itself are fine: the arguments' model uses its own.
    assert list(tool.parameters["properties"]) == ["json", "model_config", "copy"]
    assert tool.parameters["required"] == ["json"]
    assert lookup("x") == "x"  # the decorator returns the function unchanged
    assert box.add(lambda: 1, name="plain").name == "plain"
    assert box.tools["plain"].parameters == {
        "additionalProperties": False,
        "properties": {},
        "type": "object",
    }


class Node(BaseModel):
    children: list[Node] = []


class Opaque:
    pass


def _star(*values: int) -> None: ...
def _keywords(**values: int) -> None: ...
def _positional(value: int, /) -> None: ...
def _bare(value) -> None: ...  # type: ignore[no-untyped-def]
def _opaque(value: Opaque) -> None: ...
def _recursive(tree: Node) -> None: ...


@pytest.mark.parametrize(
    ("function", "says"),
    [
        (_star, "args and \\*\\*kwargs"),
        (_keywords, "args and \\*\\*kwargs"),
        (_positional, "positional-only"),
        (_bare, "type annotation"),
        (_opaque, "cannot be a tool argument"),
        (_recursive, "recursive"),
    ],
)
def test_what_cannot_be_a_tool_parameter_is_refused_at_registration(function: Any, says: str) -> None:
    with pytest.raises(TypeError, match=says):
        Toolbox().add(function)


def test_registration_refuses_bad_names_duplicates_and_timeouts() -> None:
    box = Toolbox()
    box.add(lambda: None, name="a")
    with pytest.raises(ValueError, match="already registered"):
        box.add(lambda: None, name="a")
    for bad in ("two words", "café", "x" * 65):
        with pytest.raises(TypeError, match="A-Z, a-z, 0-9"):
            box.add(lambda: None, name=bad)
    with pytest.raises(TypeError, match="<lambda>"):
        box.add(lambda: None)  # a lambda has no usable name: give one
    with pytest.raises(TypeError, match="timeout"):
        box.add(lambda: None, name="b", timeout=0)
    with pytest.raises(ValueError, match="timeout"):
        Toolbox(timeout=float("nan"))
    with pytest.raises(TypeError, match="must be a function"):
        Tool("not callable")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- running tools

box = Toolbox(timeout=0.5)
ran: list[str] = []


@box.tool
async def lookup_order(order_id: Annotated[str, Field(pattern=r"^\d+$")], call: ToolCall) -> dict[str, Any]:
    """Look up an order."""
    ran.append(f"{call.name} {call.id} {call.vendor} {call.call_sid}")
    if order_id == "0":
        raise ToolError("no such order")
    return {"order_id": order_id, "status": "shipped"}


@box.tool
async def broken(secret_word: str) -> str:
    """Raises something unexpected."""
    raise RuntimeError("database password is hunter2")


@box.tool
def exits(code: int) -> str:
    """Exits, as a careless script would (in a worker thread)."""
    raise SystemExit(code)


@box.tool
async def interrupts() -> str:
    """Raises KeyboardInterrupt."""
    raise KeyboardInterrupt


@box.tool
async def too_slow() -> str:
    """Never answers in time."""
    await asyncio.sleep(10)
    return "too late"


@box.tool(timeout=0.2)
def too_slow_sync() -> str:
    """Sleeps in its thread past its own timeout."""
    time.sleep(0.6)
    ran.append("too_slow_sync finished in its abandoned thread")
    return "too late"


@box.tool
def sleepy(seconds: float) -> dict[str, Any]:
    """Sleeps in a thread."""
    time.sleep(seconds)
    return {"thread": threading.current_thread() is not threading.main_thread()}


@box.tool
async def unsendable() -> Any:
    """Returns what JSON cannot hold."""
    return object()


def _output(data: dict[str, Any]) -> Any:
    """The text an openai output carries, read back as JSON."""
    assert data["type"] == "conversation.item.create"
    return json.loads(data["item"]["output"])


async def test_a_tool_runs_with_validated_arguments_and_the_call() -> None:
    ran.clear()
    hook = box.hook("openai")
    call_id, output = await hook.answer(
        {"tool_call_id": "call_1", "name": "lookup_order", "args": {"order_id": "42"}}, "CA-1"
    )
    assert call_id == "call_1"
    assert output == {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": '{"order_id":"42","status":"shipped"}',
        },
    }
    assert ran == ["lookup_order call_1 openai CA-1"]


async def test_invalid_arguments_answer_an_error_without_the_values(caplog: pytest.LogCaptureFixture) -> None:
    hook = box.hook("openai")
    with caplog.at_level(logging.INFO):
        cases = [
            {"order_id": "12ab-CALLER-SAID"},  # fails its pattern
            {},  # missing
            {"order_id": "1", "colour": "CRIMSON-CALLER"},  # made up
        ]
        outputs = [
            _output(
                (await hook.answer({"tool_call_id": f"c{i}", "name": "lookup_order", "args": args}, "CA-7"))[
                    1
                ]
            )
            for i, args in enumerate(cases)
        ]
    assert outputs[0]["error"].startswith("invalid arguments: order_id: String should match pattern")
    assert outputs[1] == {"error": "invalid arguments: order_id: Field required"}
    assert "colour: Extra inputs are not permitted" in outputs[2]["error"]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all(record.call_sid == "CA-7" for record in warnings)  # type: ignore[attr-defined]
    text = caplog.text + json.dumps(outputs)
    assert "CALLER-SAID" not in text and "CRIMSON" not in text


async def test_a_raising_tool_answers_an_error_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    hook = box.hook("openai")
    with caplog.at_level(logging.INFO):
        _, output = await hook.answer(
            {"tool_call_id": "c1", "name": "broken", "args": {"secret_word": "xyzzy"}}, "CA-2"
        )
        _, answered = await hook.answer(
            {"tool_call_id": "c2", "name": "lookup_order", "args": {"order_id": "0"}}
        )
    # Internals never reach the model; a ToolError's words do.
    assert _output(output) == {"error": "the tool broken failed"}
    assert _output(answered) == {"error": "no such order"}
    (failure,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert failure.exc_info is not None and "call_sid=CA-2" in failure.getMessage()
    assert "xyzzy" not in caplog.text


@pytest.mark.parametrize(("name", "args"), [("exits", {"code": 3}), ("interrupts", {})])
async def test_a_tool_raising_system_exit_answers_an_error_and_the_loop_goes_on(
    name: str, args: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hook = box.hook("openai")
    with caplog.at_level(logging.ERROR):
        _, output = await hook.answer({"tool_call_id": "c1", "name": name, "args": args}, "CA-9")
    assert _output(output) == {"error": f"the tool {name} failed"}
    (failure,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "call_sid=CA-9" in failure.getMessage()
    await asyncio.sleep(0)  # this test's event loop still runs


@pytest.mark.slow
async def test_a_slow_tool_answers_an_error_at_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    ran.clear()
    hook = box.hook("openai")
    started = time.monotonic()
    _, output = await hook.answer({"tool_call_id": "c1", "name": "too_slow"}, "CA-3")
    assert 0.5 <= time.monotonic() - started < 1.5  # the toolbox's 0.5 s
    assert _output(output) == {"error": "the tool too_slow took too long"}
    started = time.monotonic()
    _, output = await hook.answer({"tool_call_id": "c2", "name": "too_slow_sync", "args": {}}, "CA-3")
    assert 0.2 <= time.monotonic() - started < 1.0  # its own 0.2 s: the thread is abandoned
    assert _output(output) == {"error": "the tool too_slow_sync took too long"}
    assert "passed its 0.2 s timeout for call_sid=CA-3" in caplog.text
    for _ in range(100):  # the abandoned thread sleeps on, then finishes; its result is dropped
        if ran:
            break
        await asyncio.sleep(0.05)
    assert ran == ["too_slow_sync finished in its abandoned thread"]
    assert DEFAULT_TIMEOUT < 10  # well under the 10 s jambonz waits on an HTTP tool hook


async def test_sync_tools_run_in_threads_off_the_event_loop() -> None:
    hook = box.hook("openai")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.02)
            ticks += 1

    started = time.monotonic()
    results = await asyncio.gather(
        *(
            hook.answer({"tool_call_id": f"c{i}", "name": "sleepy", "args": {"seconds": 0.3}})
            for i in range(3)
        ),
        tick(),
    )
    assert time.monotonic() - started < 0.6  # three 0.3 s sleeps side by side, not one after another
    assert ticks == 10  # the loop went on meanwhile
    answers = [result for result in results if result is not None]
    assert [_output(output) for _, output in answers] == [{"thread": True}] * 3


async def test_unknown_tools_bad_arguments_and_unsendable_results_answer_errors() -> None:
    hook = box.hook("openai")
    answers = [
        (await hook.answer(data))[1]
        for data in (
            {"tool_call_id": "c1", "name": "nope", "args": {}},
            {"tool_call_id": "c2", "args": {}},
            {"tool_call_id": "c3", "name": "lookup_order", "args": ["42"]},
            {"tool_call_id": "c4", "name": "unsendable"},
        )
    ]
    assert [_output(answer)["error"] for answer in answers] == [
        "there is no tool named 'nope'",
        "no tool named",
        "the arguments must be a JSON object",
        "the tool unsendable failed",
    ]
    for data in ({"name": "lookup_order"}, {"tool_call_id": 7}, {"tool_call_id": ""}, ["not", "a", "call"]):
        with pytest.raises(ValueError, match="tool call"):
            await hook.answer(data)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- each vendor's shapes


@pytest.mark.parametrize(
    ("vendor", "success", "failure"),
    [
        (
            "openai",
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": "id1",
                    "output": '{"order_id":"7","status":"shipped"}',
                },
            },
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": "id1",
                    "output": '{"error":"no such order"}',
                },
            },
        ),
        (
            "ultravox",
            {
                "type": "client_tool_result",
                "invocation_id": "id1",
                "result": '{"order_id":"7","status":"shipped"}',
            },
            {"type": "client_tool_result", "invocation_id": "id1", "result": '{"error":"no such order"}'},
        ),
        (
            "elevenlabs",
            {
                "data": {
                    "type": "client_tool_result",
                    "tool_call_id": "id1",
                    "result": '{"order_id":"7","status":"shipped"}',
                    "is_error": False,
                }
            },
            {
                "data": {
                    "type": "client_tool_result",
                    "tool_call_id": "id1",
                    "result": '{"error":"no such order"}',
                    "is_error": True,
                }
            },
        ),
        (
            "deepgram",
            {
                "data": {
                    "type": "FunctionCallResponse",
                    "id": "id1",
                    "name": "lookup_order",
                    "content": '{"order_id":"7","status":"shipped"}',
                }
            },
            {
                "data": {
                    "type": "FunctionCallResponse",
                    "id": "id1",
                    "name": "lookup_order",
                    "content": '{"error":"no such order"}',
                }
            },
        ),
        (
            "google",
            {
                "toolResponse": {
                    "functionResponses": [
                        {
                            "id": "id1",
                            "name": "lookup_order",
                            "response": {"output": {"order_id": "7", "status": "shipped"}},
                        }
                    ]
                }
            },
            {
                "toolResponse": {
                    "functionResponses": [
                        {"id": "id1", "name": "lookup_order", "response": {"error": "no such order"}}
                    ]
                }
            },
        ),
    ],
)
async def test_each_vendor_gets_the_output_its_adapter_forwards(
    vendor: str, success: dict[str, Any], failure: dict[str, Any]
) -> None:
    hook = box.hook(vendor)
    for order_id, expected in (("7", success), ("0", failure)):
        # What fs sends for a tool call: {tool_call_id, name, args}, for all but google.
        assert await hook.answer(
            {"tool_call_id": "id1", "name": "lookup_order", "args": {"order_id": order_id}}
        ) == (
            "id1",
            expected,
        )


async def test_google_asks_for_several_functions_at_once() -> None:
    # fs google_s2s.js: sendToolHook('function_call_id', {type: 'toolCall', functionCalls}), the
    # key snake-cased by its requestor; one toolResponse answers them all.
    data = {
        "tool_call_id": "function_call_id",
        "type": "toolCall",
        "function_calls": [
            {"id": "g1", "name": "lookup_order", "args": {"order_id": "7"}},
            {"id": "g2", "name": "sleepy", "args": {"seconds": "soon"}},
            {"id": "g3", "name": "nope", "args": {}},
        ],
    }
    call_id, output = await box.hook("google").answer(data, "CA-9")
    assert call_id == "function_call_id"
    assert output == {
        "toolResponse": {
            "functionResponses": [
                {
                    "id": "g1",
                    "name": "lookup_order",
                    "response": {"output": {"order_id": "7", "status": "shipped"}},
                },
                {
                    "id": "g2",
                    "name": "sleepy",
                    "response": {
                        "error": "invalid arguments: seconds: Input should be a valid number, "
                        "unable to parse string as a number"
                    },
                },
                {"id": "g3", "name": "nope", "response": {"error": "there is no tool named 'nope'"}},
            ]
        }
    }
    with pytest.raises(ValueError, match="function_calls"):
        await box.hook("google").answer({"tool_call_id": "x", "function_calls": []})


def test_each_vendor_declares_the_tools_in_its_own_shape() -> None:
    parameters = box.tools["lookup_order"].parameters
    assert box.schemas("openai")[0] == {
        "type": "function",
        "name": "lookup_order",
        "description": "Look up an order.",
        "parameters": parameters,
    }
    assert box.schemas("microsoft") == box.schemas("openai")
    assert box.schemas("deepgram")[0] == {
        "name": "lookup_order",
        "description": "Look up an order.",
        "parameters": parameters,
    }
    assert box.schemas("voiceagent") == box.schemas("deepgram")
    assert box.schemas("ultravox")[0] == {
        "temporaryTool": {
            "modelToolName": "lookup_order",
            "description": "Look up an order.",
            "dynamicParameters": [
                {
                    "name": "order_id",
                    "location": "PARAMETER_LOCATION_BODY",
                    "schema": {"pattern": "^\\d+$", "type": "string"},
                    "required": True,
                }
            ],
            "client": {},
        }
    }
    # For the agent's configuration on ElevenLabs: jambonz sends ElevenLabs no tools.
    assert box.schemas("elevenlabs")[0] == {
        "type": "client",
        "name": "lookup_order",
        "description": "Look up an order.",
        "parameters": parameters,
        "expects_response": True,
    }
    with pytest.raises(ValueError, match="not for 'anthropic'"):
        box.schemas("anthropic")


def test_gemini_schemas_have_nullable_instead_of_null() -> None:
    tools = Toolbox()

    @tools.tool
    def deliver(to: Address | None, tip: int | None = None) -> None:
        """Deliver."""

    (declaration,) = tools.schemas("google")
    assert declaration["parameters"] == {
        "type": "object",
        "required": ["to"],
        "properties": {
            "to": {
                "description": "Where to deliver.",
                "type": "object",
                "properties": {
                    "street": {"description": "Street and number", "type": "string"},
                    "zip_code": {"type": "string", "default": None, "nullable": True},
                },
                "required": ["street"],
                "nullable": True,
            },
            "tip": {"type": "integer", "default": None, "nullable": True},
        },
    }
    assert "additionalProperties" not in json.dumps(declaration)


# --------------------------------------------------------------------------- the verbs


def _app(prefix: str = "") -> tuple[JambonzApp, HookContext]:
    app = JambonzApp(insecure=True)
    app.tool_hook("/tools", box)
    return app, app.hook_settings.context(prefix)


def _written(verb: WebhookResponse | Verb, context: HookContext) -> dict[str, Any]:
    response = verb if isinstance(verb, WebhookResponse) else WebhookResponse([verb])
    (data,) = response.to_list(context)
    return data


OPENAI_OPTIONS = {"response_create": {"modalities": ["audio", "text"]}, "session_update": {"voice": "alloy"}}
GOOGLE_OPTIONS = {"setup": {"systemInstruction": {"parts": [{"text": "hi"}]}}}
DEEPGRAM_OPTIONS = {"Settings": {"agent": {"think": {"provider": {"type": "open_ai", "model": "gpt-4o"}}}}}
ULTRAVOX_OPTIONS = {"systemPrompt": "hi"}

# The verb, and where its vendor's adapter reads the tools (fs lib/tasks/llm/llms/*.js).
VERBS: list[tuple[Verb, str, list[str] | None]] = [
    (Llm(vendor="openai", llm_options=OPENAI_OPTIONS, tools=box), "openai", ["session_update", "tools"]),
    (Llm(vendor="microsoft", llm_options=OPENAI_OPTIONS, tools=box), "openai", ["session_update", "tools"]),
    (OpenaiS2s(llm_options=OPENAI_OPTIONS, tools=box), "openai", ["session_update", "tools"]),
    (
        S2s(vendor="openai", llm_options={"response_create": {}}, tools=box),
        "openai",
        ["session_update", "tools"],
    ),
    (GoogleS2s(llm_options=GOOGLE_OPTIONS, tools=box), "google", ["setup", "tools"]),
    (Llm(vendor="google", llm_options=GOOGLE_OPTIONS, tools=box), "google", ["setup", "tools"]),
    (
        DeepgramS2s(llm_options=DEEPGRAM_OPTIONS, tools=box),
        "deepgram",
        ["Settings", "agent", "think", "functions"],
    ),
    (
        Llm(vendor="voiceagent", llm_options=DEEPGRAM_OPTIONS, tools=box),
        "deepgram",
        ["Settings", "agent", "think", "functions"],
    ),
    (UltravoxS2s(llm_options=ULTRAVOX_OPTIONS, tools=box), "ultravox", ["selectedTools"]),
    (Llm(vendor="ultravox", llm_options=ULTRAVOX_OPTIONS, tools=box), "ultravox", ["selectedTools"]),
    (ElevenlabsS2s(auth={"agent_id": "agent_1"}, tools=box), "elevenlabs", None),
]


@pytest.mark.parametrize(("verb", "adapter", "where"), VERBS, ids=lambda value: getattr(value, "verb", None))
def test_a_verb_given_a_toolbox_carries_its_schemas_and_tool_hook(
    verb: Verb, adapter: str, where: list[str] | None
) -> None:
    _, context = _app("/voice")
    data = _written(verb, context)
    assert "tools" not in data  # the toolbox itself is never written
    assert data["toolHook"] == f"/voice/tools/{adapter}"  # with the mount prefix
    if where is None:
        assert "llmOptions" not in data  # ElevenLabs reads tools from its agent's configuration
    else:
        found: Any = data["llmOptions"]
        for key in where:
            found = found[key]
        declared = box.schemas(adapter)
        assert found == ([{"functionDeclarations": declared}] if adapter == "google" else declared)
    # The JSON the verb writes is valid by jambonz's official schema of that verb.
    assert schemas.errors(f"verbs/{type(verb).verb_name}", data) == []


def test_every_builder_path_writes_the_same_verb() -> None:
    _, context = _app()
    fields: dict[str, Any] = {"vendor": "openai", "llm_options": OPENAI_OPTIONS, "tools": box}
    by_model = _written(Llm(**fields), context)
    by_keywords = _written(WebhookResponse().llm(**fields), context)
    by_dict = _written(WebhookResponse([{"verb": "llm", **fields}]), context)
    by_json_names = _written(
        WebhookResponse().llm({"vendor": "openai", "llmOptions": OPENAI_OPTIONS, "tools": box}), context
    )
    assert by_model == by_keywords == by_dict == by_json_names
    assert OPENAI_OPTIONS == {
        "response_create": {"modalities": ["audio", "text"]},
        "session_update": {"voice": "alloy"},
    }
    # Without tools the llm verbs keep the builder's fast path (a plain dict, no model).
    (plain,) = WebhookResponse().llm(vendor="openai", llm_options=OPENAI_OPTIONS).verbs
    assert type(plain) is dict
    assert _VALIDATORS["llm"].mirrored


def test_tools_join_the_ones_already_declared_and_a_given_tool_hook_stays() -> None:
    _, context = _app()
    own = {
        "type": "function",
        "name": "hang_up",
        "description": "End the call",
        "parameters": {"type": "object"},
    }
    options = {"response_create": {}, "session_update": {"tools": [own]}}
    data = _written(
        Llm(vendor="openai", llm_options=options, tools=box, tool_hook="https://tools.example.com/x"), context
    )
    assert data["llmOptions"]["session_update"]["tools"] == [own, *box.schemas("openai")]
    assert data["toolHook"] == "https://tools.example.com/x"
    clash = {"response_create": {}, "session_update": {"tools": [{**own, "name": "lookup_order"}]}}
    with pytest.raises(ValidationError, match="already declare a tool named 'lookup_order'"):
        Llm(vendor="openai", llm_options=clash, tools=box)
    with pytest.raises(ValidationError, match="must be a list"):
        Llm(vendor="ultravox", llm_options={"selectedTools": "all"}, tools=box)


def test_vendors_jambonz_runs_no_tools_for_are_refused() -> None:
    with pytest.raises(ValidationError, match="not for 'anthropic'"):
        WebhookResponse().llm(vendor="anthropic", llm_options={}, tools=box)
    with pytest.raises(ValidationError, match="not for 'qwen'"):
        WebhookResponse().qwen_s2s(llm_options={}, tools=box)


def test_a_toolbox_the_app_does_not_serve_cannot_be_written() -> None:
    app = JambonzApp(insecure=True)
    with pytest.raises(UnroutedHandlerError, match=r"app\.tool_hook"):
        WebhookResponse().openai_s2s(llm_options={}, tools=Toolbox()).to_json(app.hook_settings.context(""))


# --------------------------------------------------------------------------- serving a toolbox


def _post(client: TestClient, path: str, data: Any, secret: str = "wh_secret_t") -> httpx2.Response:
    body = json.dumps(data).encode()
    return client.post(path, content=body, headers=signed_headers(body, secret))


def test_app_tool_hook_serves_one_path_per_vendor_and_returns_its_toolbox() -> None:
    app = JambonzApp(webhook_secret="wh_secret_t")
    tools = app.tool_hook("/tools")

    @tools.tool
    async def ping(text: str) -> str:
        """Echo."""
        return text

    assert sorted(app.hook_table.tools) == [f"/tools/{vendor}" for vendor in sorted(VENDORS)]
    with TestClient(app) as client:
        answer = _post(
            client, "/tools/ultravox", {"tool_call_id": "u1", "name": "ping", "args": {"text": "héllo"}}
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"type": "client_tool_result", "invocation_id": "u1", "result": "héllo"}
        assert client.post("/tools", json={}).status_code == 404  # each vendor at its own path
    with pytest.raises(ValueError, match="already registered"):
        app.tool_hook("/tools", Toolbox())
    with pytest.raises(ValueError, match="fixed path"):
        app.tool_hook("/tools/{vendor}")
    with pytest.raises(TypeError, match="serves a Toolbox"):
        app.tool_hook("/other", [ping])  # type: ignore[arg-type]


def test_a_router_serves_a_toolbox_under_its_prefix() -> None:
    router = HookRouter(prefix="/agent")
    router.tool_hook("/tools", box)
    app = JambonzApp(webhook_secret="wh_secret_t")
    app.include_router(router, prefix="/v1")
    assert "/v1/agent/tools/openai" in app.hook_table.tools
    with TestClient(app) as client:
        answer = _post(
            client,
            "/v1/agent/tools/openai",
            {"tool_call_id": "c", "name": "lookup_order", "args": {"order_id": "5"}},
        )
    assert _output(answer.json())["status"] == "shipped"


def test_the_tool_hook_refuses_what_is_not_a_signed_tool_call() -> None:
    app = JambonzApp(webhook_secret="wh_secret_t")
    app.tool_hook("/tools", box)
    with TestClient(app) as client:
        call = {"tool_call_id": "c", "name": "lookup_order", "args": {"order_id": "5"}}
        assert _post(client, "/tools/openai", call, secret="wh_secret_wrong").status_code == 401
        assert client.post("/tools/openai", json=call).status_code == 401  # unsigned
        assert client.get("/tools/openai").status_code == 405
        body = b"not json"
        assert (
            client.post(
                "/tools/openai", content=body, headers=signed_headers(body, "wh_secret_t")
            ).status_code
            == 400
        )
        assert _post(client, "/tools/openai", ["a", "list"]).status_code == 422
        refused = _post(client, "/tools/openai", {"name": "lookup_order", "args": {}})
        assert (refused.status_code, refused.json()) == (422, {"error": "a tool call needs its tool_call_id"})
        text = b'{"tool_call_id":"c"}'
        assert (
            client.post(
                "/tools/openai",
                content=text,
                headers={**signed_headers(text, "wh_secret_t"), "Content-Type": "text/plain"},
            ).status_code
            == 415
        )


def test_the_websocket_entry_point_answers_with_the_call_sid(caplog: pytest.LogCaptureFixture) -> None:
    ran.clear()
    app, _ = _app()
    route = app.hook_table.tools["/tools/openai"]  # what an llm:tool-call's hook names

    async def socket_would() -> tuple[str, dict[str, Any]]:
        # data as in an llm:tool-call message: {tool_call_id, name, args}; call_sid from its envelope.
        return await route.answer(
            {"tool_call_id": "call_9", "name": "lookup_order", "args": {"order_id": "3"}}, "CA-ws"
        )

    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        call_id, output = asyncio.run(socket_would())
    assert call_id == "call_9" and _output(output)["order_id"] == "3"
    assert ran == ["lookup_order call_9 openai CA-ws"]
    (line,) = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert "tool hook WS /tools/openai -> 200" in line.getMessage() and "call_sid=CA-ws" in line.getMessage()


def test_a_mounted_app_serves_its_tools_under_the_prefix() -> None:
    app = JambonzApp(webhook_secret="wh_secret_t")
    app.tool_hook("/tools", box)
    outer = Starlette(routes=[Mount("/voice", app)])
    with TestClient(outer) as client:
        data = {"tool_call_id": "d1", "name": "lookup_order", "args": {"order_id": "1"}}
        answer = _post(client, "/voice/tools/deepgram", data)
    assert answer.json()["data"]["type"] == "FunctionCallResponse"


# --------------------------------------------------------------------------- end to end, on uvicorn


@pytest.fixture(scope="module")
def tools_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _spawn("tests.apps.tools:app", tmp_path_factory.mktemp("tools"), "tools")
    try:
        assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        yield server
    finally:
        _stop(server.process)


@pytest.mark.slow
def test_a_call_hook_and_its_tool_calls_on_a_real_server(tools_server: LiveServer) -> None:
    call = {
        "call_sid": "CA-live",
        "account_sid": "AC",
        "application_sid": "AP",
        "direction": "inbound",
        "from": "+15551230000",
        "to": "+15551239999",
        "call_id": "x",
        "sip_status": 100,
        "call_status": "trying",
    }
    with httpx2.Client(base_url=tools_server.origin, timeout=10) as client:

        def post(path: str, data: Any) -> httpx2.Response:
            body = json.dumps(data).encode()
            return client.post(path, content=body, headers=signed_headers(body, served.SECRET))

        (verb,) = post("/voice/incoming", call).json()
        assert verb["toolHook"] == "/voice/tools/openai"  # the prefix the app is mounted under
        assert [tool["name"] for tool in verb["llmOptions"]["session_update"]["tools"]] == [
            "lookup_order",
            "slow",
        ]
        assert schemas.errors("verbs/openai_s2s", verb) == []
        # jambonz posts the tool call to the verb's toolHook, signed like every hook.
        found = post(
            verb["toolHook"], {"tool_call_id": "call_a", "name": "lookup_order", "args": {"order_id": "1001"}}
        )
        assert found.status_code == 200 and found.json() == {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_a", "output": '{"status":"shipped"}'},
        }
        missing = post(
            verb["toolHook"], {"tool_call_id": "call_b", "name": "lookup_order", "args": {"order_id": "1"}}
        )
        assert _output(missing.json()) == {"error": "no such order"}
        started = time.monotonic()
        slow = post(verb["toolHook"], {"tool_call_id": "call_c", "name": "slow", "args": {}})
        assert time.monotonic() - started < 2 and _output(slow.json()) == {
            "error": "the tool slow took too long"
        }
        body = json.dumps({"tool_call_id": "call_d", "name": "lookup_order", "args": {}}).encode()
        assert (
            client.post(
                verb["toolHook"], content=body, headers={"Content-Type": "application/json"}
            ).status_code
            == 401
        )
    assert "tool slow: passed its 0.3 s timeout" in tools_server.stderr()
