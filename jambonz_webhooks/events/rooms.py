"""Payloads of ``enqueue``, ``dequeue`` and ``conference``."""

from datetime import datetime
from typing import ClassVar, Literal

from ..payload import CallInfo
from ._base import Number, WithoutCallInfo

__all__ = [
    "ConferenceEventName",
    "ConferenceResult",
    "ConferenceStatus",
    "ConferenceWait",
    "DequeueOutcome",
    "DequeueResult",
    "EnqueueResult",
    "EnqueueWait",
    "QueueOutcome",
]

QueueOutcome = Literal["bridged", "hangup", "leave", "error"]
DequeueOutcome = Literal["complete", "timeout", "hangup"]
ConferenceEventName = Literal["start", "end", "join", "leave", "start-talking", "stop-talking"]


class EnqueueResult(CallInfo):
    """The outcome of an ``enqueue``: bridged to an agent, hung up, left, or failed."""

    schema_id: ClassVar[str] = "callbacks/enqueue"

    queue_sid: str
    queue_time: int
    """Seconds spent in the queue."""
    queue_result: QueueOutcome | str


class EnqueueWait(WithoutCallInfo):
    """A caller waiting in a queue (the ``waitHook`` of ``enqueue``); answer with what they hear.

    jambonz sends the queue's figures, ``call_sid``, ``call_id`` and ``customerData`` only.
    """

    schema_id: ClassVar[str] = "callbacks/enqueue-wait"

    queue_sid: str
    queue_time: int
    queue_size: int | None = None
    queue_position: int | None = None
    """The caller's place in the queue, from 0."""


class DequeueResult(CallInfo):
    """The outcome of a ``dequeue``: bridged to a queued caller, nobody in the queue, or hung up."""

    schema_id: ClassVar[str] = "callbacks/dequeue"

    dequeue_result: DequeueOutcome | str


class ConferenceResult(CallInfo):
    """The participant left the ``conference``, or it ended (the call information only)."""

    schema_id: ClassVar[str] = "callbacks/conference"


class ConferenceWait(CallInfo):
    """A participant waits for the conference to start; answer with what they hear meanwhile."""

    schema_id: ClassVar[str] = "callbacks/conference-wait"


class ConferenceStatus(CallInfo):
    """Something happened in a conference (start, end, join, leave, talking), for its ``statusHook``."""

    schema_id: ClassVar[str] = "callbacks/conference-status"

    event: ConferenceEventName | str
    conference_sid: str
    friendly_name: str | None = None
    duration: Number | None = None
    """Seconds since the conference started."""
    members: int | None = None
    time: datetime | None = None
