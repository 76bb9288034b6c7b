"""A voice agent's tools behind a webhook secret, served by uvicorn for tests/test_tools.py.

The app is mounted under ``/voice`` in a Starlette app, as a deployment behind a prefix would be:
the verbs write ``/voice/tools/<vendor>`` and jambonz posts there.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.routing import Mount

from jambonz_webhooks import CallSession, JambonzApp, ToolError, WebhookResponse

SECRET = "wh_secret_tools_0123456789"

voice = JambonzApp(webhook_secret=SECRET)
tools = voice.tool_hook("/tools")


@tools.tool
async def lookup_order(order_id: Annotated[str, Field(description="The order number")]) -> dict[str, Any]:
    """Look up an order by its number."""
    if order_id != "1001":
        raise ToolError("no such order")
    return {"status": "shipped"}


@tools.tool(timeout=0.3)
async def slow() -> str:
    """Never answers in time."""
    await asyncio.sleep(5)
    return "too late"


@voice.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().openai_s2s(llm_options={"response_create": {}}, tools=tools)


app = Starlette(routes=[Mount("/voice", voice)])
