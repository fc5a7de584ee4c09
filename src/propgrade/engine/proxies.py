"""The ``student`` and ``reference`` objects that check properties call.

``ReplayProxy`` lets the engine evaluate a property for many cases with few round trips:
a call whose answer is not cached yet is queued and the property is abandoned with
``NeedCalls``; once the whole batch of queued calls has been answered by the worker, the
property is run again from the start. Properties are deterministic functions of their
case and the answers, so replaying them is safe. A property that is still waiting after a
couple of rounds (a chain of dependent calls) continues in a fiber instead (fibers.py).
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from propgrade.engine.checks import StudentCallFailed
from propgrade.engine.frozen import is_immutable
from propgrade.errors import GraderError
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    Unsupported,
    Value,
    find_unsupported,
    fresh_copy,
)

CallKey = tuple[str, bool, bool, bytes]


class NeedCalls(BaseException):
    """Raised inside a property when answers it needs are not cached yet.

    A BaseException so that a property's own ``except Exception`` does not swallow it.
    """


def call_key(call: Call) -> CallKey:
    h = hashlib.blake2b(digest_size=16)
    _feed(h, call.args)
    if call.kwargs:
        # Only when present: keys of calls without keywords stay what they were.
        h.update(b"K")
        _feed(h, dict(call.kwargs))
    return (call.function, call.trace, call.echo_args, h.digest())


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        h.update(b"A" + _array_digest(value))
    elif isinstance(value, tuple | list):
        h.update(b"T%d(" % len(value))
        for item in value:
            _feed(h, item)
        h.update(b")")
    elif isinstance(value, dict):
        # Order counts: the student's function sees the dict in this order.
        h.update(b"D%d{" % len(value))
        for key, item in value.items():
            _feed(h, key)
            _feed(h, item)
        h.update(b"}")
    else:
        h.update(b"S" + type(value).__name__.encode() + repr(value).encode())


# Digests of arrays that can never change (``frozen``), by id while the array lives: the
# drawn cases' arrays go into the call keys of every replay and every student, and hashing
# them again each time was a fifth of the grader's own work.
_FROZEN_DIGESTS: dict[int, tuple[weakref.ref[np.ndarray[Any, Any]], bytes]] = {}


def _array_digest(array: np.ndarray[Any, Any]) -> bytes:
    if not is_immutable(array):
        return _digest_of(array)
    key = id(array)
    known = _FROZEN_DIGESTS.get(key)
    if known is not None and known[0]() is array:
        return known[1]
    digest = _digest_of(array)
    _FROZEN_DIGESTS[key] = (weakref.ref(array, functools.partial(_forget, key)), digest)
    return digest


def _forget(key: int, _dead: object) -> None:
    _FROZEN_DIGESTS.pop(key, None)


def _digest_of(array: np.ndarray[Any, Any]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(array.dtype.str.encode() + repr(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.digest()


def _unwrap(call: Call, outcome: CallOutcome) -> CallOutcome:
    """The outcome a property sees: raises for a failure, and never shares a cached value."""
    failure = outcome.failure
    if failure is not None:
        if failure.kind is FailureKind.UNSENDABLE:
            raise UnsendableArgument(failure.message)
        raise StudentCallFailed(call.function, failure)
    if isinstance(outcome.value, np.ndarray | tuple | dict) or outcome.args_after is not None:
        args_after = outcome.args_after
        return replace(
            outcome,
            value=fresh_copy(outcome.value),
            args_after=None if args_after is None else tuple(fresh_copy(a) for a in args_after),
        )
    return outcome


class UnsendableArgument(GraderError, TypeError):
    """A property passed a value that cannot be sent: the grader's mistake, this check only."""


class ProxyBase:
    def __init__(self) -> None:
        # Values the student returned that could not be sent, with where they were: a
        # property that then breaks on one failed because of the student, not the grader.
        self.unsupported: list[tuple[str, str, Unsupported]] = []

    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        raise NotImplementedError

    def outcome(
        self,
        function: str,
        /,
        *args: Value,
        trace: bool = False,
        echo_args: bool = False,
        **kwargs: Value,
    ) -> CallOutcome:
        call = Call.of(function, tuple(args), kwargs, trace=trace, echo_args=echo_args)
        return self._seen(call, _unwrap(call, self._fetch([call])[0]))

    def call(self, function: str, /, *args: Value, **kwargs: Value) -> Value:
        call = Call.of(function, tuple(args), kwargs)
        return self._seen(call, _unwrap(call, self._fetch([call])[0])).value

    def map(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]:
        """``function(*args, **kwargs)`` for every tuple of ``args``, in one round trip."""
        calls = [Call.of(function, tuple(args), kwargs) for args in arg_tuples]
        fetched = self._fetch(calls)
        return [self._seen(c, _unwrap(c, o)).value for c, o in zip(calls, fetched, strict=True)]

    def _seen(self, call: Call, outcome: CallOutcome) -> CallOutcome:
        if isinstance(outcome.value, Unsupported | tuple | dict):
            found = find_unsupported(outcome.value)
            if found is not None:
                self.unsupported.append((call.function, *found))
        return outcome

    def __getattr__(self, function: str) -> Callable[..., Value]:
        if function.startswith("_"):
            raise AttributeError(function)

        def invoke(*args: Value, **kwargs: Value) -> Value:
            return self.call(function, *args, **kwargs)

        return invoke


class ReplayProxy(ProxyBase):
    """Answers from a cache; queues what is missing and raises ``NeedCalls``."""

    def __init__(self, cache: dict[CallKey, CallOutcome], missing: dict[CallKey, Call]) -> None:
        super().__init__()
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


class LiveProxy(ProxyBase):
    """Sends every call to the worker at once (used while Hypothesis shrinks a failure)."""

    def __init__(
        self,
        run: Callable[[Sequence[Call]], list[CallOutcome]],
        cache: dict[CallKey, CallOutcome] | None = None,
    ) -> None:
        super().__init__()
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

        def invoke(*args: Any, **kwargs: Any) -> Any:
            key = call_key(Call.of(function, tuple(args), kwargs))
            memo_key = (function, key[3])
            if memo_key not in self._memo:
                # Copies in and out: neither the reference nor a property may change what
                # the next student's check is compared with.
                copies = tuple(_copied(a) for a in args)
                self._memo[memo_key] = target(*copies, **{k: _copied(v) for k, v in kwargs.items()})
            return _copied(self._memo[memo_key])

        return invoke


def _copied(value: Any) -> Any:
    """A trusted value's copy down to its arrays, dicts and lists; anything else as is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    # Exact types: a named tuple or a dict subclass of the reference's own is left alone.
    if type(value) is tuple:
        return tuple(_copied(item) for item in value)
    if type(value) is list:
        return [_copied(item) for item in value]
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    return value
