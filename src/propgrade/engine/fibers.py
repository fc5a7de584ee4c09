"""Property runs that pause at a call the worker has not answered yet, and resume later.

Every property run is a ``Fiber``: a greenlet that runs its body once, from the start to
the end, pausing whenever it needs answers the worker has not given yet. The engine
resumes the fibers one after another, gathers what each is waiting for into one batch of
calls, and resumes them again once the worker has answered. So a body runs once per case
however many rounds of calls it needs: a chain of n dependent calls (n optimizer steps)
costs n lookups, not the n²/2 of replaying it from the start each round, and a body that
makes its calls in one round is not run twice.

Fibers never run at the same time as each other or as the engine (a greenlet runs only
when switched to, on the engine's own thread), so the calls of every round, their order
and hence the grade are exactly those of replaying (``ReplayProxy``), which the tests keep
as the yardstick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import greenlet

from propgrade.engine.proxies import CallKey, ProxyBase, call_key
from propgrade.sandbox.calls import Call, CallOutcome


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
    """One property run, in a greenlet that runs only while the engine waits for it."""

    def __init__(
        self,
        body: Callable[[FiberProxy], None],
        cache: dict[CallKey, CallOutcome],
        *,
        log: bool = False,
    ) -> None:
        self._body = body
        self._cache = cache
        self._stop = False
        self._greenlet: greenlet.greenlet | None = None
        self.proxy = FiberProxy(self)
        self.waiting: dict[CallKey, Call] = {}
        self.finished = False
        # What the property raised (None when it returned): the engine judges it.
        self.raised: BaseException | None = None
        # With ``log``: every fetch's keys and calls, in order, once answered (what
        # engine/transcripts.py keeps of a run).
        self.log: list[tuple[Sequence[CallKey], Sequence[Call]]] | None = [] if log else None

    def resume(self) -> None:
        """Run until the property needs calls that are not answered yet, or ends."""
        if self.finished:
            return
        if self._greenlet is None:
            # The parent is whoever resumes first: the engine, on its own thread.
            self._greenlet = greenlet.greenlet(self._main)
        self._greenlet.switch()

    def abandon(self) -> None:
        """End a paused fiber: its property unwinds with ``Abandoned``."""
        if self._greenlet is None or self.finished:
            return
        self._stop = True
        self._greenlet.switch()

    def fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        """Called in the fiber: the cached outcomes, pausing while any is missing.

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
                if self.log is not None:
                    self.log.append((keys, calls))
                return [self._cache[key] for key in keys]
            self.waiting = missing
            assert self._greenlet is not None and self._greenlet.parent is not None
            self._greenlet.parent.switch()
            self.waiting = {}

    def _main(self) -> None:
        try:
            self._body(self.proxy)
        except BaseException as exc:
            self.raised = exc
        finally:
            self.finished = True
