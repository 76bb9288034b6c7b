"""A test app whose hooks carry jambonz's retry policy, deduplicating retried deliveries.

- ``/incoming`` (call hook) answers a gather whose ``actionHook`` is ``/menu`` with its own
  policy (``#rc=2&rp=5xx,ct``); the app's default policy (one retry on any failure) is on every
  other hook it writes;
- ``/menu`` (action hook) counts its runs and says the count: ``menu ran <n>``;
- ``/bye`` (action hook), where ``/menu`` redirects, hangs up.

``outer`` serves the same app mounted under ``/voice``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, RetryPolicy, WebhookResponse, hook

SECRET = "wh_secret_retries_0123456789"

app = JambonzApp(webhook_secret=SECRET, deduplicate=True, retries=RetryPolicy(1, on="all"))
runs: list[int] = []


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().gather(
        input=["digits"],
        action_hook=hook(menu, retries=2, retry_on={"5xx", "connect"}),
        say={"text": "Press 1"},
    )


@app.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse:
    runs.append(len(runs) + 1)
    return WebhookResponse().say(text=f"menu ran {runs[-1]}").redirect(action_hook=bye)


@app.action_hook("/bye")
async def bye() -> WebhookResponse:
    return WebhookResponse().say(text="Goodbye").hangup()


outer = Starlette(routes=[Mount("/voice", app=app)])
