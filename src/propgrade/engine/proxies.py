"""The ``student`` and ``reference`` objects that check properties call.

``ReplayProxy`` lets the engine evaluate a property for many cases with few round trips:
a call whose answer is not cached yet is queued and the property is abandoned with
``NeedCalls``; once the whole batch of queued calls has been answered by the worker, the
property is run again from the start. Properties are deterministic functions of their
case and the answers, so replaying them is safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from propgrade.engine.checks import StudentCallFailed
from propgrade.sandbox.calls import Call, CallOutcome, Value

CallKey = tuple[str, bool, bool, bytes]


class NeedCalls(BaseException):
    """Raised inside a property when answers it needs are not cached yet.

    A BaseException so that a property's own ``except Exception`` does not swallow it.
    """


def call_key(call: Call) -> CallKey:
    h = hashlib.blake2b(digest_size=16)
    _feed(h, call.args)
    return (call.function, call.trace, call.echo_args, h.digest())


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        h.update(b"A" + value.dtype.str.encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, tuple | list):
        h.update(b"T%d(" % len(value))
        for item in value:
            _feed(h, item)
        h.update(b")")
    else:
        h.update(b"S" + type(value).__name__.encode() + repr(value).encode())


def _unwrap(call: Call, outcome: CallOutcome) -> CallOutcome:
    if outcome.failure is not None:
        raise StudentCallFailed(call.function, outcome.failure)
    return outcome


class _ProxyBase:
    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        raise NotImplementedError

    def outcome(
        self, function: str, *args: Value, trace: bool = False, echo_args: bool = False
    ) -> CallOutcome:
        call = Call(function, tuple(args), trace=trace, echo_args=echo_args)
        return _unwrap(call, self._fetch([call])[0])

    def call(self, function: str, *args: Value) -> Value:
        return self.outcome(function, *args).value

    def map(self, function: str, arg_tuples: list[tuple[Value, ...]]) -> list[Value]:
        calls = [Call(function, tuple(args)) for args in arg_tuples]
        return [_unwrap(c, o).value for c, o in zip(calls, self._fetch(calls), strict=True)]

    def __getattr__(self, function: str) -> Callable[..., Value]:
        if function.startswith("_"):
            raise AttributeError(function)

        def invoke(*args: Value) -> Value:
            return self.call(function, *args)

        return invoke


class ReplayProxy(_ProxyBase):
    """Answers from a cache; queues what is missing and raises ``NeedCalls``."""

    def __init__(self, cache: dict[CallKey, CallOutcome], missing: dict[CallKey, Call]) -> None:
        self._cache = cache
        self._missing = missing

    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        found: list[CallOutcome] = []
        absent = False
        for call in calls:
            key = call_key(call)
            hit = self._cache.get(key)
            if hit is None:
                self._missing.setdefault(key, call)
                absent = True
            else:
                found.append(hit)
        if absent:
            raise NeedCalls()
        return found


class LiveProxy(_ProxyBase):
    """Sends every call to the worker at once (used while Hypothesis shrinks a failure)."""

    def __init__(
        self,
        run: Callable[[Sequence[Call]], list[CallOutcome]],
        cache: dict[CallKey, CallOutcome] | None = None,
    ) -> None:
        self._run = run
        self._cache = cache if cache is not None else {}
        self.calls_made = 0

    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        keys = [call_key(c) for c in calls]
        todo = {k: c for k, c in zip(keys, calls, strict=True) if k not in self._cache}
        if todo:
            self.calls_made += len(todo)
            answers = self._run(list(todo.values()))
            self._cache.update(zip(todo.keys(), answers, strict=True))
        return [self._cache[k] for k in keys]


class ReferenceModule:
    """The hidden solution, imported in the trusted process, with memoized calls.

    Every student is compared against the same cases, so each reference answer is
    computed once per process, not once per student.
    """

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._memo: dict[tuple[str, bytes], Any] = {}

    def __getattr__(self, function: str) -> Callable[..., Any]:
        if function.startswith("_"):
            raise AttributeError(function)
        target = getattr(self._module, function)

        def invoke(*args: Any) -> Any:
            key = call_key(Call(function, tuple(args)))
            memo_key = (function, key[3])
            if memo_key not in self._memo:
                copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
                self._memo[memo_key] = target(*copies)
            return self._memo[memo_key]

        return invoke
