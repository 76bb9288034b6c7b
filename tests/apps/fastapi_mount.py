"""The example IVR mounted under ``/voice`` in a FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from example_app.app import app as ivr

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app.mount("/voice", ivr)
