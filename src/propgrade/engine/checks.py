"""How graders declare checks: one property, one id, one sentence a student understands.

A check is ``prop(case, student)`` or ``prop(case, student, reference)``: ``case`` is drawn
from a Hypothesis strategy, ``student`` calls the submission's functions in the worker, and
``reference`` calls the hidden solution in the trusted process. A check that takes
``reference`` can never be released to students.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import assume as hypothesis_assume
from hypothesis.control import currently_in_test_context
from hypothesis.strategies import SearchStrategy

from propgrade.errors import GraderError
from propgrade.sandbox.calls import CallOutcome, StudentFailure, Value

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class StudentProxy(Protocol):
    """Calls into the submission. Every call crosses the process boundary as data.

    Keyword arguments are passed on (``student.call("adam", w, dw, config=cfg)``), except
    that ``outcome`` keeps ``trace`` and ``echo_args`` for itself.
    """

    def call(self, function: str, /, *args: Value, **kwargs: Value) -> Value: ...

    def map(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]: ...

    def outcome(
        self,
        function: str,
        /,
        *args: Value,
        trace: bool = False,
        echo_args: bool = False,
        **kwargs: Value,
    ) -> CallOutcome: ...

    def new(self, cls: str, /, *args: Value, **kwargs: Value) -> StudentObjectProxy: ...

    def __getattr__(self, function: str) -> Callable[..., Value]: ...


class StudentObjectProxy(Protocol):
    """An object of the submission's class, built afresh in the worker for every call
    (``student.new``): ``then`` adds a setup call, the rest call a method."""

    def then(self, method: str, /, *args: Value, **kwargs: Value) -> StudentObjectProxy: ...

    def call(self, method: str, /, *args: Value, **kwargs: Value) -> Value: ...

    def map(
        self,
        method: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]: ...

    def outcome(
        self,
        method: str,
        /,
        *args: Value,
        trace: bool = False,
        echo_args: bool = False,
        **kwargs: Value,
    ) -> CallOutcome: ...

    def __getattr__(self, method: str) -> Callable[..., Value]: ...


class ReferenceProxy(Protocol):
    def new(self, cls: str, /, *args: Any, **kwargs: Any) -> Any: ...

    def __getattr__(self, function: str) -> Callable[..., Any]: ...


Property = Callable[..., None]


@dataclass(frozen=True)
class Check:
    id: str
    sentence: str
    strategy: SearchStrategy[Any]
    prop: Property
    uses_reference: bool
    max_examples: int | None = None
    # What a student who fails this check should look at. Declared with the check, so a
    # hint never depends on how the check happens to be named; grading.yaml may override it.
    hint: str = ""

    def run(self, case: Any, student: StudentProxy, reference: ReferenceProxy | None) -> None:
        if self.uses_reference:
            if reference is None:
                raise GraderError(f"check {self.id!r} needs the reference solution")
            self.prop(case, student, reference)
        else:
            self.prop(case, student)


@dataclass(frozen=True)
class CheckGroup:
    """Several checks made from one property, e.g. one per student function."""

    checks: tuple[Check, ...]

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)


def _validate_id(check_id: str) -> None:
    if not _ID.match(check_id):
        raise GraderError(
            f"check id {check_id!r} is not valid",
            hint="use lowercase letters, digits and underscores, starting with a letter",
        )


def _uses_reference(fn: Callable[..., Any], extra: int) -> bool:
    params = list(inspect.signature(fn).parameters)
    expected = 2 + extra
    if len(params) == expected:
        return False
    if len(params) == expected + 1 and params[expected] == "reference":
        return True
    raise GraderError(
        f"property {fn.__qualname__} must take (case, student[, reference]) "
        f"{'plus the group parameter ' if extra else ''}but takes ({', '.join(params)})"
    )


def _validate_hint(check_id: str, hint: object) -> str:
    if hint is None:
        return ""
    if not isinstance(hint, str) or not hint.strip():
        raise GraderError(
            f"check {check_id!r}: hint={hint!r} is not a hint",
            hint="pass a sentence for a student who fails this check, or leave hint out",
        )
    return hint.strip()


def _format(text: str, what: str, check_id: str, key: str, value: Any) -> str:
    try:
        return text.format(key=key, fn=value)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise GraderError(
            f"check {check_id!r}: its {what} cannot be formatted: {exc!r}",
            hint="only {key} and {fn} are filled in; write a literal brace as {{ or }}",
        ) from None


def check(
    check_id: str,
    sentence: str,
    strategy: SearchStrategy[Any],
    *,
    max_examples: int | None = None,
    hint: str | None = None,
) -> Callable[[Property], Check]:
    """Declare one check. ``hint`` is shown to a student whose code fails it (a check
    without one gets a generic hint)."""
    _validate_id(check_id)
    declared = _validate_hint(check_id, hint)

    def wrap(fn: Property) -> Check:
        return Check(
            check_id,
            sentence,
            strategy,
            fn,
            _uses_reference(fn, 0),
            max_examples,
            hint=declared,
        )

    return wrap


def check_each(
    variants: Mapping[str, Any],
    check_id: str,
    sentence: str,
    strategy: SearchStrategy[Any] | Callable[[Any], SearchStrategy[Any]],
    *,
    max_examples: int | None = None,
    hint: str | None = None,
) -> Callable[[Callable[..., None]], CheckGroup]:
    """Declare one check per variant: ``prop(case, student, variant[, reference])``.

    ``check_id``, ``sentence`` and ``hint`` are formatted with ``key`` (the variant's key)
    and ``fn`` (its value) — e.g. ``"{key}_nonnegative"`` with
    ``{"svm_naive": "svm_loss_naive"}``. ``strategy`` may be a function of the variant's value.
    """
    declared = _validate_hint(check_id, hint)

    def wrap(fn: Callable[..., None]) -> CheckGroup:
        uses_reference = _uses_reference(fn, 1)
        made = []
        for key, value in variants.items():
            cid = _format(check_id, "id", check_id, key, value)
            _validate_id(cid)
            strat = (
                strategy(value)
                if callable(strategy) and not isinstance(strategy, SearchStrategy)
                else strategy
            )
            assert isinstance(strat, SearchStrategy)
            made.append(
                Check(
                    cid,
                    _format(sentence, "sentence", cid, key, value),
                    strat,
                    _bind(fn, value, uses_reference),
                    uses_reference,
                    max_examples,
                    hint=_format(declared, "hint", cid, key, value),
                )
            )
        return CheckGroup(tuple(made))

    return wrap


def _bind(fn: Callable[..., None], value: Any, uses_reference: bool) -> Property:
    if uses_reference:

        def with_reference(case: Any, student: StudentProxy, reference: ReferenceProxy) -> None:
            fn(case, student, value, reference)

        bound: Property = with_reference
    else:

        def without_reference(case: Any, student: StudentProxy) -> None:
            fn(case, student, value)

        bound = without_reference
    bound.__qualname__ = f"{fn.__qualname__}[{value}]"
    bound.__name__ = fn.__name__
    bound.__module__ = fn.__module__
    return bound


class CaseRejected(Exception):
    """Raised by ``assume`` outside Hypothesis: the case does not apply to this check."""


def assume(condition: object) -> None:
    """Skip the current case unless ``condition`` holds (like ``hypothesis.assume``).

    Properties also run outside Hypothesis, when drawn cases are replayed against a
    submission; there a rejected case is simply not counted.
    """
    if currently_in_test_context():
        hypothesis_assume(condition)
    elif not condition:
        raise CaseRejected()


class CheckFailed(AssertionError):
    """A property does not hold. ``expected``/``got`` are shown to the student.

    ``hint`` names the mistake where the property can tell which one it is (a check may
    catch several real mistakes): it is shown instead of the check's declared hint.
    """

    def __init__(
        self, message: str, *, expected: object = None, got: object = None, hint: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.hint = hint


class StudentCallFailed(AssertionError):
    """A call into the student's code produced no value (exception, timeout, crash...)."""

    def __init__(self, function: str, failure: StudentFailure) -> None:
        super().__init__(f"{function}(...) {_failure_phrase(failure, function)}")
        self.function = function
        self.failure = failure


def _failure_phrase(failure: StudentFailure, function: str = "") -> str:
    if failure.kind.value == "exception":
        # The worker says "f() raised ValueError: ..." already: say it once.
        for prefix in (f"{function}() raised ", "raised "):
            if function and failure.message.startswith(prefix):
                return f"raised {failure.message[len(prefix) :]}"
    return {
        "exception": "raised an exception",
        "timeout": "ran past its time limit",
        "crash": "crashed the worker process",
        "budget": "was not run: the submission's time budget was used up",
        "protocol": "returned data that could not be read",
        "missing": "is not defined in the submission",
        "skipped": "was not run: it timed out or crashed too often already",
        "inconsistent": "returned a different result while its Python work was counted",
        "too_large": "returned more data than the grader accepts for this call",
        "unsupported": "returned a value that cannot be sent back to the grader",
    }.get(failure.kind.value, "failed") + f": {failure.message}"


def collect_checks(namespace: Mapping[str, object]) -> list[Check]:
    """Every Check (also inside CheckGroups) found among a module's attributes."""
    found: list[Check] = []
    for value in namespace.values():
        if isinstance(value, Check):
            found.append(value)
        elif isinstance(value, CheckGroup):
            found.extend(value.checks)
    return found
