"""Slow hooks that continue in the background: what a user sets, and what a handler holds.

An LLM-backed handler may take longer than jambonz waits for a hook (10 s). A hook that may
continue in the background answers jambonz at a soft deadline with filler verbs (a short say)
and a ``redirect`` to a resume hook the framework serves, while its handler keeps running; the
resume request answers the handler's verbs as soon as they are ready, or more filler and another
redirect, up to a total limit (then the fallback). With several workers the verbs travel through
the app's state store (see :mod:`jambonz_webhooks.continuation`).

Ask for it per hook::

    @app.action_hook("/ask", background=True)
    async def ask(result: GatherResult) -> WebhookResponse: ...

or from the handler, when it knows it will be slow::

    @app.action_hook("/ask")
    async def ask(result: GatherResult, later: Continuation) -> WebhookResponse:
        if needs_the_llm(result):
            later.allow(filler=WebhookResponse().say(text="Let me look that up."))
        ...
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from .response import VerbLike, WebhookResponse

__all__ = ["Background", "Continuation"]


def _default_filler() -> WebhookResponse:
    return WebhookResponse().say(text="One moment, please.")


@dataclass(frozen=True)
class Background:
    """How a hook continues in the background (``background=Background(...)``, or app-wide).

    Args:
        after: seconds the handler has before jambonz gets the filler (the soft deadline); each
            resume request waits as long for the verbs.
        filler: what the caller hears while the handler works (a redirect to the resume hook is
            added after it).
        hold: what the caller hears each time the verbs are still not ready on a resume
            (None: the filler again).
        limit: seconds the handler may run in all; then it is cancelled and the fallback answers.

    """

    after: float = 2.0
    filler: WebhookResponse = field(default_factory=_default_filler)
    hold: WebhookResponse | None = None
    limit: float = 60.0

    def __post_init__(self) -> None:
        for name in ("after", "limit"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ValueError(f"Background {name} must be a positive number of seconds, not {value!r}")
        if self.after >= self.limit:
            raise ValueError("Background after must be shorter than its limit")


class Continuation:
    """A handler's say in whether its hook continues in the background; ask for it by annotation.

    Until :meth:`allow` is called, a hook not declared ``background=True`` keeps its usual
    deadline; once allowed, the hook answers filler at the soft deadline and the handler runs on.
    """

    __slots__ = ("allowed", "filler")

    def __init__(self, allowed: bool = False) -> None:
        self.allowed = allowed
        self.filler: WebhookResponse | None = None

    def allow(self, filler: WebhookResponse | Iterable[VerbLike] | None = None) -> None:
        """Let this hook continue in the background, with this filler (None: the hook's)."""
        self.allowed = True
        if filler is not None:
            self.filler = WebhookResponse(filler)
