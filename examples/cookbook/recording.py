"""Call recording: SIPREC with the caller's consent, paused while they key in a card number.

jambonz records by SIPREC: it sends the call's audio to a recording server (an SRS) of yours.
The ``config`` verb's ``record`` starts, pauses, resumes and stops it from the verbs; the same
actions go from anywhere else through the REST API (``calls.update(sid, record=...)``), which
:class:`~jambonz_webhooks.CallControl` sends for a hook (over the WebSocket API, as the
``record`` command).

The caller hears the consent announcement and chooses; with their consent, recording starts.
Paying by card pauses it before the card number is asked for (a ``config`` verb in the same
answer, so nothing of the number is recorded) and resumes it once the number is in, through
``CallControl``. The call then goes to an agent, recorded if it was.

Serve it with ``uvicorn examples.cookbook.recording:app``; set ``SRS_URL`` to your recording
server's SIP URI.
"""

from __future__ import annotations

import os

from jambonz_webhooks import CallControl, CallState, GatherResult, JambonzApp, WebhookResponse

app = JambonzApp()

SRS_URL = os.environ.get("SRS_URL", "sip:recorder@srs.example.com")
AGENTS = "+15551230002"
MENU = "Press 1 to pay a bill, or 2 to speak to an agent."


@app.call_hook("/incoming")
async def incoming() -> WebhookResponse:
    """Ask for consent before anything is recorded."""
    return WebhookResponse().gather(
        input=["digits"],
        num_digits=1,
        timeout=10,
        action_hook=consent,
        say={"text": "Calls are recorded for quality. Press 1 to allow it, or 2 to continue unrecorded."},
    )


def menu(response: WebhookResponse) -> WebhookResponse:
    """The main menu, after the consent question."""
    return response.gather(input=["digits"], num_digits=1, timeout=10, action_hook=choice, say={"text": MENU})


@app.action_hook("/consent")
async def consent(result: GatherResult, state: CallState) -> WebhookResponse:
    """Start recording, or not."""
    if result.digits != "1":
        return menu(WebhookResponse().say(text="This call will not be recorded."))
    await state.set("recording", True)
    start = {"action": "startCallRecording", "siprecServerURL": SRS_URL, "recordingID": result.call_sid}
    return menu(WebhookResponse().config(record=start).say(text="Thank you."))


@app.action_hook("/choice")
async def choice(result: GatherResult, state: CallState) -> WebhookResponse:
    """Pay a bill (recording paused first), or an agent."""
    if result.digits == "1":
        response = WebhookResponse()
        if await state.get("recording", False):
            response.config(record={"action": "pauseCallRecording"})
        return response.gather(
            input=["digits"],
            finish_on_key="#",
            num_digits=16,
            timeout=20,
            action_hook=card,
            say={"text": "Please enter your card number, then press the pound key."},
        )
    return to_agent(WebhookResponse())


@app.action_hook("/card")
async def card(result: GatherResult, state: CallState, control: CallControl) -> WebhookResponse:
    """The card number is in: resume recording (a live command), then on to an agent."""
    if await state.get("recording", False):
        await control.record("resumeCallRecording")
    paid = bool(result.digits) and len(result.digits or "") >= 12
    text = "Thank you, your payment is done." if paid else "Sorry, we could not take that card."
    return to_agent(WebhookResponse().say(text=text))


def to_agent(response: WebhookResponse) -> WebhookResponse:
    """Connect the caller to an agent; the call's recording goes on if it was started."""
    return response.say(text="Connecting you to an agent.").dial(
        target=[{"type": "phone", "number": AGENTS}], action_hook=agent_done
    )


@app.action_hook("/agent-done")
async def agent_done() -> WebhookResponse:
    """The agent's call is over, or never started."""
    return WebhookResponse().say(text="Thank you for calling. Goodbye.").hangup()
