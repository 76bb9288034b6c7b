"""An app whose call hook ends the call through ``call.client``, for the REST trust tests.

It answers what happened, so a test sees it without reading logs: ``sent`` when the request
went out and the API answered, else the error's type. Its protections, API address and key
come from the environment each test server is started with.
"""

from __future__ import annotations

from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse
from jambonz_webhooks.rest.errors import APIStatusError

app = JambonzApp()


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    try:
        await call.client.hangup()
    except APIStatusError as exc:  # the API answered: the request reached it
        return WebhookResponse().say(text=f"answered {type(exc).__name__}")
    except Exception as exc:  # refused before anything was sent
        return WebhookResponse().say(text=f"refused {type(exc).__name__}")
    return WebhookResponse().say(text="sent")
