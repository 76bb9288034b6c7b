"""Verbs that hand the call to an AI: ``llm``, ``s2s`` and its vendor shortcuts, ``agent``, ``dialogflow``.

Also the parts they share: :class:`LlmBase` (the fields of jambonz's ``components/llm-base``),
:class:`Handoff` (transfer to a human) and :class:`LlmHangup` (the hangup tool).
"""

from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..hooks import HookRef
from ..tools import Toolbox, vendor_key
from ._base import Component, JsonAny, JsonObject, Part, Verb, json_names
from .components import Number, Recognizer, Synthesizer
from .misc import TransferOptions

__all__ = [
    "Agent",
    "AgentBargeIn",
    "AgentLanguage",
    "AgentLlm",
    "AgentLlmConnectOptions",
    "AgentLlmOptions",
    "AgentNoiseIsolation",
    "AgentNoiseIsolationAuth",
    "AgentTurnDetection",
    "DeepgramS2s",
    "Dialogflow",
    "DialogflowQueryInput",
    "ElevenlabsAuth",
    "ElevenlabsLlmOptions",
    "ElevenlabsS2s",
    "GoogleS2s",
    "GptliveAuth",
    "GptliveDelegation",
    "GptliveLlmOptions",
    "GptliveResponses",
    "GptliveS2s",
    "GptliveSessionUpdate",
    "Handoff",
    "HandoffBrief",
    "Llm",
    "LlmAuth",
    "LlmBase",
    "LlmHangup",
    "LlmMessage",
    "McpServer",
    "NovaAuth",
    "NovaDtmf",
    "NovaHistoryTurn",
    "NovaLlmOptions",
    "NovaS2s",
    "OpenaiS2s",
    "QwenS2s",
    "S2s",
    "ToolFiller",
    "UltravoxS2s",
    "VoiceliveAuth",
    "VoiceliveConnectOptions",
    "VoiceliveLlmOptions",
    "VoiceliveS2s",
]

json_names(base_url="baseURL")

# Vendor option blocks that jambonz passes on to the vendor keep the vendor's snake_case keys
# (agent_id, session_update, ...). They get explicit aliases rather than json_names(): that
# registry is global, and agent_id is camelCase (agentId) in Voice Live's connectOptions.


class _Open(Component):
    """A component whose schema allows keys beyond the ones it names; those are kept verbatim."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------------------------------------
# Shared parts


class McpServer(Component):
    """An MCP server whose tools the model may call."""

    url: str
    auth: JsonObject | None = None
    roots: list[JsonObject] | None = None


class LlmHangup(Component):
    """Gives the model a hangup tool; ``reason`` is the X-Reason header used when the model names none."""

    schema_id: ClassVar[str] = "components/hangup"

    reason: str | None = None


class HandoffBrief(Component):
    """Guidance the model follows when it writes the summary spoken to the human taking over."""

    template: str


class Handoff(TransferOptions):
    """Gives the model a transfer-to-human tool and the transfer jambonz runs when it is called."""

    schema_id: ClassVar[str] = "components/handoff"

    brief: Literal["auto", "none"] | Part[HandoffBrief] | None = None
    brief_synthesizer: Part[Synthesizer] | None = None
    tool_name: str | None = None
    tool_description: str | None = None


class LlmAuth(_Open):
    """Credentials for the model vendor; vendor-specific keys are passed on as given."""

    api_key: str | None = None


class LlmBase(Component):
    """The fields ``llm``, ``s2s`` and every ``*_s2s`` shortcut share (``components/llm-base``).

    ``tools`` (a :class:`~jambonz_webhooks.tools.Toolbox`, never written itself) fills in the
    tools' schemas where the vendor reads them in ``llm_options`` and, unless one is given, the
    ``tool_hook``: the path the app serves the toolbox at for that vendor
    (:meth:`~jambonz_webhooks.JambonzApp.tool_hook`).
    """

    schema_id: ClassVar[str] = "components/llm-base"
    excluded_field_validators: ClassVar[frozenset[str]] = frozenset({"_fill_tools"})
    """Model validators that act on excluded fields only (see ``verbs/_wire.py``)."""

    id: str | None = None
    vendor: str | None = None
    model: str | None = None
    auth: Part[LlmAuth] | None = None
    connect_options: JsonObject | None = None
    llm_options: JsonObject | None = None
    mcp_servers: list[Part[McpServer]] | None = None
    action_hook: HookRef | None = None
    event_hook: HookRef | None = None
    tool_hook: HookRef | None = None
    handoff: Part[Handoff] | None = None
    hangup: Part[LlmHangup] | None = None
    events: list[str] | None = None
    response_timeout_ms: int | None = Field(default=None, ge=1)
    cancel_on_response_timeout: bool | None = None
    cancel_on_barge_in: bool | None = None
    tools: SkipJsonSchema[Toolbox | None] = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _fill_tools(self) -> Self:
        # Only a verb given tools= comes here with them: the wire form (verbs/_wire.py) takes no
        # excluded field, so such a verb is always validated by its model, and this runs.
        toolbox = self.tools
        if toolbox is None:
            return self
        vendor = vendor_key(self.vendor)  # a vendor jambonz runs no tools for is refused here
        if vendor != "elevenlabs":  # ElevenLabs reads tools from the agent's configuration
            options = self.llm_options
            if options is not None and not isinstance(options, dict):
                raise ValueError(f"{vendor}: tools= adds the tools to llm_options given as a dict only")
            self.llm_options = toolbox.llm_options(vendor, options)
        if self.tool_hook is None:
            self.tool_hook = toolbox.hook(vendor)
        return self


class _LlmVerb(Verb):
    """Puts ``verb`` ahead of the :class:`LlmBase` fields: pydantic orders fields by the reversed MRO."""

    verb: str


# ---------------------------------------------------------------------------------------------
# llm and s2s


class Llm(LlmBase, _LlmVerb):
    """Hold a voice conversation between the caller and a language model of ``vendor``.

    jambonz posts to ``action_hook`` when the conversation ends and to ``tool_hook`` when the
    model calls a tool.
    """

    schema_id: ClassVar[str] = "verbs/llm"

    verb_name: ClassVar[str] = "llm"
    verb: Literal["llm"] = "llm"
    vendor: str
    llm_options: JsonObject


class S2s(LlmBase, _LlmVerb):
    """The same as :class:`Llm` under its speech-to-speech name, written as ``{"verb": "s2s"}``."""

    schema_id: ClassVar[str] = "verbs/s2s"

    verb_name: ClassVar[str] = "s2s"
    verb: Literal["s2s"] = "s2s"
    vendor: str
    llm_options: JsonObject


class OpenaiS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with the OpenAI Realtime API; ``vendor`` is fixed to ``"openai"``."""

    schema_id: ClassVar[str] = "verbs/openai_s2s"

    verb_name: ClassVar[str] = "openai_s2s"
    verb: Literal["openai_s2s"] = "openai_s2s"
    vendor: Literal["openai"] = "openai"
    llm_options: JsonObject


class GoogleS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with a Google Gemini live model; ``vendor`` is fixed to ``"google"``."""

    schema_id: ClassVar[str] = "verbs/google_s2s"

    verb_name: ClassVar[str] = "google_s2s"
    verb: Literal["google_s2s"] = "google_s2s"
    vendor: Literal["google"] = "google"
    llm_options: JsonObject


class DeepgramS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with the Deepgram Voice Agent; ``llm_options`` holds its ``Settings`` object."""

    schema_id: ClassVar[str] = "verbs/deepgram_s2s"

    verb_name: ClassVar[str] = "deepgram_s2s"
    verb: Literal["deepgram_s2s"] = "deepgram_s2s"
    vendor: Literal["deepgram"] = "deepgram"
    llm_options: JsonObject


class UltravoxS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with an Ultravox model; ``vendor`` is fixed to ``"ultravox"``."""

    schema_id: ClassVar[str] = "verbs/ultravox_s2s"

    verb_name: ClassVar[str] = "ultravox_s2s"
    verb: Literal["ultravox_s2s"] = "ultravox_s2s"
    vendor: Literal["ultravox"] = "ultravox"
    llm_options: JsonObject


class QwenS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with an Alibaba Qwen Omni realtime model; ``vendor`` is fixed to ``"qwen"``."""

    schema_id: ClassVar[str] = "verbs/qwen_s2s"

    verb_name: ClassVar[str] = "qwen_s2s"
    verb: Literal["qwen_s2s"] = "qwen_s2s"
    vendor: Literal["qwen"] = "qwen"
    llm_options: JsonObject


# ---------------------------------------------------------------------------------------------
# elevenlabs_s2s


class ElevenlabsAuth(LlmAuth):
    """Which ElevenLabs agent to talk to; with ``api_key`` jambonz connects through a signed URL."""

    agent_id: str = Field(alias="agent_id")
    api_key: str | None = Field(default=None, alias="api_key")


class ElevenlabsLlmOptions(_Open):
    """Session options of an ElevenLabs conversation."""

    conversation_initiation_client_data: JsonObject | None = Field(
        default=None, alias="conversation_initiation_client_data"
    )
    input_sample_rate: int | None = Field(default=None, alias="input_sample_rate")
    output_sample_rate: int | None = Field(default=None, alias="output_sample_rate")


class ElevenlabsS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with an ElevenLabs Conversational AI agent, named by ``auth.agent_id``."""

    schema_id: ClassVar[str] = "verbs/elevenlabs_s2s"

    verb_name: ClassVar[str] = "elevenlabs_s2s"
    verb: Literal["elevenlabs_s2s"] = "elevenlabs_s2s"
    vendor: Literal["elevenlabs"] = "elevenlabs"
    auth: Part[ElevenlabsAuth]
    llm_options: Part[ElevenlabsLlmOptions] | None = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# gptlive_s2s


class GptliveAuth(LlmAuth):
    """The OpenAI API key GPT Live needs."""

    api_key: str = Field(min_length=1)


class GptliveResponses(_Open):
    """The Responses API turn a ``responses`` delegation runs: its model and function tools."""

    model: str
    tools: list[JsonObject] | None = None
    instructions: str | None = None


class GptliveDelegation(_Open):
    """How GPT Live hands off work: to the app as text (``client``) or to a Responses turn."""

    type: Literal["client", "responses"] | None = None
    responses: Part[GptliveResponses] | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.type == "responses" and self.responses is None:
            raise ValueError("gptlive_s2s: delegation of type 'responses' needs responses")
        if self.model_extra and "tools" in self.model_extra:
            raise ValueError("gptlive_s2s: delegation tools belong in delegation.responses.tools")
        return self


class GptliveSessionUpdate(_Open):
    """The first ``session.update`` sent to GPT Live; the model goes in the verb's ``model``."""

    delegation: Part[GptliveDelegation] | None = None

    @model_validator(mode="after")
    def _no_model(self) -> Self:
        if self.model_extra and "model" in self.model_extra:
            raise ValueError("gptlive_s2s: session_update takes no model; set the verb's model instead")
        return self


class GptliveLlmOptions(_Open):
    """Options of a GPT Live session: its opening ``session_update``."""

    session_update: Part[GptliveSessionUpdate] = Field(alias="session_update")


class GptliveS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with OpenAI's GPT Live API, a protocol apart from the Realtime API.

    Tools (``mcp_servers``, ``handoff``, ``hangup``) need a ``responses`` delegation with its model.
    """

    schema_id: ClassVar[str] = "verbs/gptlive_s2s"

    verb_name: ClassVar[str] = "gptlive_s2s"
    verb: Literal["gptlive_s2s"] = "gptlive_s2s"
    vendor: Literal["gptlive"] = "gptlive"
    auth: Part[GptliveAuth]
    llm_options: Part[GptliveLlmOptions]  # type: ignore[assignment]

    @model_validator(mode="after")
    def _tools_need_responses(self) -> Self:
        tools = [
            name
            for name, value in (
                ("handoff", self.handoff),
                ("hangup", self.hangup),
                ("mcp_servers", self.mcp_servers),
            )
            if value is not None
        ]
        if tools:
            options = self.llm_options
            update = options.session_update if isinstance(options, GptliveLlmOptions) else None
            delegation = update.delegation if isinstance(update, GptliveSessionUpdate) else None
            if not isinstance(delegation, GptliveDelegation) or delegation.type != "responses":
                raise ValueError(
                    f"gptlive_s2s: {', '.join(tools)} need llm_options.session_update.delegation "
                    "of type 'responses' (with responses.model)"
                )
        return self


# ---------------------------------------------------------------------------------------------
# nova_s2s


class NovaAuth(LlmAuth):
    """AWS credentials allowed to stream with Nova Sonic on Bedrock, and the region."""

    access_key_id: str = Field(min_length=1)
    secret_access_key: str = Field(min_length=1)
    session_token: str | None = None
    region: str | None = None


class NovaHistoryTurn(Component):
    """An earlier turn of the conversation, replayed to Nova before the audio starts."""

    role: Literal["user", "assistant", "USER", "ASSISTANT"]
    content: str


class NovaDtmf(Component):
    """Keypad entry for Nova, which has no DTMF: each completed entry is sent as a text turn."""

    enable: bool
    finish_on_key: str | None = None
    num_digits: Number | None = None
    min_digits: Number | None = None
    max_digits: Number | None = None
    inter_digit_timeout: Number | None = None
    timeout: Number | None = None


class NovaLlmOptions(_Open):
    """Options of a Nova Sonic session: prompts, history, greeting and event overrides."""

    system_prompt: str | None = None
    speech_prompt: str | None = None
    history: list[Part[NovaHistoryTurn]] | None = None
    greeting: str | None = None
    session_start: JsonObject | None = None
    prompt_start: JsonObject | None = None
    dtmf: Part[NovaDtmf] | None = None


class NovaS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with Amazon Nova Sonic on Bedrock; needs the mediajam media server."""

    schema_id: ClassVar[str] = "verbs/nova_s2s"

    verb_name: ClassVar[str] = "nova_s2s"
    verb: Literal["nova_s2s"] = "nova_s2s"
    vendor: Literal["nova"] = "nova"
    auth: Part[NovaAuth]
    llm_options: Part[NovaLlmOptions] | None = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# voicelive_s2s


class VoiceliveAuth(LlmAuth):
    """Azure Voice Live credentials: an API key or a Microsoft Entra ID access token."""

    api_key: str | None = Field(default=None, min_length=1)
    access_token: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.api_key is None and self.access_token is None:
            raise ValueError("voicelive_s2s: auth needs api_key or access_token")
        return self


class VoiceliveConnectOptions(_Open):
    """Where the Voice Live endpoint is: the Azure resource host and optional agent addressing."""

    host: str
    api_version: str | None = None
    agent_id: str | None = None
    project_id: str | None = None
    path: str | None = None


class VoiceliveLlmOptions(_Open):
    """The Voice Live session body and the first response request, both sent as given."""

    session_update: JsonObject = Field(alias="session_update")
    response_create: JsonObject = Field(alias="response_create")


class VoiceliveS2s(LlmBase, _LlmVerb):
    """Speech-to-speech with the Azure Voice Live API on the resource named in ``connect_options``."""

    schema_id: ClassVar[str] = "verbs/voicelive_s2s"

    verb_name: ClassVar[str] = "voicelive_s2s"
    verb: Literal["voicelive_s2s"] = "voicelive_s2s"
    vendor: Literal["voicelive"] = "voicelive"
    auth: Part[VoiceliveAuth]
    connect_options: Part[VoiceliveConnectOptions]  # type: ignore[assignment]
    llm_options: Part[VoiceliveLlmOptions]  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# agent


class AgentLanguage(Component):
    """Speech settings the agent switches to when the caller is heard speaking one language."""

    tts: Part[Synthesizer] | None = None


class AgentTurnDetection(Component):
    """Krisp end-of-turn detection with its threshold."""

    mode: Literal["krisp"]
    threshold: Number | None = Field(default=None, ge=0, le=1)
    model: str | None = None


class AgentBargeIn(_Open):
    """Whether and how the caller can interrupt the agent while it speaks."""

    enable: bool | None = None
    strategy: Literal["vad", "interruptPrediction"] | None = None
    vendor: str | None = None
    threshold: Number | None = Field(default=None, ge=0, le=1)
    min_speech_duration: Number | None = Field(default=None, ge=0)
    sticky: bool | None = None


class AgentLlmConnectOptions(Component):
    """Client options of the LLM SDK: timeout, retries, endpoint."""

    timeout: Number | None = Field(default=None, ge=0)
    max_retries: int | None = Field(default=None, ge=0)
    endpoint: str | None = None
    base_url: str | None = None


class LlmMessage(_Open):
    """A message of the conversation history given to the model."""

    role: Literal["system", "user", "assistant", "tool"]
    content: JsonAny


class AgentLlmOptions(Component):
    """Per-call settings of the agent's model: prompt, history, limits, tools."""

    system_prompt: str | None = None
    messages: list[Part[LlmMessage]] | None = None
    initial_messages: list[Part[LlmMessage]] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: Number | None = Field(default=None, ge=0)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    tools: list[JsonObject] | None = None


class AgentLlm(Component):
    """The model behind an agent; what is left out falls back to the application's default LLM."""

    vendor: str | None = None
    model: str | None = None
    label: str | None = None
    auth: Part[LlmAuth] | None = None
    connect_options: Part[AgentLlmConnectOptions] | None = None
    llm_options: Part[AgentLlmOptions] | None = None


class AgentNoiseIsolationAuth(_Open):
    """Inline credentials of a noise isolation vendor that needs them."""

    api_key: str | None = None
    api_uri: str | None = None


class AgentNoiseIsolation(Component):
    """Noise isolation on the agent's call audio, with its vendor and level."""

    mode: str
    label: str | None = None
    auth: Part[AgentNoiseIsolationAuth] | None = None
    level: Number | None = Field(default=None, ge=0, le=100)
    direction: Literal["read", "write"] | None = None
    model: str | None = None


class ToolFiller(Component):
    """What the caller hears while a tool call runs: looping audio or short spoken phrases."""

    type: Literal["audio", "backchannel"]
    start_delay_secs: Number | None = Field(default=None, ge=0)
    url: str | None = None
    style: str | None = None
    escalation_secs: Number | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _audio_needs_url(self) -> Self:
        if self.type == "audio" and self.url is None:
            raise ValueError("agent: tool_filler of type 'audio' needs url")
        return self


class Agent(Verb):
    """Run a voice agent that chains speech-to-text, an LLM and text-to-speech with turn-taking.

    jambonz posts to ``action_hook`` when the agent ends, to ``tool_hook`` for tool calls and
    to ``event_hook`` for each turn's events.
    """

    schema_id: ClassVar[str] = "verbs/agent"

    verb_name: ClassVar[str] = "agent"
    verb: Literal["agent"] = "agent"
    id: str | None = None
    stt: Part[Recognizer] | None = None
    tts: Part[Synthesizer] | None = None
    auto_lock_language: bool | Literal["always"] | None = None
    language_config: dict[str, Part[AgentLanguage]] | None = None
    turn_detection: Literal["stt", "krisp"] | Part[AgentTurnDetection] | None = None
    barge_in: Part[AgentBargeIn] | None = None
    no_response_timeout: Number | None = Field(default=None, ge=0)
    no_response_max_prompts: int | None = Field(default=None, ge=0)
    llm: Part[AgentLlm] | None = None
    action_hook: HookRef | None = None
    event_hook: HookRef | None = None
    tool_hook: HookRef | None = None
    greeting: bool | None = None
    early_generation: bool | None = None
    speak: bool | None = None
    speech_cleanup: bool | None = None
    noise_isolation: Literal["krisp", "rnnoise", "kugelaudio"] | Part[AgentNoiseIsolation] | None = None
    mcp_servers: list[Part[McpServer]] | None = None
    handoff: Part[Handoff] | None = None
    hangup: Part[LlmHangup] | None = None
    tool_filler: Literal[False] | Part[ToolFiller] | None = None


# ---------------------------------------------------------------------------------------------
# dialogflow


class DialogflowQueryInput(Component):
    """The first query sent to Dialogflow: text, an intent, an event or DTMF."""

    text: str | None = None
    intent: str | None = None
    event: str | None = None
    dtmf: str | None = None


class Dialogflow(Verb):
    """Connect the caller to a Google Dialogflow agent (ES, CX or CES).

    jambonz posts to ``action_hook`` when the session ends and to ``event_hook`` for its events.
    """

    schema_id: ClassVar[str] = "verbs/dialogflow"

    verb_name: ClassVar[str] = "dialogflow"
    verb: Literal["dialogflow"] = "dialogflow"
    id: str | None = None
    credentials: JsonObject | str
    project: str
    agent: str | None = None
    environment: str | None = None
    deployment: str | None = None
    region: str | None = None
    model: Literal["es", "cx", "ces"] | None = None
    lang: str
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,200}$")
    action_hook: HookRef | None = None
    event_hook: HookRef | None = None
    tool_hook: HookRef | None = None
    events: list[str] | None = None
    welcome_event: str | None = None
    welcome_event_params: JsonObject | None = None
    no_input_timeout: Number | None = None
    no_input_event: str | None = None
    pass_dtmf_as_text_input: bool | None = None
    thinking_music: str | None = None
    tts: Part[Synthesizer] | None = None
    bargein: bool | None = None
    query_input: Part[DialogflowQueryInput] | None = None
