"""A speech bot: it listens, answers by simple keyword rules, and remembers the conversation.

Run it from the repository's root::

    JAMBONZ_WEBHOOK_SECRET=wh_secret_... uvicorn examples.speech_bot:app --port 3000

then point the jambonz application's call hook at ``http://<host>:3000/bot`` and its call
status hook at ``http://<host>:3000/status``. In the jambonz portal the application shows the
variables of :class:`BotSettings` (the portal asks the call hook for them); their values come
with every call.

The call hook greets the caller and gathers speech; each utterance goes to ``/turn``, which
keeps the turns in the call's state (:class:`~jambonz_webhooks.CallState`, in Redis when
``JAMBONZ_REDIS_URL`` is set, so any worker can take the next turn), answers, and listens
again. The call ends when the caller says goodbye, after ``MAX_TURNS`` turns, or after two
silences in a row. Swap :func:`reply` for a call to a language model to make it a real bot.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import Field

from jambonz_webhooks import CallState, CallStatus, EnvVars, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.logs import configure_logging

# uvicorn configures only its own loggers: show the app's and the framework's (a line per hook)
# on standard error, as text or, with LOG_FORMAT=json, as JSON lines.
configure_logging()
logger = logging.getLogger("examples.speech_bot")


class BotSettings(EnvVars):
    """The application's environment variables, set per application in the jambonz portal."""

    BOT_NAME: str = Field("Robin", description="The name the bot introduces itself with")
    COMPANY_NAME: str = Field("Acme", description="The company the bot speaks for")
    OPENING_HOURS: str = Field(
        "from nine to five, Monday to Friday", description="Read out when the caller asks when you are open"
    )
    MAX_TURNS: int = Field(5, description="Questions answered before the bot says goodbye")
    LANGUAGE: str = Field("en-US", description="The language the caller is expected to speak")


app = JambonzApp(env_vars=BotSettings)

GOODBYE = re.compile(r"\b(good ?bye|bye)\b")
NAME = re.compile(r"\bmy name is (\w+)")
MAX_SILENCES = 2


def listen(response: WebhookResponse, prompt: str, settings: BotSettings) -> WebhookResponse:
    """Say ``prompt`` while listening for the caller's speech; their words go to ``/turn``."""
    return response.gather(
        input=["speech"],
        action_hook=turn,
        timeout=10,
        recognizer={"vendor": "default", "language": settings.LANGUAGE},
        say={"text": prompt},
    )


def reply(text: str, turns: list[dict[str, str]], settings: BotSettings) -> str:
    """The bot's answer to ``text``, by keyword; ``turns`` are the conversation so far."""
    words = text.lower()
    name = NAME.search(words)
    if name:
        return f"Nice to meet you, {name.group(1).capitalize()}."
    if "again" in words or "repeat" in words:
        return turns[-1]["bot"] if turns else "I have not said anything yet."
    if "open" in words or "hours" in words:
        return f"{settings.COMPANY_NAME} is open {settings.OPENING_HOURS}."
    if "price" in words or "cost" in words:
        return "Plans start at ten dollars a month."
    return "Sorry, I can only tell you about our opening hours and our prices."


@app.call_hook("/bot")
async def greet(settings: BotSettings) -> WebhookResponse:
    """Introduce the bot and listen."""
    prompt = (
        f"Hi, I am {settings.BOT_NAME}, the assistant of {settings.COMPANY_NAME}. "
        "Ask me about our opening hours or our prices."
    )
    return listen(WebhookResponse(), prompt, settings)


@app.action_hook("/turn")
async def turn(result: GatherResult, state: CallState, settings: BotSettings) -> WebhookResponse:
    """One turn of the conversation: the caller spoke (or did not); answer and listen again."""
    turns: list[dict[str, str]] = await state.get("turns", [])
    caller: str | None = await state.get("caller_name")
    text = result.transcript if result.reason == "speechDetected" else None
    if not text:
        silences: int = await state.get("silences", 0) + 1
        await state.set("silences", silences)
        if silences >= MAX_SILENCES:
            return WebhookResponse().say(text="I cannot hear you. Goodbye.").hangup()
        return listen(WebhookResponse(), "Sorry, I did not catch that. Could you say it again?", settings)

    if GOODBYE.search(text.lower()):
        await state.update({"turns": [*turns, {"caller": text, "bot": "goodbye"}], "silences": 0})
        return (
            WebhookResponse()
            .say(text=f"Goodbye{', ' + caller if caller else ''}. Thanks for calling.")
            .hangup()
        )

    answer = reply(text, turns, settings)
    turns.append({"caller": text, "bot": answer})
    values: dict[str, Any] = {"turns": turns, "silences": 0}
    name = NAME.search(text.lower())
    if name:
        values["caller_name"] = name.group(1).capitalize()
    await state.update(values)

    if len(turns) >= settings.MAX_TURNS:
        return (
            WebhookResponse()
            .say(text=answer)
            .say(text="That is all I can help with today. Goodbye.")
            .hangup()
        )
    return listen(WebhookResponse(), f"{answer} Anything else?", settings)


@app.status_hook("/status")
async def status(event: CallStatus, state: CallState) -> None:
    """Log the conversation when the call ends (its state is dropped right after this handler)."""
    if event.is_final:
        turns = await state.get("turns", [])
        logger.info("call %s ended (%s) after %d turns", event.call_sid, event.call_status, len(turns))
