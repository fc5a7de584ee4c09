"""The ``student`` and ``reference`` objects that check properties call.

Every property run pauses at a call whose answer is not cached yet (``FiberProxy`` in
fibers.py), so the engine can send all the calls of a round to the worker in one batch.
``ReplayProxy`` is the older way, kept as the yardstick: a missing call is queued and the
property abandoned with ``NeedCalls``, to be run again from the start once the batch has
been answered. Properties are deterministic functions of their case and the answers, so
both ways give the same calls in the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from propgrade.engine.checks import StudentCallFailed
from propgrade.engine.frozen import FrozenMemo
from propgrade.errors import GraderError
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    Recipe,
    Step,
    Unsupported,
    Value,
    alias_pattern,
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
    arrays: list[int] = []  # the id of every array fed, to see whether one comes twice
    _feed(h, call.args, arrays)
    if call.kwargs:
        # Only when present: keys of calls without keywords stay what they were.
        h.update(b"K")
        _feed(h, dict(call.kwargs), arrays)
    recipe = call.instance
    if recipe is not None:
        h.update(b"O" + recipe.cls.encode() + b"(")
        _feed(h, (recipe.args, dict(recipe.kwargs)), arrays)
        for step in recipe.steps:
            h.update(b"." + step.method.encode())
            _feed(h, (step.args, dict(step.kwargs)), arrays)
        h.update(b")")
    # Walking the call again for its aliasing only when some array did come twice: that
    # walk cost as much as the hashing, for calls that almost never pass one array twice.
    pattern = alias_pattern(call) if len(set(arrays)) < len(arrays) else ()
    if pattern:
        # f(X, X) and f(X, X.copy()) are different calls: code may write to one argument.
        h.update(b"S" + repr(pattern).encode())
    return (call.function, call.trace, call.echo_args, h.digest())


def _feed(h: Any, value: Any, arrays: list[int]) -> None:
    kind = type(value)
    if kind is float or kind is int or kind is str or kind is bool or value is None:
        # The usual leaves first, as the last branch would hash them.
        h.update(b"S" + kind.__name__.encode() + repr(value).encode())
    elif isinstance(value, np.ndarray):
        arrays.append(id(value))
        h.update(b"A" + _array_digest(value))
    elif isinstance(value, tuple | list):
        h.update(b"T%d(" % len(value))
        for item in value:
            _feed(h, item, arrays)
        h.update(b")")
    elif isinstance(value, dict):
        # Order counts: the student's function sees the dict in this order.
        h.update(b"D%d{" % len(value))
        for key, item in value.items():
            _feed(h, key, arrays)
            _feed(h, item, arrays)
        h.update(b"}")
    else:
        h.update(b"S" + type(value).__name__.encode() + repr(value).encode())


# Digests of arrays that can never change (``frozen``): the drawn cases' arrays go into
# the call keys of every property and every student, and hashing them again each time was
# a fifth of the grader's own work.
_FROZEN_DIGESTS: FrozenMemo[bytes] = FrozenMemo()


def _array_digest(array: np.ndarray[Any, Any]) -> bytes:
    return _FROZEN_DIGESTS.get(array, _digest_of)


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
        raise StudentCallFailed(call.label, failure)
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
        return self._answers([call])[0]

    def outcomes(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
        *,
        trace: bool = False,
        echo_args: bool = False,
    ) -> list[CallOutcome]:
        """``outcome`` of ``function(*args, **kwargs)`` for every tuple of ``args``, in one
        round trip."""
        return self._answers(
            [
                Call.of(function, tuple(args), kwargs, trace=trace, echo_args=echo_args)
                for args in arg_tuples
            ]
        )

    def _answers(self, calls: list[Call]) -> list[CallOutcome]:
        """The outcomes of ``calls``, fetched together: one round trip for all of them.

        Every way a property asks (``call``, ``outcome``, ``map``, ``outcomes``, on
        ``student`` or on a handle) comes through here: each outcome is unwrapped (a
        failure raised, no cached value shared) and checked for unsendable parts."""
        fetched = self._fetch(calls)
        return [self._seen(c, _unwrap(c, o)) for c, o in zip(calls, fetched, strict=True)]

    def call(self, function: str, /, *args: Value, **kwargs: Value) -> Value:
        return self._answers([Call.of(function, tuple(args), kwargs)])[0].value

    def map(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]:
        """``function(*args, **kwargs)`` for every tuple of ``args``, in one round trip."""
        return [outcome.value for outcome in self.outcomes(function, arg_tuples, kwargs)]

    def new(self, cls: str, /, *args: Value, **kwargs: Value) -> StudentObject:
        """A handle on an object of the submission's class ``cls``, built in the worker.

        Nothing is sent yet: the handle is a recipe (the class's arguments, then the setup
        calls added with ``then``), and every call through it builds the object afresh
        from that recipe before calling the method, in the same round trip. So no check,
        and no call of a check, ever sees state that another call left in the object, and
        the same submission gets the same answers in every run::

            knn = student.new("KNearestNeighbor").then("train", case.X, case.y)
            dists = knn.compute_distances_no_loops(case.X)   # d(X, X)
            counted = knn.outcome("compute_distances_no_loops", case.X, trace=True)
        """
        return StudentObject(self, Recipe(cls, tuple(args), tuple(kwargs.items())))

    def _seen(self, call: Call, outcome: CallOutcome) -> CallOutcome:
        if isinstance(outcome.value, Unsupported | tuple | dict):
            found = find_unsupported(outcome.value)
            if found is not None:
                self.unsupported.append((call.label, *found))
        return outcome

    def __getattr__(self, function: str) -> Callable[..., Value]:
        if function.startswith("_"):
            raise AttributeError(function)

        def invoke(*args: Value, **kwargs: Value) -> Value:
            return self.call(function, *args, **kwargs)

        return invoke


class StudentObject:
    """An object of a submission's class, held as its recipe (``ProxyBase.new``).

    ``then`` returns a new handle with one more setup call; ``call``, ``outcome`` and
    ``map`` call a method as ``student.call`` calls a function, and ``handle.method(...)``
    is ``handle.call("method", ...)``. An array passed more than once in the setup calls
    and the call (``then("train", X, y)`` and then ``f(X)``) reaches the object as one
    array, as it would in the student's own notebook.
    """

    def __init__(self, proxy: ProxyBase, recipe: Recipe) -> None:
        self._proxy = proxy
        self._recipe = recipe

    @property
    def recipe(self) -> Recipe:
        return self._recipe

    def then(self, method: str, /, *args: Value, **kwargs: Value) -> StudentObject:
        """This object after ``obj.method(*args, **kwargs)``: a new handle, nothing sent."""
        step = Step(method, tuple(args), tuple(kwargs.items()))
        recipe = replace(self._recipe, steps=(*self._recipe.steps, step))
        return StudentObject(self._proxy, recipe)

    def outcome(
        self,
        method: str,
        /,
        *args: Value,
        trace: bool = False,
        echo_args: bool = False,
        **kwargs: Value,
    ) -> CallOutcome:
        call = Call.of(
            method, tuple(args), kwargs, trace=trace, echo_args=echo_args, instance=self._recipe
        )
        return self._proxy._answers([call])[0]

    def outcomes(
        self,
        method: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
        *,
        trace: bool = False,
        echo_args: bool = False,
    ) -> list[CallOutcome]:
        """``outcome`` of ``method(*args, **kwargs)`` for every tuple of ``args``, each on
        a fresh object, in one round trip."""
        recipe = self._recipe
        calls = [
            Call.of(method, tuple(a), kwargs, trace=trace, echo_args=echo_args, instance=recipe)
            for a in arg_tuples
        ]
        return self._proxy._answers(calls)

    def call(self, method: str, /, *args: Value, **kwargs: Value) -> Value:
        call = Call.of(method, tuple(args), kwargs, instance=self._recipe)
        return self._proxy._answers([call])[0].value

    def map(
        self,
        method: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]:
        """``method(*args, **kwargs)`` for every tuple of ``args``, each on a fresh object."""
        return [outcome.value for outcome in self.outcomes(method, arg_tuples, kwargs)]

    def __getattr__(self, method: str) -> Callable[..., Value]:
        if method.startswith("_"):
            raise AttributeError(method)

        def invoke(*args: Value, **kwargs: Value) -> Value:
            return self.call(method, *args, **kwargs)

        return invoke

    def __repr__(self) -> str:
        steps = "".join(f".{step.method}(...)" for step in self._recipe.steps)
        return f"<student {self._recipe.cls}(...){steps}>"


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
        getattr(self._module, function)  # a missing function fails here, as it always did

        def invoke(*args: Any, **kwargs: Any) -> Any:
            return self.answer(Call.of(function, tuple(args), kwargs))

        return invoke

    def new(self, cls: str, /, *args: Any, **kwargs: Any) -> ReferenceObject:
        """The reference's object of class ``cls``, as ``student.new`` gives the student's."""
        return ReferenceObject(self, Recipe(cls, tuple(args), tuple(kwargs.items())))

    def answer(self, call: Call) -> Any:
        """The reference's answer to ``call``, computed once per process.

        ``new`` and ``answer`` are methods: a reference function of either name is
        reached with ``answer(Call(name, args))``.
        """
        key = call_key(call)
        memo_key = (call.function, key[3])
        if memo_key not in self._memo:
            # Copies in and out: neither the reference nor a property may change what
            # the next student's check is compared with.
            self._memo[memo_key] = run_trusted(self._module, call)[0]
        return _copied(self._memo[memo_key])


class ReferenceObject:
    """An object of the reference's class, held as its recipe (``ReferenceModule.new``)."""

    def __init__(self, module: ReferenceModule, recipe: Recipe) -> None:
        self._module = module
        self._recipe = recipe

    def then(self, method: str, /, *args: Any, **kwargs: Any) -> ReferenceObject:
        step = Step(method, tuple(args), tuple(kwargs.items()))
        return ReferenceObject(
            self._module, replace(self._recipe, steps=(*self._recipe.steps, step))
        )

    def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return self._module.answer(Call.of(method, tuple(args), kwargs, instance=self._recipe))

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def invoke(*args: Any, **kwargs: Any) -> Any:
            return self.call(method, *args, **kwargs)

        return invoke


def run_trusted(module: ModuleType, call: Call) -> tuple[Any, tuple[Any, ...]]:
    """``call`` run on trusted code (the reference) in this process: its value, and its
    positional arguments as the call left them.

    Works on copies, made so that an array passed in several places is one copy, as
    the worker passes it. An object's recipe is followed as the worker follows it.
    """
    memo: dict[int, Any] = {}
    owner: Any = module
    recipe = call.instance
    if recipe is not None:
        init_kwargs = {k: _copied(v, memo) for k, v in recipe.kwargs}
        owner = getattr(module, recipe.cls)(*_copied(recipe.args, memo), **init_kwargs)
        for step in recipe.steps:
            step_kwargs = {k: _copied(v, memo) for k, v in step.kwargs}
            getattr(owner, step.method)(*_copied(step.args, memo), **step_kwargs)
    args = _copied(tuple(call.args), memo)
    kwargs = {k: _copied(v, memo) for k, v in call.kwargs}
    return getattr(owner, call.function)(*args, **kwargs), args


def _copied(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A trusted value's copy down to its arrays, dicts and lists; anything else as is.

    With ``memo``, an array met twice is copied once (aliasing is kept).
    """
    if isinstance(value, np.ndarray):
        if memo is None:
            return value.copy()
        if id(value) not in memo:
            memo[id(value)] = (value, value.copy())  # the original is kept alive: ids stay
        return memo[id(value)][1]
    # Exact types: a named tuple or a dict subclass of the reference's own is left alone.
    if type(value) is tuple:
        return tuple(_copied(item, memo) for item in value)
    if type(value) is list:
        return [_copied(item, memo) for item in value]
    if type(value) is dict:
        return {key: _copied(item, memo) for key, item in value.items()}
    return value
