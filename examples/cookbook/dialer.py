"""Outbound dialer with answering-machine detection: remind patients of their appointment.

:func:`place_call` asks jambonz's REST API for the call. When the callee answers, jambonz sends
the call hook (``/call``), which turns answering-machine detection (AMD) on with a ``config``
verb and waits in silence while it listens. Its decision comes to ``/amd``: a person hears the
reminder and confirms with a key; an answering machine gets the message after its greeting
ends (or after the beep). The status hook notes calls nobody answered.

Serve it with ``uvicorn examples.cookbook.dialer:app`` (``JAMBONZ_WEBHOOK_SECRET`` set), reachable
by jambonz at ``PUBLIC_URL``; place calls with ``JAMBONZ_API_BASE_URL``, ``JAMBONZ_ACCOUNT_SID``
and ``JAMBONZ_API_KEY`` set::

    async with AsyncJambonzClient() as client:
        await place_call(client, "+15557654321", "https://dialer.example.com")
"""

from __future__ import annotations

from jambonz_webhooks import AmdEvent, CallState, CallStatus, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.rest import AsyncJambonzClient
from jambonz_webhooks.verbs import Amd, AmdTimers

app = JambonzApp()

CALLER_ID = "+15551230000"
REMINDER = "This is Acme Dental: you have an appointment tomorrow at ten."
MESSAGE = f"Hello. {REMINDER} To change it, call us back on 555 123 0000. Goodbye."
OUTCOMES: dict[str, str] = {}
"""How each call went, by call_sid: confirmed, cancelled, voicemail, or its final status."""


async def place_call(client: AsyncJambonzClient, number: str, public_url: str) -> str:
    """Call ``number``; jambonz asks ``public_url``'s hooks what to do. Returns the call_sid."""
    return await client.calls.create(
        from_=CALLER_ID,
        to={"type": "phone", "number": number},
        call_hook=f"{public_url}/call",  # REST hooks are absolute URLs
        call_status_hook=f"{public_url}/status",
        timeout=30,  # seconds of ringing before jambonz gives up (status no-answer)
    )


@app.call_hook("/call")
async def answered() -> WebhookResponse:
    """The callee answered: listen for a person or a machine, in silence, until AMD decides."""
    amd = Amd(action_hook=amd_event, timers=AmdTimers(decision_timeout_ms=10000))
    return WebhookResponse().config(amd=amd).pause(length=15)


def ask_person() -> WebhookResponse:
    """What a person hears: the reminder, then a choice on the keypad."""
    return WebhookResponse().gather(
        input=["digits"],
        num_digits=1,
        timeout=8,
        action_hook=reply,
        say={"text": f"Hello! {REMINDER} Press 1 to confirm, or 2 to cancel."},
    )


@app.action_hook("/amd")
async def amd_event(event: AmdEvent, state: CallState) -> WebhookResponse | None:
    """An AMD event; the verbs answered replace those running (None lets them run on)."""
    if event.type in ("amd_human_detected", "amd_no_speech_detected", "amd_decision_timeout"):
        # A short greeting, or a person who waits for us to speak first.
        return ask_person()
    if event.type == "amd_machine_detected":
        return WebhookResponse().pause(length=30)  # let the greeting play out
    if event.type in ("amd_machine_stopped_speaking", "amd_tone_detected"):
        # Both may come (a beep, then the greeting ends a second later): leave the message once.
        if await state.get("message_left", False):
            return None
        await state.set("message_left", True)
        OUTCOMES[event.call_sid] = "voicemail"
        return WebhookResponse().say(text=MESSAGE).hangup()
    return None  # amd_stopped (detection is over): nothing to change


@app.action_hook("/reply")
async def reply(result: GatherResult) -> WebhookResponse:
    """The person's choice."""
    if result.digits == "1":
        OUTCOMES[result.call_sid] = "confirmed"
        return WebhookResponse().say(text="Thank you, see you tomorrow. Goodbye.").hangup()
    if result.digits == "2":
        OUTCOMES[result.call_sid] = "cancelled"
        return WebhookResponse().say(text="Your appointment is cancelled. Goodbye.").hangup()
    return ask_person()


@app.status_hook("/status")
async def status(event: CallStatus) -> None:
    """Keep the final status of calls that got no answer of ours (busy, no-answer, failed, ...)."""
    if event.is_final and event.call_status:
        OUTCOMES.setdefault(event.call_sid, event.call_status)
