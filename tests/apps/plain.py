"""An app as the quickstart writes it: no logging set up of its own.

Served by ``jambonz-webhooks run`` in tests/test_serving.py: the access line per hook must still
be written.
"""

from __future__ import annotations

from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse

app = JambonzApp(insecure=True)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    """Greet and hang up."""
    return WebhookResponse().say(text="Hello").hangup()
