"""OpenTelemetry: a server span per hook request, a child of jambonz's span, naming the call."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse
from tests import payloads

JAMBONZ_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
JAMBONZ_SPAN = "00f067aa0ba902b7"


def test_each_hook_request_is_a_span_under_jambonzs_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = JambonzApp(webhook_secret=[], insecure=True, opentelemetry=provider)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    session = payloads.session_new(trace_id=JAMBONZ_TRACE)
    headers = {"content-type": "application/json", "traceparent": f"00-{JAMBONZ_TRACE}-{JAMBONZ_SPAN}-01"}
    with TestClient(app) as client:
        assert client.post("/incoming", content=json.dumps(session), headers=headers).status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.context is not None and span.parent is not None
    assert format(span.context.trace_id, "032x") == JAMBONZ_TRACE  # the same trace as jambonz's
    assert format(span.parent.span_id, "016x") == JAMBONZ_SPAN
    assert span.attributes is not None
    assert span.attributes["jambonz.call_sid"] == session["call_sid"]
    assert span.attributes["jambonz.hook.kind"] == "call"
    assert span.attributes["jambonz.hook.path"] == "/incoming"
    assert span.attributes["jambonz.trace_id"] == JAMBONZ_TRACE
    assert span.attributes["http.response.status_code"] == 200


def test_no_span_without_the_option() -> None:
    app = JambonzApp(webhook_secret=[], insecure=True)
    assert not any("OpenTelemetry" in str(middleware.cls) for middleware in app.user_middleware)
