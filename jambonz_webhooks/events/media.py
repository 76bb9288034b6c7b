"""Payloads of ``play``, ``listen`` and ``message``."""

from typing import ClassVar, Literal

from ..payload import CallInfo

__all__ = ["ListenResult", "MessageResult", "MessageStatus", "PlayReason", "PlayResult"]

PlayReason = Literal["playCompleted", "playFailed"]
MessageStatus = Literal["success", "failure", "no carriers", "smpp configuration error", "system error"]


class PlayResult(CallInfo):
    """The outcome of a ``play``: how much was played, or that it failed."""

    schema_id: ClassVar[str] = "callbacks/play"

    reason: PlayReason | str
    playback_seconds: int | None = None
    playback_milliseconds: int | None = None
    playback_last_offset_pos: str | None = None
    status: Literal["fail"] | str | None = None


class ListenResult(CallInfo):
    """The end of a ``listen`` (or ``stream``)."""

    schema_id: ClassVar[str] = "callbacks/listen"

    dial_call_duration: int | None = None
    """Seconds the audio was streamed, when recording."""
    digits: str | None = None
    """The ``finishOnKey`` digit that ended it, if one did."""


class MessageResult(CallInfo):
    """How sending an SMS with ``message`` went."""

    schema_id: ClassVar[str] = "callbacks/message"

    message_sid: str
    message_status: MessageStatus | str
    carrier: str | None = None
    carrier_message_id: str | None = None
    message_failure_reason: str | None = None
