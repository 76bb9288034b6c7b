"""Queue and agent: callers wait in a queue hearing their place in line; agents take the next one.

Callers come to ``/incoming`` and are put in the ``support`` queue with ``enqueue``. While they
wait, jambonz asks the ``wait_hook`` what they hear (say, play, pause, leave and tag only), and
asks again each time it has played: here their place in line and some music. After
``MAX_WAIT`` seconds a caller is offered a call back: the ``leave`` verb takes them out of the
queue. The enqueue ``action_hook`` says how their time in the queue ended: ``bridged`` to an
agent (the conversation is over), ``leave``, ``hangup`` (they hung up) or ``error``.

Agents call ``/agent``: ``dequeue`` connects them to the caller who has waited longest, and its
``action_hook`` says how that went (``complete``, ``timeout`` when nobody was waiting,
``hangup``); then they may take the next caller.

Serve it with ``uvicorn examples.cookbook.queue:app``; point the customers' number at
``/incoming`` and the agents' at ``/agent``.
"""

from __future__ import annotations

from jambonz_webhooks import (
    DequeueResult,
    EnqueueResult,
    EnqueueWait,
    GatherResult,
    JambonzApp,
    WebhookResponse,
)

app = JambonzApp()

QUEUE = "support"
HOLD_MUSIC = "https://example.com/audio/hold-music.mp3"
MAX_WAIT = 600
"""Seconds in the queue before a caller is offered a call back."""
CALLBACKS: list[str] = []
"""The numbers of callers who left the queue for a call back."""


@app.call_hook("/incoming")
async def customer() -> WebhookResponse:
    """A customer calls: into the queue."""
    return (
        WebhookResponse()
        .say(text="Thank you for calling Acme support. All our agents are busy.")
        .enqueue(name=QUEUE, wait_hook=hold, action_hook=left_queue)
    )


@app.action_hook("/hold")
async def hold(wait: EnqueueWait) -> WebhookResponse:
    """What a waiting caller hears next: their place in line (counted from 0) and music."""
    if wait.queue_time >= MAX_WAIT:
        return WebhookResponse().say(text="We are sorry for the wait.").leave()
    place = (wait.queue_position or 0) + 1
    text = "You are next in line." if place == 1 else f"You are number {place} in line."
    return WebhookResponse().say(text=text).play(url=HOLD_MUSIC)


@app.action_hook("/left-queue")
async def left_queue(result: EnqueueResult) -> WebhookResponse | None:
    """The caller is out of the queue; the answer runs if their call is still up."""
    if result.queue_result == "leave":
        if result.from_:
            CALLBACKS.append(result.from_)
        return WebhookResponse().say(text="We will call you back within the hour. Goodbye.").hangup()
    if result.queue_result == "error":
        return WebhookResponse().say(text="Sorry, something went wrong. Please call again.").hangup()
    return WebhookResponse().hangup()  # bridged: the agent's call is over; hangup: nothing to do


def take_next(response: WebhookResponse) -> WebhookResponse:
    """Connect the agent to the caller who has waited longest, waiting 5 s for one at most."""
    return response.dequeue(name=QUEUE, timeout=5, beep=True, action_hook=agent_done)


@app.call_hook("/agent")
async def agent() -> WebhookResponse:
    """An agent calls in to take a caller."""
    return take_next(WebhookResponse().say(text="Connecting you to the next caller."))


@app.action_hook("/agent-done")
async def agent_done(result: DequeueResult) -> WebhookResponse:
    """How the agent's dequeue ended."""
    if result.dequeue_result == "timeout":
        return WebhookResponse().say(text="No callers are waiting. Goodbye.").hangup()
    if result.dequeue_result == "hangup":
        return WebhookResponse().hangup()
    return (
        WebhookResponse()
        .gather(
            input=["digits"],
            num_digits=1,
            timeout=10,
            action_hook=agent_next,
            say={"text": "The call has ended. Press 1 to take the next caller."},
        )
        .hangup()
    )


@app.action_hook("/agent-next")
async def agent_next(result: GatherResult) -> WebhookResponse:
    """The agent takes another caller, or is done."""
    if result.digits == "1":
        return take_next(WebhookResponse())
    return WebhookResponse().say(text="Goodbye.").hangup()
