"""A voice agent: the caller talks with an OpenAI realtime model that can look up orders and ask for a person.

Run it from the repository's root::

    OPENAI_API_KEY=sk-... JAMBONZ_WEBHOOK_SECRET=wh_secret_... uvicorn examples.voice_agent:app --port 3000

then point the jambonz application's call hook at ``http://<host>:3000/incoming`` (or, with
``JAMBONZ_WEBHOOK_USERNAME`` and ``JAMBONZ_WEBHOOK_PASSWORD`` set and given to the application,
``ws://<host>:3000/incoming``: the same app over jambonz's WebSocket API, where tool calls and
their outputs travel on the call's socket, see tests/test_voice_agent_ws.py). The call hook
answers an ``llm`` verb (vendor ``openai``, the Realtime API) given the app's toolbox: the tools'
JSON schemas go into the session jambonz opens with OpenAI, and its ``toolHook`` is
``/tools/openai``, where the app answers the model's tool calls (signed POSTs from jambonz, as
every hook). When the conversation ends, ``/agent-done`` says goodbye.

Two tools: :func:`lookup_order` (an async lookup in :data:`ORDERS`; a number it does not know
answers the model an error in words it can repeat) and :func:`hand_off` (a plain function, run in
a thread: it queues the caller for a person of the team, in :data:`HANDOFFS`, which a dashboard
of the team would read). Swap them for your order system and your queue.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Annotated, Any, Literal

from pydantic import Field

from jambonz_webhooks import CallSession, JambonzApp, LlmResult, ToolCall, ToolError, WebhookResponse
from jambonz_webhooks.logs import configure_logging

configure_logging()

app = JambonzApp()
tools = app.tool_hook("/tools")  # answers /tools/openai (and the other vendors' paths)

ORDERS: dict[str, dict[str, Any]] = {
    "1001": {"status": "shipped", "carrier": "UPS", "eta": "tomorrow", "items": 2},
    "1002": {"status": "processing", "eta": "in three days", "items": 1},
}
"""The order system, as far as this example goes."""

HANDOFFS: deque[dict[str, Any]] = deque(maxlen=100)
"""Callers waiting for a person, newest last: what the team's dashboard reads."""

PROMPT = (
    "You are the voice assistant of Acme's order desk. Be brief and friendly. You can look up an order "
    "by its number, and hand the caller to a person from sales or support when they ask for one or you "
    "cannot help. Never invent an order's status: look it up."
)


@tools.tool
async def lookup_order(
    order_id: Annotated[
        str, Field(description="The order number the caller gives, digits only", pattern=r"^\d{1,12}$")
    ],
) -> dict[str, Any]:
    """Look up an order by its number: its status, when it arrives, how many items it has."""
    order = ORDERS.get(order_id)
    if order is None:
        raise ToolError("There is no order with that number: ask the caller to check it.")
    return {"order_id": order_id, **order}


@tools.tool(timeout=2)
def hand_off(
    department: Annotated[Literal["sales", "support"], Field(description="Who the caller needs")],
    summary: Annotated[str, Field(description="What the caller wants, in one sentence", max_length=300)],
    call: ToolCall,
) -> dict[str, Any]:
    """Queue the caller for a person of sales or support, who takes over as soon as one is free."""
    HANDOFFS.append({"department": department, "summary": summary, "call_sid": call.call_sid})
    waiting = sum(1 for handoff in HANDOFFS if handoff["department"] == department)
    return {
        "queued": True,
        "position": waiting,
        "say": f"A colleague from {department} will be with you shortly.",
    }


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    """Connect the caller to the model, with the tools; when the conversation ends, ``/agent-done``."""
    return WebhookResponse().llm(
        vendor="openai",
        model="gpt-4o-realtime-preview",
        auth={"api_key": os.environ.get("OPENAI_API_KEY", "")},
        llm_options={
            "response_create": {
                "modalities": ["text", "audio"],
                "instructions": "Greet the caller and ask how you can help with their order.",
            },
            "session_update": {
                "instructions": PROMPT,
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad"},
            },
        },
        action_hook=agent_done,
        tools=tools,
    )


@app.action_hook("/agent-done")
async def agent_done(result: LlmResult) -> WebhookResponse:
    """The conversation is over (the model or the caller ended it, or it failed): say goodbye."""
    return WebhookResponse().say(text="Thank you for calling Acme. Goodbye.").hangup()
