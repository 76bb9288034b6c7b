"""Hook deadlines: the task answering a hook is cancelled when its handler runs past its time.

``asyncio.timeout`` arms and disarms an event-loop timer for every request, some 5 µs each on
the hot path. Here every hook in flight shares one timer per event loop that ticks while there
is something to watch: starting a deadline is an insertion into an ordered dict, and finishing
it takes it out again, so nothing of a finished request (its task, its frame's objects) waits
for the next tick to be freed. A deadline fires within :data:`TICK` of its time (8 s by
default, jambonz waits 10).
"""

from __future__ import annotations

import asyncio
import weakref

__all__ = ["TICK", "Deadline", "Deadlines", "deadlines"]

TICK = 0.05
"""Seconds between two checks of the deadlines in flight (while there are any)."""


class Deadline:
    """One hook's deadline, started by :meth:`Deadlines.start`; ``finish()`` it when the work ends."""

    __slots__ = ("expired", "finished", "queue", "task", "when")

    def __init__(self, task: asyncio.Task[object], when: float, queue: dict[Deadline, None]) -> None:
        self.task = task
        self.when = when
        self.queue = queue
        self.finished = False
        self.expired = False
        """Whether the deadline passed and the task was cancelled for it."""

    def finish(self) -> bool:
        """Stop watching; True if the deadline had passed (the task's cancellation is then undone).

        Call it in the ``except``/``finally`` that handles the work's end, in the same task; a
        second call changes nothing.
        """
        if self.finished:
            return self.expired
        self.finished = True
        # Out of the watch at once, so that a request's task and objects are freed when it
        # ends: held to the next tick, a loaded server's thousands a second kept the garbage
        # collector running a hundred times a second.
        self.queue.pop(self, None)
        if self.expired:
            # The cancellation was ours and is handled: the task is not being cancelled any more.
            self.task.uncancel()
        return self.expired


class _Watch:
    """The deadlines in flight on one event loop, in queues by duration (each in time order).

    A queue is an insertion-ordered dict used as a set: a deadline leaves it in O(1) when it
    finishes, and a tick stops at the first deadline of each queue that is still to come.
    """

    __slots__ = ("__weakref__", "handle", "loop", "queues")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queues: dict[float, dict[Deadline, None]] = {}
        self.handle: asyncio.TimerHandle | None = None

    def check(self) -> None:
        now = self.loop.time()
        watching = False
        for seconds, queue in list(self.queues.items()):
            # Same duration, started in order: each queue is in the order of its deadlines.
            expired = []
            for deadline in queue:
                if deadline.when > now:
                    break
                expired.append(deadline)
            for deadline in expired:
                del queue[deadline]
                deadline.expired = True
                deadline.task.cancel("the hook's deadline passed")
            if queue:
                watching = True
            else:
                del self.queues[seconds]
        self.handle = self.loop.call_at(now + TICK, self.check) if watching else None

    def expire_all(self, reason: str) -> int:
        """Expire every deadline in flight now, as if its time had come; how many there were."""
        count = 0
        for queue in self.queues.values():
            for deadline in queue:
                deadline.expired = True
                deadline.task.cancel(reason)
                count += 1
        self.queues.clear()
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        return count


class Deadlines:
    """Starts hook deadlines on the running event loop (one watch per loop)."""

    __slots__ = ("_last", "_watches")

    def __init__(self) -> None:
        self._watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = (
            weakref.WeakKeyDictionary()
        )
        self._last: _Watch | None = None

    def start(self, seconds: float) -> Deadline:
        """Cancel the current task in ``seconds`` unless the returned deadline is finished first."""
        loop = asyncio.get_running_loop()
        watch = self._last
        if watch is None or watch.loop is not loop:
            watch = self._watches.get(loop)
            if watch is None:
                watch = self._watches[loop] = _Watch(loop)
            self._last = watch
        # _Watch.add, inlined: this runs for every hook request, and a call fewer shows under load.
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a hook deadline needs a running task")
        queue = watch.queues.get(seconds)
        if queue is None:
            queue = watch.queues[seconds] = {}
        deadline = Deadline(task, loop.time() + seconds, queue)
        queue[deadline] = None
        if watch.handle is None:
            watch.handle = loop.call_at(min(deadline.when, loop.time() + TICK), watch.check)
        return deadline

    def expire_all(self) -> int:
        """Expire every deadline in flight on the running event loop now; how many there were.

        The server calls it when its graceful shutdown runs out of time: each hook still running
        is answered as at its own deadline (a call or action hook with its fallback verbs, a
        status hook's handler cancelled), rather than cut off without an answer.
        """
        watch = self._watches.get(asyncio.get_running_loop())
        return 0 if watch is None else watch.expire_all("the server is shutting down")


deadlines = Deadlines()
"""The process's deadlines (every app shares them: one timer per event loop)."""
