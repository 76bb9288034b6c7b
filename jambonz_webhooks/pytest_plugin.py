"""pytest fixtures for jambonz-webhooks apps: ``jambonz_simulator``, a factory of call simulators.

Load it in a project's root ``conftest.py``::

    pytest_plugins = ["jambonz_webhooks.pytest_plugin"]

then::

    def test_support_is_closed(jambonz_simulator):
        call = jambonz_simulator(app).start()
        call.press("2")
        assert call.heard[-1] == "Support is closed right now."
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol

import pytest
from starlette.types import ASGIApp

from .testing import CallSimulator

__all__ = ["SimulatorFactory", "jambonz_simulator"]


class SimulatorFactory(Protocol):
    """What ``jambonz_simulator`` gives: it takes the arguments of :class:`~.testing.CallSimulator`."""

    def __call__(
        self,
        target: ASGIApp | str,
        *,
        call_hook: str = "/incoming",
        status_hook: str | None = "/status",
        transport: Literal["http", "websocket"] | None = None,
        secret: str | bytes | Literal[False] | None = None,
        basic_auth: tuple[str, str] | Literal[False] | None = None,
        method: Literal["POST", "GET"] = "POST",
        timeout: float = 10.0,
        ack_timeout: float = 5.0,
        **payload: Any,
    ) -> CallSimulator:
        """A simulator of calls to ``target`` (an ASGI app, or its URL), closed after the test."""
        ...


@pytest.fixture
def jambonz_simulator() -> Iterator[SimulatorFactory]:
    """A factory of :class:`~jambonz_webhooks.testing.CallSimulator`; each is closed when the test ends."""
    opened: list[CallSimulator] = []

    def factory(target: ASGIApp | str, **options: Any) -> CallSimulator:
        simulator = CallSimulator(target, **options).__enter__()
        opened.append(simulator)
        return simulator

    yield factory
    for simulator in reversed(opened):
        simulator.close()
