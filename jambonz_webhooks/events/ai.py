"""Payloads of the AI verbs: the end of an ``llm`` session, agent turns, TTS streaming events."""

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from ..payload import CallInfo
from ._base import Detail, WithoutCallInfo

__all__ = [
    "AgentEventType",
    "AgentLatency",
    "AgentPreflight",
    "AgentTurn",
    "LlmCompletionReason",
    "LlmEvent",
    "LlmResult",
    "LlmToolCall",
    "PreflightResult",
    "TokensResult",
    "ToolFunctionCall",
    "TtsStreamingEvent",
    "TtsStreamingEventType",
    "forwarded_tool_output",
]

LlmCompletionReason = Literal[
    "normal conversation end",
    "connection failure",
    "disconnect from remote end",
    "server failure",
    "server error",
    "client error calling function",
    "client error calling mcp function",
]
AgentEventType = Literal["turn_end", "user_transcript", "llm_response", "user_interruption"]
PreflightResult = Literal["hit", "miss", "pending"]
TtsStreamingEventType = Literal[
    "stream_open", "stream_closed", "stream_paused", "stream_resumed", "user_interruption", "tts_spoken"
]


class LlmResult(CallInfo):
    """The end of an ``llm`` (or ``*_s2s``) session, and why it ended."""

    schema_id: ClassVar[str] = "callbacks/llm"

    completion_reason: LlmCompletionReason | str
    error: Any = None
    """What went wrong, when the session ended in failure; its shape depends on the vendor."""


class AgentPreflight(Detail):
    """How the agent's early generation fared in a turn."""

    result: PreflightResult | str | None = None
    tokens: int | None = None
    """Tokens generated early; on a ``hit`` only."""


class AgentLatency(Detail):
    """Where the milliseconds of a turn went; a stage that did not apply is absent."""

    transcriber_latency: int | None = None
    turn_detection_latency: int | None = None
    model_latency: int | None = None
    voice_latency: int | None = None
    preflight: AgentPreflight | None = None


class AgentTurn(WithoutCallInfo):
    """An event of an ``agent`` conversation (its ``eventHook``); which fields come depends on ``type``.

    ``turn_end`` brings the transcript, the response, ``interrupted`` and ``latency``;
    ``user_transcript`` the transcript; ``llm_response`` the response; ``user_interruption`` nothing.
    """

    schema_id: ClassVar[str] = "callbacks/agent-turn"

    type: AgentEventType | str
    transcript: str | None = None
    response: str | None = None
    interrupted: bool | None = None
    latency: AgentLatency | None = None


class TtsStreamingEvent(WithoutCallInfo):
    """An event of streamed text-to-speech; ``tts_spoken`` tells what was actually said."""

    schema_id: ClassVar[str] = "callbacks/tts-streaming-event"

    event_type: TtsStreamingEventType | str
    text: str | None = None
    bargein: bool | None = None
    """True when the caller cut the speech short."""


class TokensResult(WithoutCallInfo):
    """``tts:tokens-result``: jambonz's answer to streamed text (``tts:tokens``).

    ``status`` is ``ok``, or ``failed`` with a ``reason`` (``full``: wait for the
    ``stream_resumed`` event and send the text again). fs 0.9.8 answers without a status when
    the call runs no TTS stream.
    """

    id: int | str | None = None
    status: Literal["ok", "failed"] | str | None = None
    reason: str | None = None


class ToolFunctionCall(Detail):
    """One function a Gemini model asks for, in a ``google`` tool call's ``function_calls``."""

    id: str | None = None
    name: str | None = None
    args: Any = None


class LlmToolCall(WithoutCallInfo):
    """A model asks for a tool: the ``toolHook``'s payload (fs 0.9.8 lib/tasks/llm/index.js).

    The same body over both transports: a POST to the toolHook over HTTP, the data of an
    ``llm:tool-call`` message over WebSocket. It carries no call fields at all (``call_sid`` is
    None over HTTP), only ``{tool_call_id, ...}`` and the vendor's data: ``name`` and ``args``
    (openai, microsoft, ultravox, elevenlabs, deepgram); for google ``type`` ``toolCall`` and
    ``function_calls`` (several at once, ``tool_call_id`` then ``function_call_id``). ``args``
    keeps its keys as the model wrote them (jambonz does not snake-case it).

    Over HTTP the answer is the tool output as JSON, which jambonz hands to the vendor as
    :func:`forwarded_tool_output` says; over WebSocket it is ``CallControl.tool_output(tool_call_id,
    output)``. A :class:`~jambonz_webhooks.tools.Toolbox` served with ``app.tool_hook`` does all
    of it. (The fact sheet's docs call the id ``call_id``; the server sends ``tool_call_id``.)
    """

    tool_call_id: str
    name: str | None = None
    args: Any = None
    type: str | None = None
    """``toolCall`` for google; absent for the other vendors."""
    function_calls: list[ToolFunctionCall] | None = None
    """google's functions, when it asks for several at once."""

    @property
    def calls(self) -> tuple[ToolFunctionCall, ...]:
        """Every function asked for, whatever the vendor.

        google's ``function_calls``, or else the one ``name`` and ``args`` (``tool_call_id`` its id).
        """
        if self.function_calls is not None:
            return tuple(self.function_calls)
        return (ToolFunctionCall(id=self.tool_call_id, name=self.name, args=self.args),)


def forwarded_tool_output(answer: Mapping[str, Any], tool_call_id: str) -> dict[str, Any]:
    """What jambonz hands the vendor's adapter for a tool hook's HTTP answer ``answer``.

    An answer with a ``type`` goes as it is (openai's ``conversation.item.create``); one without
    gets ``type: "client_tool_result"`` and ``invocation_id: tool_call_id`` added, Ultravox's
    envelope (fs 0.9.8 lib/tasks/llm/index.js ``sendToolHook``). The adapters of google,
    elevenlabs and deepgram read their own keys (``toolResponse``, ``data``) and ignore the two.
    """
    forwarded = dict(answer)
    if not forwarded.get("type"):
        forwarded["type"] = "client_tool_result"
        forwarded["invocation_id"] = tool_call_id
    return forwarded


class LlmEvent(WithoutCallInfo):
    """``llm:event``: an event of the running LLM verb, in its vendor's own shape.

    The vendor's keys are kept as they are (``type`` names the event for most vendors); read
    them with ``event.model_extra`` or ask for the raw payload (``dict``).
    """

    type: str | None = None
