"""The AI verbs against jambonz's official schemas.

llm, s2s, the vendor shortcuts (openai, google, deepgram, elevenlabs, ultravox, gptlive, qwen, nova,
voicelive), agent and dialogflow, and the components llm-base, handoff and hangup.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pydantic_core
import pytest
from pydantic import ValidationError

from jambonz_webhooks.hooks import HookContext, HookObject
from jambonz_webhooks.response import encode_verbs
from jambonz_webhooks.verbs._base import Component, Verb
from jambonz_webhooks.verbs.ai import (
    Agent,
    AgentBargeIn,
    AgentLanguage,
    AgentLlm,
    AgentLlmConnectOptions,
    AgentLlmOptions,
    AgentNoiseIsolation,
    AgentTurnDetection,
    DeepgramS2s,
    Dialogflow,
    DialogflowQueryInput,
    ElevenlabsAuth,
    ElevenlabsLlmOptions,
    ElevenlabsS2s,
    GoogleS2s,
    GptliveAuth,
    GptliveDelegation,
    GptliveResponses,
    GptliveS2s,
    Handoff,
    HandoffBrief,
    Llm,
    LlmAuth,
    LlmBase,
    LlmHangup,
    LlmMessage,
    McpServer,
    NovaAuth,
    NovaDtmf,
    NovaHistoryTurn,
    NovaLlmOptions,
    NovaS2s,
    OpenaiS2s,
    QwenS2s,
    S2s,
    ToolFiller,
    UltravoxS2s,
    VoiceliveAuth,
    VoiceliveConnectOptions,
    VoiceliveLlmOptions,
    VoiceliveS2s,
)
from jambonz_webhooks.verbs.components import Recognizer, Synthesizer, Target
from tests.schemas import errors, schemas

VERBS: list[type[Verb]] = [
    Llm,
    S2s,
    OpenaiS2s,
    GoogleS2s,
    DeepgramS2s,
    ElevenlabsS2s,
    UltravoxS2s,
    GptliveS2s,
    QwenS2s,
    NovaS2s,
    VoiceliveS2s,
    Agent,
    Dialogflow,
]
VENDORS: dict[type[Verb], str] = {
    OpenaiS2s: "openai",
    GoogleS2s: "google",
    DeepgramS2s: "deepgram",
    ElevenlabsS2s: "elevenlabs",
    UltravoxS2s: "ultravox",
    GptliveS2s: "gptlive",
    QwenS2s: "qwen",
    NovaS2s: "nova",
    VoiceliveS2s: "voicelive",
}


def dump(model: Component) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def on_the_wire(model: Verb, context: HookContext | None = None) -> dict[str, Any]:
    """The verb as the answer's JSON array carries it."""
    (data,) = pydantic_core.from_json(encode_verbs([model], context))
    assert isinstance(data, dict)
    return data


def required(schema_id: str) -> set[str]:
    """The required names of a schema, with those of its allOf bases."""
    schema = schemas()[schema_id]
    names = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            names |= required(part["$ref"].removeprefix("../"))
    return names


# --- realistic instances built with snake_case names, and the exact JSON they give ------------------

SYSTEM = {"role": "system", "content": "You are the front desk of Acme Dental. Be brief."}
TARGET = Target(type="phone", number="+15085551212", trunk="carrier-a")
TARGET_JSON = {"type": "phone", "number": "+15085551212", "trunk": "carrier-a"}
MCP = {"url": "https://mcp.example.com/sse", "auth": {"token": "t0k"}}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}

CASES: list[tuple[type[Verb], dict[str, Any], dict[str, Any]]] = [
    (
        Llm,
        {
            "vendor": "openai",
            "model": "gpt-4o",
            "auth": LlmAuth(api_key="sk-test"),
            "connect_options": {"baseURL": "https://llm-proxy.example.com/v1"},
            "llm_options": {"messages": [SYSTEM], "temperature": 0.7},
            "mcp_servers": [McpServer(url="https://mcp.example.com/sse", auth={"token": "t0k"})],
            "action_hook": "/llm-done",
            "event_hook": "/llm-events",
            "tool_hook": HookObject(url="/llm-tools", method="POST"),
            "handoff": Handoff(
                mode="warm",
                target=[TARGET],
                caller_present=False,
                timeout=25,
                brief=HandoffBrief(template="Say why the caller needs a person."),
                brief_synthesizer=Synthesizer(vendor="google", language="en-US", voice="en-US-Wavenet-C"),
                tool_name="escalate",
                tool_description="Hand the call to a human receptionist",
                disposition={"on_no_answer": "voicemail", "voicemail_url": "sip:vm@pbx.example.com"},
                action_hook="/handoff-done",
            ),
            "hangup": LlmHangup(reason="conversation complete"),
            "events": ["all"],
            "response_timeout_ms": 4000,
            "cancel_on_response_timeout": True,
            "cancel_on_barge_in": True,
        },
        {
            "verb": "llm",
            "vendor": "openai",
            "model": "gpt-4o",
            "auth": {"apiKey": "sk-test"},
            "connectOptions": {"baseURL": "https://llm-proxy.example.com/v1"},
            "llmOptions": {"messages": [SYSTEM], "temperature": 0.7},
            "mcpServers": [MCP],
            "actionHook": "/llm-done",
            "eventHook": "/llm-events",
            "toolHook": {"url": "/llm-tools", "method": "POST"},
            "handoff": {
                "mode": "warm",
                "target": [TARGET_JSON],
                "callerPresent": False,
                "timeout": 25,
                "brief": {"template": "Say why the caller needs a person."},
                "briefSynthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Wavenet-C"},
                "toolName": "escalate",
                "toolDescription": "Hand the call to a human receptionist",
                "disposition": {"onNoAnswer": "voicemail", "voicemailUrl": "sip:vm@pbx.example.com"},
                "actionHook": "/handoff-done",
            },
            "hangup": {"reason": "conversation complete"},
            "events": ["all"],
            "responseTimeoutMs": 4000,
            "cancelOnResponseTimeout": True,
            "cancelOnBargeIn": True,
        },
    ),
    (
        S2s,
        {
            "vendor": "microsoft",
            "model": "gpt-4o-realtime",
            "llm_options": {"messages": [SYSTEM]},
            "action_hook": "/s2s-done",
        },
        {
            "verb": "s2s",
            "vendor": "microsoft",
            "model": "gpt-4o-realtime",
            "llmOptions": {"messages": [SYSTEM]},
            "actionHook": "/s2s-done",
        },
    ),
    (
        OpenaiS2s,
        {
            "model": "gpt-realtime",
            "auth": {"api_key": "sk-test"},
            "llm_options": {
                "session_update": {"instructions": "Be brief.", "voice": "marin"},
                "response_create": {},
            },
            "tool_hook": "/tools",
            "event_hook": "/events",
            "events": ["conversation.item.*", "response.done"],
        },
        {
            "verb": "openai_s2s",
            "vendor": "openai",
            "model": "gpt-realtime",
            "auth": {"apiKey": "sk-test"},
            "llmOptions": {
                "session_update": {"instructions": "Be brief.", "voice": "marin"},
                "response_create": {},
            },
            "toolHook": "/tools",
            "eventHook": "/events",
            "events": ["conversation.item.*", "response.done"],
        },
    ),
    (
        GoogleS2s,
        {
            "model": "gemini-2.0-flash-live-001",
            "llm_options": {"setup": {"systemInstruction": {"parts": [{"text": "Be brief."}]}}},
            "action_hook": "/s2s-done",
        },
        {
            "verb": "google_s2s",
            "vendor": "google",
            "model": "gemini-2.0-flash-live-001",
            "llmOptions": {"setup": {"systemInstruction": {"parts": [{"text": "Be brief."}]}}},
            "actionHook": "/s2s-done",
        },
    ),
    (
        DeepgramS2s,
        {
            "auth": LlmAuth(api_key="dg-key"),
            "llm_options": {"Settings": {"agent": {"think": {"prompt": "Be brief."}}}},
        },
        {
            "verb": "deepgram_s2s",
            "vendor": "deepgram",
            "auth": {"apiKey": "dg-key"},
            "llmOptions": {"Settings": {"agent": {"think": {"prompt": "Be brief."}}}},
        },
    ),
    (
        ElevenlabsS2s,
        {
            "auth": ElevenlabsAuth(agent_id="agent_7f3", api_key="xi-key"),
            "llm_options": ElevenlabsLlmOptions(
                conversation_initiation_client_data={"dynamic_variables": {"name": "Ann"}},
                input_sample_rate=8000,
                output_sample_rate=8000,
            ),
            "action_hook": "/s2s-done",
        },
        {
            "verb": "elevenlabs_s2s",
            "vendor": "elevenlabs",
            "auth": {"agent_id": "agent_7f3", "api_key": "xi-key"},
            "llmOptions": {
                "conversation_initiation_client_data": {"dynamic_variables": {"name": "Ann"}},
                "input_sample_rate": 8000,
                "output_sample_rate": 8000,
            },
            "actionHook": "/s2s-done",
        },
    ),
    (
        UltravoxS2s,
        {"model": "fixie-ai/ultravox", "llm_options": {"messages": [SYSTEM]}, "action_hook": "/s2s-done"},
        {
            "verb": "ultravox_s2s",
            "vendor": "ultravox",
            "model": "fixie-ai/ultravox",
            "llmOptions": {"messages": [SYSTEM]},
            "actionHook": "/s2s-done",
        },
    ),
    (
        GptliveS2s,
        {
            "model": "gpt-live-1-boulder-alpha",
            "auth": GptliveAuth(api_key="sk-live"),
            "llm_options": {
                "session_update": {
                    "instructions": "Be brief.",
                    "delegation": GptliveDelegation(
                        type="responses", responses=GptliveResponses(model="gpt-5.5", tools=[WEATHER_TOOL])
                    ),
                }
            },
            "mcp_servers": [MCP],
            "hangup": LlmHangup(),
            "tool_hook": "/tools",
        },
        {
            "verb": "gptlive_s2s",
            "vendor": "gptlive",
            "model": "gpt-live-1-boulder-alpha",
            "auth": {"apiKey": "sk-live"},
            "llmOptions": {
                "session_update": {
                    "instructions": "Be brief.",
                    "delegation": {
                        "type": "responses",
                        "responses": {"model": "gpt-5.5", "tools": [WEATHER_TOOL]},
                    },
                }
            },
            "mcpServers": [MCP],
            "hangup": {},
            "toolHook": "/tools",
        },
    ),
    (
        QwenS2s,
        {
            "model": "qwen3.5-omni-flash-realtime",
            "auth": {"api_key": "sk-qw", "host": "dashscope.aliyuncs.com"},
            "llm_options": {"session_update": {"voice": "Ethan"}},
        },
        {
            "verb": "qwen_s2s",
            "vendor": "qwen",
            "model": "qwen3.5-omni-flash-realtime",
            "auth": {"apiKey": "sk-qw", "host": "dashscope.aliyuncs.com"},
            "llmOptions": {"session_update": {"voice": "Ethan"}},
        },
    ),
    (
        NovaS2s,
        {
            "model": "amazon.nova-2-5-sonic",
            "auth": NovaAuth(
                access_key_id="AKIAEXAMPLE",
                secret_access_key="s3cret",
                session_token="tok",
                region="eu-north-1",
            ),
            "llm_options": NovaLlmOptions(
                system_prompt="Be brief.",
                speech_prompt="Respond in Latin script.",
                history=[
                    NovaHistoryTurn(role="user", content="My order is late."),
                    NovaHistoryTurn(role="ASSISTANT", content="Let me check."),
                ],
                greeting="Greet the caller.",
                session_start={"turnDetectionConfiguration": {"endpointingSensitivity": "LOW"}},
                prompt_start={"audioOutputConfiguration": {"voiceId": "tiffany"}},
                dtmf=NovaDtmf(enable=True, finish_on_key="#", max_digits=6, inter_digit_timeout=3),
            ),
            "tool_hook": "/tools",
        },
        {
            "verb": "nova_s2s",
            "vendor": "nova",
            "model": "amazon.nova-2-5-sonic",
            "auth": {
                "accessKeyId": "AKIAEXAMPLE",
                "secretAccessKey": "s3cret",
                "sessionToken": "tok",
                "region": "eu-north-1",
            },
            "llmOptions": {
                "systemPrompt": "Be brief.",
                "speechPrompt": "Respond in Latin script.",
                "history": [
                    {"role": "user", "content": "My order is late."},
                    {"role": "ASSISTANT", "content": "Let me check."},
                ],
                "greeting": "Greet the caller.",
                "sessionStart": {"turnDetectionConfiguration": {"endpointingSensitivity": "LOW"}},
                "promptStart": {"audioOutputConfiguration": {"voiceId": "tiffany"}},
                "dtmf": {"enable": True, "finishOnKey": "#", "maxDigits": 6, "interDigitTimeout": 3},
            },
            "toolHook": "/tools",
        },
    ),
    (
        VoiceliveS2s,
        {
            "model": "gpt-realtime",
            "auth": VoiceliveAuth(access_token="eyJ0eXAi"),
            "connect_options": VoiceliveConnectOptions(
                host="acme.services.ai.azure.com",
                api_version="2026-04-10",
                agent_id="asst_1",
                project_id="p1",
            ),
            "llm_options": VoiceliveLlmOptions(
                session_update={"turn_detection": {"type": "azure_semantic_vad"}}, response_create={}
            ),
            "action_hook": "/s2s-done",
        },
        {
            "verb": "voicelive_s2s",
            "vendor": "voicelive",
            "model": "gpt-realtime",
            "auth": {"accessToken": "eyJ0eXAi"},
            "connectOptions": {
                "host": "acme.services.ai.azure.com",
                "apiVersion": "2026-04-10",
                "agentId": "asst_1",
                "projectId": "p1",
            },
            "llmOptions": {
                "session_update": {"turn_detection": {"type": "azure_semantic_vad"}},
                "response_create": {},
            },
            "actionHook": "/s2s-done",
        },
    ),
    (
        Agent,
        {
            "stt": Recognizer(vendor="deepgram", language="multi"),
            "tts": Synthesizer(vendor="cartesia", language="en", voice="sonic-english"),
            "auto_lock_language": "always",
            "language_config": {"es": AgentLanguage(tts=Synthesizer(vendor="cartesia", language="es"))},
            "turn_detection": AgentTurnDetection(mode="krisp", threshold=0.4),
            "barge_in": AgentBargeIn(
                enable=True, strategy="interruptPrediction", vendor="krisp", threshold=0.6
            ),
            "no_response_timeout": 10,
            "no_response_max_prompts": 2,
            "llm": AgentLlm(
                vendor="anthropic",
                model="claude-sonnet-4-5",
                label="prod",
                auth=LlmAuth(api_key="sk-ant"),
                connect_options=AgentLlmConnectOptions(
                    timeout=20, max_retries=2, base_url="https://gw.example"
                ),
                llm_options=AgentLlmOptions(
                    system_prompt="You book dental appointments.",
                    messages=[LlmMessage(role="user", content="Hi")],
                    max_tokens=300,
                    temperature=0.4,
                    reasoning_effort="minimal",
                    tools=[WEATHER_TOOL],
                ),
            ),
            "action_hook": "/agent-done",
            "event_hook": "/agent-events",
            "tool_hook": "/agent-tools",
            "greeting": True,
            "early_generation": True,
            "speak": True,
            "speech_cleanup": False,
            "noise_isolation": AgentNoiseIsolation(
                mode="kugelaudio",
                label="ku",
                auth={"api_key": "k", "api_uri": "api.eu.kugelaudio.com"},
                level=80,
            ),
            "mcp_servers": [MCP],
            "handoff": Handoff(mode="blind", blind_method="dial", target=[TARGET], brief="none"),
            "hangup": LlmHangup(reason="done"),
            "tool_filler": ToolFiller(
                type="backchannel", start_delay_secs=1.5, style="friendly", escalation_secs=8
            ),
        },
        {
            "verb": "agent",
            "stt": {"vendor": "deepgram", "language": "multi"},
            "tts": {"vendor": "cartesia", "language": "en", "voice": "sonic-english"},
            "autoLockLanguage": "always",
            "languageConfig": {"es": {"tts": {"vendor": "cartesia", "language": "es"}}},
            "turnDetection": {"mode": "krisp", "threshold": 0.4},
            "bargeIn": {
                "enable": True,
                "strategy": "interruptPrediction",
                "vendor": "krisp",
                "threshold": 0.6,
            },
            "noResponseTimeout": 10,
            "noResponseMaxPrompts": 2,
            "llm": {
                "vendor": "anthropic",
                "model": "claude-sonnet-4-5",
                "label": "prod",
                "auth": {"apiKey": "sk-ant"},
                "connectOptions": {"timeout": 20, "maxRetries": 2, "baseURL": "https://gw.example"},
                "llmOptions": {
                    "systemPrompt": "You book dental appointments.",
                    "messages": [{"role": "user", "content": "Hi"}],
                    "maxTokens": 300,
                    "temperature": 0.4,
                    "reasoningEffort": "minimal",
                    "tools": [WEATHER_TOOL],
                },
            },
            "actionHook": "/agent-done",
            "eventHook": "/agent-events",
            "toolHook": "/agent-tools",
            "greeting": True,
            "earlyGeneration": True,
            "speak": True,
            "speechCleanup": False,
            "noiseIsolation": {
                "mode": "kugelaudio",
                "label": "ku",
                "auth": {"apiKey": "k", "apiUri": "api.eu.kugelaudio.com"},
                "level": 80,
            },
            "mcpServers": [MCP],
            "handoff": {"mode": "blind", "blindMethod": "dial", "target": [TARGET_JSON], "brief": "none"},
            "hangup": {"reason": "done"},
            "toolFiller": {
                "type": "backchannel",
                "startDelaySecs": 1.5,
                "style": "friendly",
                "escalationSecs": 8,
            },
        },
    ),
    (
        Dialogflow,
        {
            "credentials": {"type": "service_account", "project_id": "acme-voice"},
            "project": "acme-voice",
            "agent": "3f1c0b52",
            "environment": "prod",
            "region": "europe-west2",
            "model": "cx",
            "lang": "en-GB",
            "session_id": "caller_42-a",
            "action_hook": "/df-done",
            "event_hook": "/df-events",
            "tool_hook": "/df-tools",
            "events": ["intent", "transcription"],
            "welcome_event": "welcome",
            "welcome_event_params": {"name": "Ann"},
            "no_input_timeout": 7,
            "no_input_event": "no-input",
            "pass_dtmf_as_text_input": True,
            "thinking_music": "https://cdn.example.com/hold.mp3",
            "tts": Synthesizer(vendor="google", language="en-GB"),
            "bargein": True,
            "query_input": DialogflowQueryInput(text="I want to pay a bill"),
        },
        {
            "verb": "dialogflow",
            "credentials": {"type": "service_account", "project_id": "acme-voice"},
            "project": "acme-voice",
            "agent": "3f1c0b52",
            "environment": "prod",
            "region": "europe-west2",
            "model": "cx",
            "lang": "en-GB",
            "sessionId": "caller_42-a",
            "actionHook": "/df-done",
            "eventHook": "/df-events",
            "toolHook": "/df-tools",
            "events": ["intent", "transcription"],
            "welcomeEvent": "welcome",
            "welcomeEventParams": {"name": "Ann"},
            "noInputTimeout": 7,
            "noInputEvent": "no-input",
            "passDtmfAsTextInput": True,
            "thinkingMusic": "https://cdn.example.com/hold.mp3",
            "tts": {"vendor": "google", "language": "en-GB"},
            "bargein": True,
            "queryInput": {"text": "I want to pay a bill"},
        },
    ),
]
BASE: dict[type[Verb], dict[str, Any]] = {model: expected for model, _, expected in CASES}


def test_every_verb_has_a_case() -> None:
    assert [model for model, _, _ in CASES] == VERBS


@pytest.mark.parametrize(("model", "kwargs", "expected"), CASES, ids=[m.verb_name for m, _, _ in CASES])
def test_snake_case_instance_gives_the_exact_json(
    model: type[Verb], kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    verb = model(**kwargs)
    assert dump(verb) == expected
    assert on_the_wire(verb) == expected
    assert errors(model.schema_id, expected) == []


@pytest.mark.parametrize(("model", "kwargs", "expected"), CASES, ids=[m.verb_name for m, _, _ in CASES])
def test_camel_case_json_is_read_back(
    model: type[Verb], kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    from_json = model.model_validate(copy.deepcopy(expected))
    assert dump(from_json) == expected
    assert from_json == model(**kwargs)


@pytest.mark.parametrize(("model", "kwargs", "expected"), CASES, ids=[m.verb_name for m, _, _ in CASES])
def test_verb_is_written_first(model: type[Verb], kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    # The llm family inherits its fields from LlmBase; "verb" must still lead the object.
    assert next(iter(on_the_wire(model(**kwargs)))) == "verb"


def test_verb_names_and_schema_ids() -> None:
    for model in VERBS:
        assert model.schema_id == f"verbs/{model.verb_name}"
        assert model.model_fields["verb"].default == model.verb_name
    assert (LlmBase.schema_id, Handoff.schema_id, LlmHangup.schema_id) == (
        "components/llm-base",
        "components/handoff",
        "components/hangup",
    )


def examples(model: type[Verb]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = schemas()[model.schema_id].get("examples", [])
    return found


EXAMPLES = [(model, example) for model in VERBS for example in examples(model)]


def test_every_verb_schema_has_examples() -> None:
    assert {model for model, _ in EXAMPLES} == set(VERBS)


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=[m.verb_name for m, _ in EXAMPLES])
def test_schema_examples_round_trip(model: type[Verb], example: dict[str, Any]) -> None:
    verb = model.model_validate(copy.deepcopy(example))
    # A shortcut writes its pinned vendor, which the examples leave implicit.
    vendor = VENDORS.get(model)
    assert dump(verb) == ({**example, "vendor": vendor} if vendor else example)
    assert errors(model.schema_id, dump(verb)) == []


# --- components on their own ------------------------------------------------------------------------


def test_llm_base_component() -> None:
    base = LlmBase(
        vendor="google", model="gemini-2.0-flash", llm_options={"temperature": 0.2}, events=["all"]
    )
    data = dump(base)
    assert data == {
        "vendor": "google",
        "model": "gemini-2.0-flash",
        "llmOptions": {"temperature": 0.2},
        "events": ["all"],
    }
    assert errors("components/llm-base", data) == []
    assert LlmBase.model_validate(data) == base
    with pytest.raises(ValidationError):
        LlmBase.model_validate({"vendor": "google", "verb": "llm"})
    with pytest.raises(ValidationError):
        LlmBase(response_timeout_ms=0)


def test_llm_verbs_share_the_base() -> None:
    for model in VERBS[:11]:
        assert issubclass(model, LlmBase)


def test_handoff_component() -> None:
    handoff = Handoff(
        mode="warm",
        target=[{"type": "user", "name": "alice"}],
        caller_present=True,
        confirm={"prompt": "Press 1 to take the call", "digit": "1"},
        brief=HandoffBrief(template="Mention the order number."),
        tool_name="get_human",
    )
    data = dump(handoff)
    assert data == {
        "mode": "warm",
        "target": [{"type": "user", "name": "alice"}],
        "callerPresent": True,
        "confirm": {"prompt": "Press 1 to take the call", "digit": "1"},
        "brief": {"template": "Mention the order number."},
        "toolName": "get_human",
    }
    assert errors("components/handoff", data) == []
    assert Handoff.model_validate(data) == handoff
    assert Handoff.model_validate({**data, "brief": "auto"}).brief == "auto"


def test_hangup_component() -> None:
    assert dump(LlmHangup(reason="caller satisfied")) == {"reason": "caller satisfied"}
    assert dump(LlmHangup()) == {}
    assert errors("components/hangup", {"reason": "caller satisfied"}) == []
    with pytest.raises(ValidationError):
        LlmHangup.model_validate({"reasons": "x"})


# --- the same verb from dicts and from models --------------------------------------------------------


def test_parts_given_as_dicts_or_models_are_equal() -> None:
    as_dicts = NovaS2s.model_validate(
        {
            "auth": {"access_key_id": "AK", "secret_access_key": "SK"},
            "llm_options": {
                "dtmf": {"enable": True, "num_digits": 4},
                "history": [{"role": "user", "content": "hi"}],
            },
        }
    )
    as_models = NovaS2s(
        auth=NovaAuth(access_key_id="AK", secret_access_key="SK"),
        llm_options=NovaLlmOptions(
            dtmf=NovaDtmf(enable=True, num_digits=4), history=[NovaHistoryTurn(role="user", content="hi")]
        ),
    )
    assert as_dicts == as_models
    assert isinstance(as_dicts.llm_options, NovaLlmOptions)
    assert dump(as_dicts)["llmOptions"] == {
        "dtmf": {"enable": True, "numDigits": 4},
        "history": [{"role": "user", "content": "hi"}],
    }


def test_vendor_keys_stay_as_the_vendor_spells_them() -> None:
    # The same Python name is snake_case in ElevenLabs' auth and camelCase in Voice Live's options.
    eleven = ElevenlabsS2s(auth={"agent_id": "a1"})
    assert dump(eleven)["auth"] == {"agent_id": "a1"}
    live = VoiceliveConnectOptions(host="h", agent_id="a1")
    assert dump(live) == {"host": "h", "agentId": "a1"}
    assert VoiceliveConnectOptions.model_validate({"host": "h", "agentId": "a1"}).agent_id == "a1"


def test_open_objects_keep_unknown_keys_verbatim() -> None:
    verb = QwenS2s(
        auth={"api_key": "k", "host": "ws-1.ap-southeast-1.maas.aliyuncs.com"},
        llm_options={"session_update": {"turn_detection": {"type": "semantic_vad"}}},
    )
    assert isinstance(verb.auth, LlmAuth)
    assert verb.auth.api_key == "k"
    assert dump(verb)["auth"] == {"apiKey": "k", "host": "ws-1.ap-southeast-1.maas.aliyuncs.com"}


def test_pinned_vendor() -> None:
    assert OpenaiS2s(llm_options={}).vendor == "openai"
    assert dump(UltravoxS2s(llm_options={}))["vendor"] == "ultravox"
    for model, vendor in VENDORS.items():
        data = {**BASE[model], "vendor": vendor}
        assert dump(model.model_validate(data))["vendor"] == vendor
        with pytest.raises(ValidationError):
            model.model_validate({**data, "vendor": "acme"})
        assert errors(model.schema_id, {**data, "vendor": "acme"}) != []


# --- hooks inside the AI verbs are resolved like any other -------------------------------------------


def test_hooks_are_resolved_against_the_mount_prefix() -> None:
    async def tools() -> None: ...

    context = HookContext(prefix="/voice", paths={tools: "/tools"})
    verb = Llm(
        vendor="openai",
        llm_options={"messages": [SYSTEM]},
        action_hook="/done",
        tool_hook=tools,
        handoff=Handoff(mode="blind", target=[TARGET], action_hook="/handoff"),
    )
    data = on_the_wire(verb, context)
    assert data["actionHook"] == "/voice/done"
    assert data["toolHook"] == "/voice/tools"
    assert data["handoff"]["actionHook"] == "/voice/handoff"
    agent = on_the_wire(Agent(tool_hook=tools, event_hook="https://hooks.example.com/ev"), context)
    assert agent == {"verb": "agent", "toolHook": "/voice/tools", "eventHook": "https://hooks.example.com/ev"}


# --- what must be rejected ------------------------------------------------------------------------------

DELETE = object()


def changed(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` set to ``value`` (or removed, for DELETE)."""
    result = copy.deepcopy(data)
    node: Any = result
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result


REQUIRED = [(model, name) for model in VERBS for name in sorted(required(model.schema_id))]


def test_required_names_are_the_expected_ones() -> None:
    assert {f"{model.verb_name}.{name}" for model, name in REQUIRED} == {
        "llm.vendor",
        "llm.llmOptions",
        "s2s.vendor",
        "s2s.llmOptions",
        "openai_s2s.llmOptions",
        "google_s2s.llmOptions",
        "deepgram_s2s.llmOptions",
        "ultravox_s2s.llmOptions",
        "qwen_s2s.llmOptions",
        "elevenlabs_s2s.auth",
        "gptlive_s2s.auth",
        "gptlive_s2s.llmOptions",
        "nova_s2s.auth",
        "voicelive_s2s.auth",
        "voicelive_s2s.connectOptions",
        "voicelive_s2s.llmOptions",
        "dialogflow.project",
        "dialogflow.credentials",
        "dialogflow.lang",
    }


@pytest.mark.parametrize(("model", "name"), REQUIRED, ids=[f"{m.verb_name}-{n}" for m, n in REQUIRED])
def test_missing_required_field_is_rejected(model: type[Verb], name: str) -> None:
    data = changed(BASE[model], (name,), DELETE)
    assert errors(model.schema_id, data) != []
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize("model", VERBS, ids=[m.verb_name for m in VERBS])
def test_typo_is_rejected(model: type[Verb]) -> None:
    # Stricter than the schemas, which mostly allow unknown keys: a typo must fail when building.
    with pytest.raises(ValidationError):
        model.model_validate({**BASE[model], "actionHoook": "/x"})
    with pytest.raises(ValidationError):
        model.model_validate({**BASE[model], "action_hoook": "/x"})


# (model, path, value): each JSON is invalid per the official schema and must fail in the model.
INVALID: list[tuple[type[Verb], tuple[str | int, ...], Any]] = [
    # llm-base fields
    (Llm, ("vendor",), 5),
    (Llm, ("llmOptions",), "be nice"),
    (Llm, ("auth", "apiKey"), 5),
    (Llm, ("responseTimeoutMs",), 0),
    (Llm, ("responseTimeoutMs",), 1.5),
    (Llm, ("cancelOnBargeIn",), 2),
    (Llm, ("events",), "all"),
    (Llm, ("mcpServers", 0, "url"), DELETE),
    (Llm, ("mcpServers", 0, "roots"), "none"),
    (Llm, ("hangup", "reason"), 5),
    (Llm, ("hangup", "message"), "bye"),
    # handoff (with transferOptions)
    (Llm, ("handoff", "mode"), "cold"),
    (Llm, ("handoff", "mode"), DELETE),
    (Llm, ("handoff", "target"), []),
    (Llm, ("handoff", "target"), DELETE),
    (Llm, ("handoff", "brief"), "short"),
    (Llm, ("handoff", "brief"), {}),
    (Llm, ("handoff", "brief", "tone"), "warm"),
    (Llm, ("handoff", "briefSynthesizer"), {"voice": "x"}),
    (Llm, ("handoff", "toolName"), 3),
    (Llm, ("handoff", "disposition", "voicemailUrl"), DELETE),
    (S2s, ("vendor",), None),
    # shortcuts
    (OpenaiS2s, ("vendor",), "google"),
    (GoogleS2s, ("llmOptions",), []),
    (DeepgramS2s, ("vendor",), "deepgramflux"),
    (ElevenlabsS2s, ("auth", "agent_id"), DELETE),
    (ElevenlabsS2s, ("auth", "agent_id"), 7),
    (ElevenlabsS2s, ("llmOptions", "input_sample_rate"), 8000.5),
    (ElevenlabsS2s, ("llmOptions", "conversation_initiation_client_data"), "x"),
    (GptliveS2s, ("auth", "apiKey"), ""),
    (GptliveS2s, ("auth", "apiKey"), DELETE),
    (GptliveS2s, ("llmOptions", "session_update"), DELETE),
    (GptliveS2s, ("llmOptions", "session_update", "model"), "gpt-live-1"),
    (GptliveS2s, ("llmOptions", "session_update", "delegation", "type"), "server"),
    (GptliveS2s, ("llmOptions", "session_update", "delegation", "responses"), DELETE),
    (GptliveS2s, ("llmOptions", "session_update", "delegation", "responses", "model"), DELETE),
    (GptliveS2s, ("llmOptions", "session_update", "delegation", "tools"), [WEATHER_TOOL]),
    (GptliveS2s, ("llmOptions", "session_update", "delegation", "type"), "client"),
    (GptliveS2s, ("llmOptions", "session_update", "delegation"), DELETE),
    (QwenS2s, ("model",), 3.5),
    (NovaS2s, ("auth", "secretAccessKey"), DELETE),
    (NovaS2s, ("auth", "accessKeyId"), ""),
    (NovaS2s, ("llmOptions", "history", 0, "role"), "system"),
    (NovaS2s, ("llmOptions", "history", 0, "content"), DELETE),
    (NovaS2s, ("llmOptions", "dtmf", "enable"), DELETE),
    (NovaS2s, ("llmOptions", "dtmf", "maxDigits"), "six"),
    (NovaS2s, ("llmOptions", "sessionStart"), "LOW"),
    (VoiceliveS2s, ("auth", "accessToken"), DELETE),
    (VoiceliveS2s, ("auth", "accessToken"), ""),
    (VoiceliveS2s, ("connectOptions", "host"), DELETE),
    (VoiceliveS2s, ("llmOptions", "response_create"), DELETE),
    (VoiceliveS2s, ("llmOptions", "session_update"), DELETE),
    # agent
    (Agent, ("stt", "vendor"), DELETE),
    (Agent, ("autoLockLanguage",), "sometimes"),
    (Agent, ("languageConfig", "es", "voice"), "x"),
    (Agent, ("turnDetection",), "vad"),
    (Agent, ("turnDetection", "threshold"), 1.5),
    (Agent, ("turnDetection", "mode"), DELETE),
    (Agent, ("turnDetection", "mode"), "stt"),
    (Agent, ("turnDetection", "bogus"), 1),
    (Agent, ("bargeIn", "strategy"), "energy"),
    (Agent, ("bargeIn", "threshold"), -0.1),
    (Agent, ("bargeIn", "minSpeechDuration"), -1),
    (Agent, ("noResponseTimeout",), -1),
    (Agent, ("noResponseMaxPrompts",), -1),
    (Agent, ("noResponseMaxPrompts",), 1.5),
    (Agent, ("llm", "temperature"), 0.5),
    (Agent, ("llm", "connectOptions", "maxRetries"), -1),
    (Agent, ("llm", "connectOptions", "timeout"), -1),
    (Agent, ("llm", "connectOptions", "baseUrl"), "https://typo.example"),
    (Agent, ("llm", "llmOptions", "maxTokens"), 0),
    (Agent, ("llm", "llmOptions", "temperature"), -0.1),
    (Agent, ("llm", "llmOptions", "reasoningEffort"), "max"),
    (Agent, ("llm", "llmOptions", "messages", 0, "role"), "bot"),
    (Agent, ("llm", "llmOptions", "messages", 0, "content"), DELETE),
    (Agent, ("llm", "llmOptions", "prompt"), "x"),
    (Agent, ("noiseIsolation",), "dolby"),
    (Agent, ("noiseIsolation", "mode"), DELETE),
    (Agent, ("noiseIsolation", "level"), 101),
    (Agent, ("noiseIsolation", "direction"), "both"),
    (Agent, ("toolFiller",), True),
    (Agent, ("toolFiller", "type"), "music"),
    (Agent, ("toolFiller", "type"), "audio"),
    (Agent, ("toolFiller", "startDelaySecs"), -1),
    (Agent, ("toolFiller", "escalationSecs"), -2),
    (Agent, ("mcpServers", 0, "url"), DELETE),
    (Agent, ("handoff", "target"), []),
    (Agent, ("hangup", "reason"), ["a"]),
    (Agent, ("greeting",), "hello"),
    # dialogflow
    (Dialogflow, ("model",), "v3"),
    (Dialogflow, ("sessionId",), "has space"),
    (Dialogflow, ("sessionId",), "x" * 201),
    (Dialogflow, ("credentials",), 5),
    (Dialogflow, ("queryInput", "txt"), "hi"),
    (Dialogflow, ("noInputTimeout",), "soon"),
    (Dialogflow, ("tts",), {"language": "en-GB"}),
    (Dialogflow, ("events",), [1]),
]


@pytest.mark.parametrize(
    ("model", "path", "value"),
    INVALID,
    ids=[f"{m.verb_name}-{'.'.join(map(str, p))}" for m, p, _ in INVALID],
)
def test_invalid_json_is_rejected_like_the_schema_does(
    model: type[Verb], path: tuple[str | int, ...], value: Any
) -> None:
    data = changed(BASE[model], path, value)
    assert errors(model.schema_id, data) != []
    with pytest.raises(ValidationError):
        model.model_validate(data)


# (model, path, value): valid variants, per the schema and the model, mostly other branches of a rule.
VALID: list[tuple[type[Verb], tuple[str | int, ...], Any]] = [
    (Llm, ("handoff", "disposition"), {"onBusy": "hangup"}),
    (Llm, ("handoff", "brief"), "auto"),
    (Llm, ("mcpServers",), []),
    (ElevenlabsS2s, ("llmOptions",), DELETE),
    (ElevenlabsS2s, ("auth", "api_key"), DELETE),
    (NovaS2s, ("llmOptions",), DELETE),
    (VoiceliveS2s, ("auth",), {"apiKey": "k"}),
    (VoiceliveS2s, ("auth",), {"apiKey": "k", "accessToken": "t"}),
    (Agent, ("autoLockLanguage",), True),
    (Agent, ("autoLockLanguage",), False),
    (Agent, ("turnDetection",), "krisp"),
    (Agent, ("noiseIsolation",), "rnnoise"),
    (Agent, ("toolFiller",), False),
    (Agent, ("toolFiller",), {"type": "audio", "url": "https://cdn.example.com/typing.wav"}),
    (Agent, ("bargeIn", "customKnob"), 3),
    (Agent, ("llm", "llmOptions", "messages", 0, "content"), [{"type": "text", "text": "Hi"}]),
    (Dialogflow, ("credentials",), '{"type": "service_account"}'),
    (Dialogflow, ("sessionId",), "x" * 200),
]


@pytest.mark.parametrize(
    ("model", "path", "value"),
    VALID,
    ids=[f"{m.verb_name}-{'.'.join(map(str, p))}" for m, p, _ in VALID],
)
def test_valid_variants_are_accepted(model: type[Verb], path: tuple[str | int, ...], value: Any) -> None:
    data = changed(BASE[model], path, value)
    assert errors(model.schema_id, data) == []
    assert dump(model.model_validate(data)) == data


def test_gptlive_without_tools_needs_no_responses_delegation() -> None:
    data = changed(BASE[GptliveS2s], ("llmOptions", "session_update", "delegation"), {"type": "client"})
    for name in ("mcpServers", "hangup"):
        data = changed(data, (name,), DELETE)
    assert errors(GptliveS2s.schema_id, data) == []
    assert dump(GptliveS2s.model_validate(data)) == data
    for name, value in (
        ("handoff", {"mode": "blind", "target": [TARGET_JSON]}),
        ("hangup", {}),
        ("mcpServers", []),
    ):
        with_tool = {**data, name: value}
        assert errors(GptliveS2s.schema_id, with_tool) != []
        with pytest.raises(ValidationError, match="gptlive_s2s"):
            GptliveS2s.model_validate(with_tool)


RULES: list[tuple[str, Callable[[], object]]] = [
    ("voicelive_s2s: auth needs", lambda: VoiceliveAuth()),
    ("agent: tool_filler of type 'audio' needs url", lambda: ToolFiller(type="audio")),
    (
        "gptlive_s2s: delegation of type 'responses' needs responses",
        lambda: GptliveDelegation(type="responses"),
    ),
    ("voicemail", lambda: Handoff(mode="blind", target=[TARGET], disposition={"on_failure": "voicemail"})),
    (
        "gptlive_s2s: hangup need",
        lambda: GptliveS2s(auth={"api_key": "k"}, llm_options={"session_update": {}}, hangup={}),
    ),
]


@pytest.mark.parametrize(("message", "build"), RULES, ids=[message for message, _ in RULES])
def test_cross_field_errors_name_the_verb_and_fields(message: str, build: Callable[[], object]) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_python_side_types_and_bounds() -> None:
    with pytest.raises(ValidationError):
        Llm(vendor="openai", llm_options={}, response_timeout_ms=-5)
    with pytest.raises(ValidationError):
        Agent(turn_detection=AgentTurnDetection(mode="krisp", threshold=2))
    with pytest.raises(ValidationError):
        AgentNoiseIsolation(mode="krisp", level=-1)
    with pytest.raises(ValidationError):
        Dialogflow(credentials="{}", project="p", lang="en-US", model="dialogflow-es")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        NovaDtmf()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ElevenlabsAuth()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        McpServer()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        VoiceliveLlmOptions(session_update={})  # type: ignore[call-arg]
