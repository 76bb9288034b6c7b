"""Hooks answering verbs that jambonz 0.9.8 refuses and the commercial line accepts, for ``routes --target``.

- ``/incoming`` says hello and gathers (accepted everywhere), with ``/menu`` as its hook;
- ``/menu`` answers ``room`` (no open-source release has it);
- ``/ai`` answers ``llm`` with ``responseTimeoutMs`` (a property 0.9.8's validator does not know).
"""

from __future__ import annotations

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, WebhookResponse

app = JambonzApp(webhook_secret=[], insecure=True)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().say(text="Hello").gather(input=["digits"], action_hook=menu)


@app.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse:
    return WebhookResponse().room(name="standup")


@app.action_hook("/ai")
async def ai(result: GatherResult) -> WebhookResponse:
    return WebhookResponse().llm(vendor="openai", llm_options={}, response_timeout_ms=3000)
