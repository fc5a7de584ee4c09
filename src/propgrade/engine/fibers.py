"""Property runs that pause at a call the worker has not answered yet, and resume later.

Replaying a property from the start in every round (``ReplayProxy``) is cheap for the
common property that makes its calls in one or two rounds, but a chain of n dependent
calls (n optimizer steps, each from the previous step's result) then costs n²/2 cache
lookups, each hashing its arguments again: most of the grading time of such a check.

A run that is still waiting after a couple of rounds moves to a ``Fiber``: a thread of its
own that replays once up to its first unanswered call and from then on only continues.
Fibers never run at the same time as each other or as the engine: ``resume`` hands control
over and waits until the fiber pauses or ends. So the calls of every round, their order
and hence the grade are exactly those of replaying, only without repeating the work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from propgrade.engine.proxies import CallKey, ProxyBase, call_key
from propgrade.sandbox.calls import Call, CallOutcome

# A paused fiber that is never resumed must not keep the grader alive, and one told to
# stop has this long to unwind (it only runs the property's own `finally` blocks).
_JOIN_SECONDS = 10.0


class Abandoned(BaseException):
    """Raised inside a paused fiber whose answers will never come (a BaseException, so a
    property's own ``except Exception`` does not swallow it)."""


class FiberProxy(ProxyBase):
    """The ``student`` object of a property running in a fiber."""

    def __init__(self, fiber: Fiber) -> None:
        super().__init__()
        self._fiber = fiber

    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        return self._fiber.fetch(calls)


class Fiber:
    """One property run, in a thread that runs only while the engine waits for it."""

    def __init__(
        self, body: Callable[[FiberProxy], None], cache: dict[CallKey, CallOutcome]
    ) -> None:
        self._body = body
        self._cache = cache
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self._stop = False
        self._thread: threading.Thread | None = None
        self.proxy = FiberProxy(self)
        self.waiting: dict[CallKey, Call] = {}
        self.finished = False
        # What the property raised (None when it returned): the engine judges it.
        self.raised: BaseException | None = None

    def resume(self) -> None:
        """Run until the property needs calls that are not answered yet, or ends."""
        if self.finished:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="propgrade-fiber", daemon=True)
            self._thread.start()
        else:
            self._go.release()
        self._back.acquire()

    def abandon(self) -> None:
        """End a paused fiber: its property unwinds with ``Abandoned``."""
        if self._thread is None or self.finished:
            return
        self._stop = True
        self._go.release()
        if self._back.acquire(timeout=_JOIN_SECONDS):
            self._thread.join(_JOIN_SECONDS)

    def fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        """Called in the fiber's thread: the cached outcomes, pausing while any is missing.

        A round may leave a call unanswered (one answered by its echoing twin only when
        that succeeded), so the fiber asks again, as a replay would.
        """
        keys = [call_key(c) for c in calls]
        while True:
            if self._stop:
                raise Abandoned()
            missing: dict[CallKey, Call] = {}
            for key, call in zip(keys, calls, strict=True):
                if key not in self._cache:
                    missing.setdefault(key, call)
            if not missing:
                return [self._cache[key] for key in keys]
            self.waiting = missing
            self._back.release()
            self._go.acquire()
            self.waiting = {}

    def _main(self) -> None:
        try:
            self._body(self.proxy)
        except BaseException as exc:
            self.raised = exc
        finally:
            self.finished = True
            self._back.release()
