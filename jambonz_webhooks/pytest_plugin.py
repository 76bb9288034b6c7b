"""pytest fixtures for jambonz-webhooks apps: ``jambonz_simulator``, a factory of call simulators.

Installing the package registers it with pytest (its ``pytest11`` entry point): nothing to
load, and naming it again in ``pytest_plugins`` makes pytest refuse it as registered twice.
Where the entry point is not read (the package not installed, only on ``sys.path``), load it
in the project's root ``conftest.py`` with ``pytest_plugins = ["jambonz_webhooks.pytest_plugin"]``.
Then::

    def test_support_is_closed(jambonz_simulator):
        call = jambonz_simulator(app).start()
        call.press("2")
        assert call.heard[-1].endswith("support is closed right now. Please call back tomorrow.")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

import pytest

from .testing import CallSimulator

__all__ = ["SimulatorFactory", "jambonz_simulator"]


SimulatorFactory: TypeAlias = type[CallSimulator]
"""What ``jambonz_simulator`` gives: :class:`~.testing.CallSimulator` itself, as a type checker sees
it (the same arguments, checked the same way), whose simulators are closed after the test."""


@pytest.fixture
def jambonz_simulator() -> Iterator[SimulatorFactory]:
    """A factory of :class:`~jambonz_webhooks.testing.CallSimulator`; each is closed when the test ends."""
    opened: list[CallSimulator] = []

    # A subclass rather than a function: it takes CallSimulator's arguments without writing them
    # again, so the two cannot drift apart.
    class ClosedAfterTheTest(CallSimulator):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.__enter__()
            opened.append(self)

    yield ClosedAfterTheTest
    for simulator in reversed(opened):
        simulator.close()
