"""Operations: a structured log line per hook, as text or JSON, with jambonz's trace_id."""

from __future__ import annotations

import io
import json
import logging

import httpx2
import pytest
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, CallStatus, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.logs import ACCESS_LOGGER, JsonFormatter, configure_logging
from tests import payloads
from tests.conftest import LiveServer

JSON = {"content-type": "application/json"}


def _app() -> JambonzApp:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="hi").gather(input=["digits"], action_hook=menu).hangup()

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        raise RuntimeError("boom")

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        return None

    return app


def test_one_line_per_hook_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    session = payloads.session_new(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER), TestClient(_app()) as client:
        client.post("/incoming", content=json.dumps(session), headers=JSON)
        client.post("/menu", content=json.dumps(payloads.call_info(reason="timeout")), headers=JSON)
        client.post("/status", content=json.dumps(payloads.call_info(call_status="completed")), headers=JSON)
        client.post("/incoming", content=b"{oops", headers=JSON)
    lines = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert [(r.hook_kind, r.hook_path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("call", "/incoming", 200),
        ("action", "/menu", 200),  # the handler failed: the fallback verbs were answered
        ("status", "/status", 204),
        ("call", "/incoming", 400),
    ]
    first = lines[0]
    assert first.call_sid == session["call_sid"]  # type: ignore[attr-defined]
    assert first.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # type: ignore[attr-defined]
    assert first.verbs == ["say", "gather", "hangup"]  # type: ignore[attr-defined]
    assert first.method == "POST"  # type: ignore[attr-defined]
    assert 0 < first.duration_ms < 5000  # type: ignore[attr-defined]
    assert first.getMessage().startswith("call hook POST /incoming -> 200 in ")
    assert lines[1].verbs == ["say", "hangup"]  # type: ignore[attr-defined]
    assert lines[2].verbs == []  # type: ignore[attr-defined]
    assert lines[3].call_sid is None  # type: ignore[attr-defined]


def test_no_line_when_the_access_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=ACCESS_LOGGER), TestClient(_app()) as client:
        response = client.post("/incoming", content=json.dumps(payloads.session_new()), headers=JSON)
    assert response.status_code == 200
    assert [r for r in caplog.records if r.name == ACCESS_LOGGER] == []


def test_json_lines_carry_the_extras_and_the_traceback() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("jambonz_webhooks", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    record.call_sid = "CA1"
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    data = json.loads(formatter.format(record))
    assert data["message"] == "failed x"
    assert data["level"] == "ERROR"
    assert data["logger"] == "jambonz_webhooks"
    assert data["call_sid"] == "CA1"
    assert "ValueError: bad" in data["exception"]
    assert data["time"].endswith("+00:00")


def test_configure_logging_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        monkeypatch.setenv("LOG_FORMAT", "json")
        monkeypatch.setenv("LOG_LEVEL", "warning")
        configure_logging()  # the test runner's handlers are there: nothing changes
        assert root.handlers == saved[0]
        configure_logging(force=True)
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.WARNING
        stream = io.StringIO()
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logging.getLogger("jambonz_webhooks").warning("careful", extra={"call_sid": "CA2"})
        assert json.loads(stream.getvalue())["call_sid"] == "CA2"
        configure_logging(json=False, level="DEBUG", force=True)
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_the_example_app_under_uvicorn_logs_each_hook(
    ivr_server: LiveServer, ivr_client: httpx2.Client
) -> None:
    sid = "CA-log-line-test"
    body = json.dumps(payloads.session_new(call_sid=sid), separators=(",", ":"))
    assert ivr_client.post("/incoming", content=body, headers=JSON).status_code == 200
    line = ivr_server.wait_for_stderr(f"call_sid={sid}")
    assert "call hook POST /incoming -> 200" in line
    assert "verbs say,gather,say,hangup" in line
