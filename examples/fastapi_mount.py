"""A FastAPI application with its own JSON API, and a jambonz voice app mounted under ``/voice``.

It needs FastAPI, which the package does not install (the ``dev`` extra does)::

    pip install fastapi

Run it from the repository's root::

    JAMBONZ_WEBHOOK_SECRET=wh_secret_... uvicorn examples.fastapi_mount:app --port 3000

then point the jambonz application's call hook at ``http://<host>:3000/voice/incoming`` and its
call status hook at ``http://<host>:3000/voice/status``. The JSON API lives beside it:
``GET /api/health``, ``GET /api/teams``, ``PUT /api/teams/{team}`` (change a team's number) and
``GET /api/calls`` (the status of recent calls). FastAPI's docs are at ``/docs``.

jambonz resolves a hook path against the host of the call hook URL, not against its path, so
the voice app's verbs must name ``/voice/menu``, not ``/menu``. Handlers are named by reference
(``action_hook=menu``) and the framework writes them with the prefix they are mounted under.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from jambonz_webhooks import CallStatus, DialResult, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.logs import configure_logging

# A log line per hook (LOG_LEVEL, LOG_FORMAT=json): uvicorn configures only its own loggers.
configure_logging()

# The numbers each menu choice dials; the JSON API changes them while the app runs.
TEAMS: dict[str, str] = {"sales": "+15551230001", "support": "+15551230002"}
MENU_KEYS = {"1": "sales", "2": "support"}

# The last status of the most recent calls, newest last (a small in-memory record).
RECENT_CALLS: deque[dict[str, str | None]] = deque(maxlen=100)

# ------------------------------------------------------------------------------ the voice app

# Reads JAMBONZ_WEBHOOK_SECRET (and the basic auth variables) from the environment.
voice = JambonzApp()


def offer_menu(response: WebhookResponse) -> WebhookResponse:
    """Append the menu: one key, read by ``/menu``; with no key pressed, say goodbye."""
    return (
        response.gather(
            input=["digits"],
            num_digits=1,
            timeout=8,
            action_hook=menu,  # written "/voice/menu" when mounted under /voice
            say={"text": "Press 1 for sales or 2 for support."},
        )
        .say(text="We did not hear from you. Goodbye.")
        .hangup()
    )


@voice.call_hook("/incoming")
async def incoming() -> WebhookResponse:
    """Greet the caller and offer the menu."""
    return offer_menu(WebhookResponse().say(text="Thank you for calling."))


@voice.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse | None:
    """Dial the team chosen; offer the menu again on any other key."""
    if result.reason == "timeout":
        return None  # no verbs: the ones after the gather run on (goodbye)
    team = MENU_KEYS.get(result.digits or "")
    if team is None:
        return offer_menu(WebhookResponse().say(text="Sorry, that is not an option."))
    return (
        WebhookResponse()
        .say(text=f"Connecting you to {team}.")
        .dial(target=[{"type": "phone", "number": TEAMS[team]}], action_hook=dial_done, timeout=20)
    )


@voice.action_hook("/dial-done")
async def dial_done(result: DialResult) -> WebhookResponse:
    """After the dial: apologize if it did not go through."""
    response = WebhookResponse()
    if result.dial_call_status != "completed":
        response.say(text="Nobody is available right now. Please try again later.")
    return response.hangup()


@voice.status_hook("/status")
async def status(event: CallStatus) -> None:
    """Keep the last status of each call for ``GET /api/calls``."""
    RECENT_CALLS.append({"call_sid": event.call_sid, "status": event.call_status})


# ------------------------------------------------------------------------------ the FastAPI app


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[None]:
    """Run the voice app's lifespan too: Starlette does not run a mounted app's own."""
    async with voice.router.lifespan_context(voice):
        yield


app = FastAPI(title="Contact centre", lifespan=lifespan)


class TeamNumber(BaseModel):
    """The body of ``PUT /api/teams/{team}``."""

    number: str


@app.get("/api/health")
async def health() -> dict[str, str]:
    """Liveness, for a container's health check or a load balancer."""
    return {"status": "ok"}


@app.get("/api/teams")
async def list_teams() -> dict[str, str]:
    """The number each team is reached at."""
    return TEAMS


@app.put("/api/teams/{team}")
async def set_team_number(team: str, body: TeamNumber) -> dict[str, str]:
    """Change the number a team is dialed at; the next call uses it."""
    if team not in TEAMS:
        raise HTTPException(status_code=404, detail=f"no team {team!r}")
    TEAMS[team] = body.number
    return {"team": team, "number": body.number}


@app.get("/api/calls")
async def recent_calls() -> list[dict[str, str | None]]:
    """The last status reported for the most recent calls, oldest first."""
    return list(RECENT_CALLS)


app.mount("/voice", voice)
