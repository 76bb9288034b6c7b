"""Transfers: a blind one (SIP REFER, with a dial when it fails) and a screened one.

Blind: the caller asks for billing, which is on another phone system. ``sip:refer`` asks the
carrier or PBX the call came from to move the call there (a REFER); its ``action_hook`` gets the
REFER's answer (``refer_status``: 202 accepted) and, once the far end reports how the new call
went, ``final_referred_call_status``. A call that jambonz still has after a failed REFER is
dialed to billing instead; if that fails too, the caller is told so.

Screened (attended by the app): the caller asks for sales. ``dial`` calls the agent, and the
agent's leg runs the ``confirm_hook``'s verbs before anything is connected: the agent hears who
is calling and presses 1 to take the call. An agent who presses anything else, or hangs up, or
does not answer leaves the caller unconnected: the dial's ``action_hook`` (a
:class:`~jambonz_webhooks.DialResult`) then offers billing instead, or says goodbye.

Serve it with ``uvicorn examples.cookbook.transfer:app``; the call hook is ``/incoming``.
"""

from __future__ import annotations

from jambonz_webhooks import (
    CallSession,
    DialResult,
    GatherResult,
    JambonzApp,
    SipReferResult,
    WebhookResponse,
)

app = JambonzApp()

BILLING_URI = "sip:billing@pbx.example.com"
BILLING_NUMBER = "+15551230003"
SALES_AGENT = "+15551230001"


@app.call_hook("/incoming")
async def incoming() -> WebhookResponse:
    """The menu."""
    return WebhookResponse().gather(
        input=["digits"],
        num_digits=1,
        timeout=10,
        action_hook=menu,
        say={"text": "Press 1 for sales, or 2 for billing."},
    )


@app.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse:
    """Sales: a screened transfer; billing (or anything else): a blind one."""
    if result.digits == "1":
        return (
            WebhookResponse()
            .say(text="Please hold while we find a sales agent.")
            .dial(
                target=[{"type": "phone", "number": SALES_AGENT}],
                confirm_hook=screen,
                timeout=20,
                action_hook=sales_done,
            )
        )
    return (
        WebhookResponse()
        .say(text="Transferring you to billing.")
        .sip_refer(refer_to=BILLING_URI, action_hook=refer_done)
    )


@app.action_hook("/refer-done")
async def refer_done(result: SipReferResult) -> WebhookResponse | None:
    """How the REFER went: the call is gone if it worked; otherwise dial billing ourselves."""
    final = result.final_referred_call_status
    if result.refer_status == 202 and (final is None or 200 <= final < 300):
        return None  # the far end took the call over; jambonz's leg ends
    return dial_billing(WebhookResponse())


def dial_billing(response: WebhookResponse) -> WebhookResponse:
    """Billing by a dial from jambonz (the call stays on jambonz, bridged)."""
    return response.dial(
        target=[{"type": "phone", "number": BILLING_NUMBER}], timeout=20, action_hook=billing_done
    )


@app.action_hook("/billing-done")
async def billing_done(result: DialResult) -> WebhookResponse:
    """The billing call ended, or never started."""
    if result.dial_call_status == "completed":
        return WebhookResponse().hangup()
    return WebhookResponse().say(text="Billing cannot take your call right now. Please try later.").hangup()


@app.action_hook("/screen")
async def screen(call: CallSession) -> WebhookResponse:
    """Runs on the agent's leg when they answer: who is calling, and do they take it."""
    caller = call.caller_name or call.from_ or "unknown"
    # Only the gather: what its hook answers decides (verbs left after it would run on the leg).
    return WebhookResponse().gather(
        input=["digits"],
        num_digits=1,
        timeout=8,
        action_hook=screened,
        say={"text": f"Sales call from {caller}. Press 1 to take it."},
    )


@app.action_hook("/screened")
async def screened(result: GatherResult) -> WebhookResponse | None:
    """The agent's answer: 1 connects the caller (no verbs left); anything else declines."""
    if result.digits == "1":
        return None
    return WebhookResponse().hangup()


@app.action_hook("/sales-done")
async def sales_done(result: DialResult) -> WebhookResponse:
    """The sales leg ended: after a conversation, goodbye; unanswered or declined, offer billing."""
    if result.dial_call_status == "completed":
        return WebhookResponse().hangup()
    return dial_billing(WebhookResponse().say(text="No sales agent is free. Let me try billing for you."))
