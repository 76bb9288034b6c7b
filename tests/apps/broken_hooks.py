"""A test app whose verbs name hooks that no route serves, for ``jambonz-webhooks routes``.

- ``/incoming`` (call hook) answers a gather whose ``actionHook`` is ``/menu-typo``: no such route.
- ``/menu`` (action hook) sends the caller who presses 3 to ``/operator-3``, which no route serves
  either: the path is built at run time, so only running the handler with that digit finds it.
- ``/transfer`` (action hook) names the handler ``orphan`` as its dial's hook; ``orphan`` is
  registered on no route, so the framework cannot write its path.
"""

from __future__ import annotations

from jambonz_webhooks import CallSession, CallStatus, DialResult, GatherResult, JambonzApp, WebhookResponse

MISSPELLED_HOOK = "/menu-typo"
BRANCH_HOOK = "/operator"

app = JambonzApp(insecure=True)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().gather(input=["digits"], num_digits=1, action_hook=MISSPELLED_HOOK).hangup()


@app.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse:
    if result.digits == "3":
        # Written at run time: only running the handler with the digit 3 finds this hook.
        return WebhookResponse().redirect(action_hook=f"{BRANCH_HOOK}-{result.digits}")
    return WebhookResponse().hangup()


async def orphan(result: DialResult) -> WebhookResponse:
    """Meant to be the dial's action hook, but never registered on a route."""
    return WebhookResponse().hangup()


@app.action_hook("/transfer")
def transfer(result: GatherResult) -> WebhookResponse:
    return WebhookResponse().dial(target=[{"type": "phone", "number": "+15550100003"}], action_hook=orphan)


@app.status_hook("/status")
async def status(event: CallStatus) -> None:
    return None
