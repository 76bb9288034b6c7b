"""An IVR built only from jambonz-webhooks' public API.

Run it with ``uvicorn example_app.app:app --port 3000`` or ``python -m example_app`` (port from
``PORT``, default 3000), and point a jambonz application's call hook at ``/incoming`` and its
call status hook at ``/status``.

Protect it with the environment, no code change: ``JAMBONZ_WEBHOOK_SECRET`` (the account's
webhook secret; requests must then be signed), ``JAMBONZ_WEBHOOK_USERNAME`` and
``JAMBONZ_WEBHOOK_PASSWORD`` (the hook's basic auth credentials). ``JambonzApp()`` reads them,
and refuses to start with none (``JAMBONZ_WEBHOOK_INSECURE=1`` opens it, for a local try).
"""

from __future__ import annotations

import logging

from jambonz_webhooks import (
    CallSession,
    CallState,
    CallStatus,
    DialResult,
    EnvVar,
    GatherResult,
    JambonzApp,
    WebhookResponse,
)
from jambonz_webhooks.logs import configure_logging

# uvicorn configures only its own loggers; give the app's (and the framework's) a place to go:
# LOG_LEVEL (default INFO: a line per hook) and LOG_FORMAT (text, or json for a log collector).
configure_logging()
logger = logging.getLogger("example_app")

SALES_NUMBER = "+15551230001"

COMPANY_NAME = EnvVar(description="The company the IVR names when it greets callers", default="our company")

# Reads JAMBONZ_WEBHOOK_SECRET, JAMBONZ_WEBHOOK_USERNAME and JAMBONZ_WEBHOOK_PASSWORD, and
# JAMBONZ_REDIS_URL (calls' state in Redis, for several workers; in memory without it).
# The verbs this IVR answers with: their validators are built when the server starts, so that
# neither the import nor the first call waits for them.
app = JambonzApp(
    env_vars={"COMPANY_NAME": COMPANY_NAME},
    health_path="/health",
    prepare_verbs=("say", "gather", "dial", "hangup"),
)


def company_of(env_vars: dict[str, object] | None) -> str:
    """The company name set for the application in the portal, or the declared default."""
    name = (env_vars or {}).get("COMPANY_NAME")
    return name if isinstance(name, str) and name else str(COMPANY_NAME.default)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    """Greet the caller and offer the menu, by keypad or by voice."""
    return (
        WebhookResponse()
        .say(text=f"Hello, and thank you for calling {company_of(call.env_vars)}.")
        .gather(
            input=["digits", "speech"],
            num_digits=1,
            timeout=10,
            action_hook=menu,
            say={"text": "Press 1 for sales or 2 for support"},
        )
        .say(text="We did not receive any input.")
        .hangup()
    )


@app.action_hook("/menu")
async def menu(result: GatherResult, state: CallState) -> WebhookResponse:
    """Route the caller by what they pressed or said, naming the company in each answer.

    This hook's payload has no env_vars (only the call hook's has): they come from the call's
    state, which the framework kept from the call hook (on another worker, maybe, with Redis).
    """
    company = company_of(await state.env_vars())
    if result.digits == "1":
        return (
            WebhookResponse()
            .say(text=f"Thank you for calling {company}. Connecting you to sales.")
            .dial(target=[{"type": "phone", "number": SALES_NUMBER}], action_hook=dial_result)
        )
    if result.digits == "2":
        return (
            WebhookResponse()
            .say(text=f"{company} support is closed right now. Please call back tomorrow.")
            .hangup()
        )
    if result.reason == "speechDetected" and result.transcript:
        return (
            WebhookResponse()
            .say(text=f"You said: {result.transcript}. Thank you for calling {company}, goodbye.")
            .hangup()
        )
    return WebhookResponse().say(text=f"Thank you for calling {company}. Goodbye.").hangup()


@app.action_hook("/dial-result")
async def dial_result(result: DialResult) -> WebhookResponse:
    """After the sales call: apologize if it did not go through, then hang up."""
    response = WebhookResponse()
    if result.dial_call_status != "completed":
        response.say(text="Sorry, we could not connect your call.")
    return response.hangup()


@app.status_hook("/status")
async def status(event: CallStatus) -> None:
    """Log each change of call status."""
    logger.info("call %s is %s", event.call_sid, event.call_status)
