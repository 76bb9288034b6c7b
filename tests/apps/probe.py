"""A test app whose handlers fail on purpose, and others that echo what they decoded.

- ``/boom`` (call hook, async) and ``/boom-sync`` (action hook, sync) raise: the framework must
  answer the fallback verbs and log the failure with the call_sid.
- ``/echo-call`` and ``/echo-gather`` say, as JSON text, the typed values the models decoded,
  so a test can check what a GET query string turned into.
"""

from __future__ import annotations

import json

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, WebhookResponse

BOOM_MESSAGE = "probe handler exploded on purpose"

app = JambonzApp(insecure=True)


@app.call_hook("/boom")
async def boom(call: CallSession) -> WebhookResponse:
    raise RuntimeError(f"{BOOM_MESSAGE} (async, {call.call_sid})")


@app.action_hook("/boom-sync")
def boom_sync(result: GatherResult) -> WebhookResponse:
    raise ValueError(f"{BOOM_MESSAGE} (sync, {result.call_sid})")


@app.call_hook("/echo-call")
async def echo_call(call: CallSession) -> WebhookResponse:
    sip = call.sip
    seen = {
        "call_sid": call.call_sid,
        "from": call.from_,
        "sip_status": call.sip_status,
        "direction": call.direction,
        "caller_name": call.caller_name,
        "headers": sip.headers if sip is not None else None,
        "called_number": sip.called_number if sip is not None else None,
        "source_port": sip.source_port if sip is not None else None,
        "customer_data": call.customer_data,
        "synth_voice": (
            call.defaults.synthesizer.voice
            if call.defaults is not None and call.defaults.synthesizer is not None
            else None
        ),
    }
    return WebhookResponse().say(text=json.dumps(seen, sort_keys=True)).hangup()


@app.action_hook("/echo-gather")
async def echo_gather(result: GatherResult) -> WebhookResponse:
    speech = result.speech
    alternative = speech.alternatives[0] if speech is not None and speech.alternatives else None
    seen = {
        "reason": result.reason,
        "digits": result.digits,
        "sip_status": result.sip_status,
        "is_final": speech.is_final if speech is not None else None,
        "transcript": result.transcript,
        "confidence": alternative.confidence if alternative is not None else None,
    }
    return WebhookResponse().say(text=json.dumps(seen, sort_keys=True)).hangup()
