"""Verbs that put the caller with others: ``conference``/``room``, ``enqueue``, ``dequeue``, ``leave``."""

from typing import ClassVar, Literal

from ..hooks import HookRef
from ._base import JsonObject, Verb
from .components import Number

__all__ = ["Conference", "Dequeue", "Enqueue", "Leave", "Room"]


class _ConferenceBase(Verb):
    """The fields ``conference`` and ``room`` share (the official room schema refers to conference's)."""

    # Declared here, narrowed by each subclass, so that "verb" stays the first key written.
    verb: Literal["conference", "room"]
    id: str | None = None
    name: str
    beep: bool | None = None
    member_tag: str | None = None
    speak_only_to: str | None = None
    start_conference_on_enter: bool | None = None
    end_conference_on_exit: bool | None = None
    end_conference_duration: Number | None = None
    max_participants: Number | None = None
    join_muted: bool | None = None
    action_hook: HookRef | None = None
    wait_hook: HookRef | None = None
    status_events: list[str] | None = None
    status_hook: HookRef | None = None
    enter_hook: HookRef | None = None
    # record/listen/stream are free-form objects in the conference schema.
    record: JsonObject | None = None
    listen: JsonObject | None = None
    stream: JsonObject | None = None
    distribute_dtmf: bool | None = None


class Conference(_ConferenceBase):
    """Join the caller to a named multi-party conference, written as ``{"verb": "conference"}``.

    jambonz posts to ``action_hook`` when this participant leaves, to ``wait_hook`` while the
    conference has not started, and conference events to ``status_hook``.
    """

    schema_id: ClassVar[str] = "verbs/conference"

    verb_name: ClassVar[str] = "conference"
    verb: Literal["conference"] = "conference"


class Room(_ConferenceBase):
    """The same as :class:`Conference` under jambonz's newer name, written as ``{"verb": "room"}``."""

    schema_id: ClassVar[str] = "verbs/room"

    verb_name: ClassVar[str] = "room"
    verb: Literal["room"] = "room"


class Enqueue(Verb):
    """Put the caller in a named queue until another call dequeues them.

    ``wait_hook`` supplies what the caller hears while waiting; ``action_hook`` is called when
    they leave the queue.
    """

    schema_id: ClassVar[str] = "verbs/enqueue"

    verb_name: ClassVar[str] = "enqueue"
    verb: Literal["enqueue"] = "enqueue"
    id: str | None = None
    name: str
    action_hook: HookRef | None = None
    wait_hook: HookRef | None = None
    priority: Number | None = None


class Dequeue(Verb):
    """Take a caller out of a named queue (the next one, or ``call_sid``) and bridge them to this call."""

    schema_id: ClassVar[str] = "verbs/dequeue"

    verb_name: ClassVar[str] = "dequeue"
    verb: Literal["dequeue"] = "dequeue"
    id: str | None = None
    name: str
    action_hook: HookRef | None = None
    timeout: Number | None = None
    beep: bool | None = None
    call_sid: str | None = None


class Leave(Verb):
    """Take the caller out of the conference or queue they are in; the verb list then carries on."""

    schema_id: ClassVar[str] = "verbs/leave"

    verb_name: ClassVar[str] = "leave"
    verb: Literal["leave"] = "leave"
    id: str | None = None
