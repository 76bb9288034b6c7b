"""Conference: callers join a named conference by PIN; the host starts it and ends it.

The call hook asks for a PIN. The host's PIN joins with ``start_conference_on_enter`` and
``end_conference_on_exit``: the conference starts when the host joins and ends when the host
leaves. A participant's PIN joins with ``start_conference_on_enter=False``: until the host is
there, jambonz asks the ``wait_hook`` what the participant hears (say, play and pause only) and
asks again each time it has played. The ``status_hook`` receives the events named in
``status_events`` (jambonz keeps those of the call that started the conference) and keeps a
count of who is in each conference; the ``action_hook`` runs when a participant's conference
is over.

Serve it with ``uvicorn examples.cookbook.conference:app``; the call hook is ``/incoming``.
"""

from __future__ import annotations

import logging

from jambonz_webhooks import (
    ConferenceResult,
    ConferenceStatus,
    ConferenceWait,
    GatherResult,
    JambonzApp,
    WebhookResponse,
)

app = JambonzApp()
logger = logging.getLogger("examples.cookbook.conference")

ROOM = "weekly-review"
HOST_PIN, GUEST_PIN = "1234", "5678"
HOLD_MUSIC = "https://example.com/audio/hold-music.mp3"
MEMBERS: dict[str, int] = {}
"""Participants in each conference, by name, from its status events."""


@app.call_hook("/incoming")
async def incoming() -> WebhookResponse:
    """Ask for the PIN."""
    return WebhookResponse().gather(
        input=["digits"],
        num_digits=4,
        timeout=10,
        action_hook=pin,
        say={"text": "Welcome to the Acme conference line. Please enter your PIN."},
    )


@app.action_hook("/pin")
async def pin(result: GatherResult) -> WebhookResponse:
    """Join as the host, join as a participant, or be turned away."""
    if not result.digits:
        return WebhookResponse().say(text="We did not get a PIN. Goodbye.").hangup()
    if result.digits == HOST_PIN:
        return join(WebhookResponse().say(text="Welcome, host. The conference starts now."), host=True)
    if result.digits == GUEST_PIN:
        return join(WebhookResponse().say(text="Thank you. Joining the conference."), host=False)
    return WebhookResponse().say(text="That PIN is not valid. Goodbye.").hangup()


def join(response: WebhookResponse, *, host: bool) -> WebhookResponse:
    """Into the conference: the host starts it and ends it; a participant waits for the host."""
    return response.conference(
        name=ROOM,
        beep=True,
        start_conference_on_enter=host,
        end_conference_on_exit=host,
        wait_hook=None if host else waiting,
        status_hook=conference_event,
        status_events=["start", "end", "join", "leave"],
        action_hook=conference_over,
    )


@app.action_hook("/waiting")
async def waiting(wait: ConferenceWait) -> WebhookResponse:
    """What a participant hears until the host joins (jambonz plays it, then asks again)."""
    return WebhookResponse().say(text="The host has not joined yet. Please hold.").play(url=HOLD_MUSIC)


@app.action_hook("/conference-event")
async def conference_event(event: ConferenceStatus) -> None:
    """Count the participants of each conference; jambonz does not read the answer."""
    name = event.friendly_name or event.conference_sid
    if event.event == "end":
        MEMBERS.pop(name, None)
    elif event.members is not None:
        MEMBERS[name] = event.members
    logger.info("conference %s: %s (%s members)", name, event.event, event.members)


@app.action_hook("/conference-over")
async def conference_over(result: ConferenceResult) -> WebhookResponse:
    """The participant is out of the conference (it ended): say goodbye."""
    return WebhookResponse().say(text="The conference has ended. Goodbye.").hangup()
