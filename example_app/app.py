"""An IVR built only from jambonz-webhooks' public API.

Run it with ``uvicorn example_app.app:app --port 3000`` or ``python -m example_app`` (port from
``PORT``, default 3000), and point a jambonz application's call hook at ``/incoming`` and its
call status hook at ``/status``.

Protect it with the environment, no code change: ``JAMBONZ_WEBHOOK_SECRET`` (the account's
webhook secret; requests must then be signed), ``JAMBONZ_WEBHOOK_USERNAME`` and
``JAMBONZ_WEBHOOK_PASSWORD`` (the hook's basic auth credentials). ``JambonzApp()`` reads them.
"""

from __future__ import annotations

import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse

from jambonz_webhooks import CallSession, CallStatus, DialResult, GatherResult, JambonzApp, Response

# uvicorn configures only its own loggers; give the app's (and the framework's) a place to go.
logging.basicConfig(
    level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
logger = logging.getLogger("example_app")

SALES_NUMBER = "+15551230001"

# Reads JAMBONZ_WEBHOOK_SECRET, JAMBONZ_WEBHOOK_USERNAME and JAMBONZ_WEBHOOK_PASSWORD.
app = JambonzApp()


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> Response:
    """Greet the caller and offer the menu, by keypad or by voice."""
    return (
        Response()
        .say(text="Hello, and thank you for calling.")
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
async def menu(result: GatherResult) -> Response:
    """Route the caller by what they pressed or said."""
    if result.digits == "1":
        return (
            Response()
            .say(text="Connecting you to sales.")
            .dial(target=[{"type": "phone", "number": SALES_NUMBER}], action_hook=dial_result)
        )
    if result.digits == "2":
        return Response().say(text="Support is closed right now. Please call back tomorrow.").hangup()
    if result.reason == "speechDetected" and result.transcript:
        return Response().say(text=f"You said: {result.transcript}. Thank you, goodbye.").hangup()
    return Response().say(text="Goodbye.").hangup()


@app.action_hook("/dial-result")
async def dial_result(result: DialResult) -> Response:
    """After the sales call: apologize if it did not go through, then hang up."""
    response = Response()
    if result.dial_call_status != "completed":
        response.say(text="Sorry, we could not connect your call.")
    return response.hangup()


@app.status_hook("/status")
async def status(event: CallStatus) -> None:
    """Log each change of call status."""
    logger.info("call %s is %s", event.call_sid, event.call_status)


async def health(request: Request) -> JSONResponse:
    """Liveness for the container's health check."""
    return JSONResponse({"status": "ok"})


app.add_route("/health", health, methods=["GET"])
