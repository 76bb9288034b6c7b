"""Whether this process is draining: it was asked to stop and serves on only until it can.

``jambonz-webhooks run`` begins draining on the first SIGTERM or SIGINT
(:mod:`jambonz_webhooks.serving`); from then on the app's health route answers 503
``{"status": "draining"}``, so that a load balancer takes the process out of service while its
requests in flight finish. A health route of your own (in a FastAPI app the voice app is mounted
in, say) can do the same with :func:`is_draining`.

This module imports nothing: the app reads the flag without loading the server.
"""

from __future__ import annotations

__all__ = ["DrainState", "begin_draining", "is_draining", "state"]


class DrainState:
    """The process's flag, an attribute the server's hot path reads without a call."""

    __slots__ = ("draining",)

    def __init__(self) -> None:
        self.draining = False


state = DrainState()
"""The process's draining flag: ``state.draining``."""


def is_draining() -> bool:
    """True once the process began draining (it stops soon): answer health checks with a 503."""
    return state.draining


def begin_draining() -> None:
    """Mark the process as draining (the server calls it on the first SIGTERM or SIGINT)."""
    state.draining = True


def _reset() -> None:
    """Back to serving (tests only: a real process never stops draining)."""
    state.draining = False
