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
    """The ``student`` a property gets: calls into the submission, in the sandboxed worker.

    Every call crosses the process boundary as data, both ways: numbers, strings, None,
    booleans, numeric numpy arrays, and tuples, lists and string-keyed dicts of those
    (a list arrives as a tuple, and one tuple, list or dict holds at most 64 items: see
    :doc:`limits`). A returned value of any other kind arrives as
    :class:`propgrade.Unsupported`. Keyword arguments are passed on
    (``student.call("adam", w, dw, config=cfg)``), except that ``outcome`` keeps
    ``trace`` and ``echo_args`` for itself. A call that produces no value raises
    :class:`propgrade.StudentCallFailed`.
    """

    def call(self, function: str, /, *args: Value, **kwargs: Value) -> Value:
        """``function(*args, **kwargs)`` in the submission; its return value, as data."""
        ...

    def map(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
    ) -> list[Value]:
        """``function(*args, **kwargs)`` for every tuple of ``args``, in one round trip."""
        ...

    def outcome(
        self,
        function: str,
        /,
        *args: Value,
        trace: bool = False,
        echo_args: bool = False,
        **kwargs: Value,
    ) -> CallOutcome:
        """The whole :class:`~propgrade.sandbox.calls.CallOutcome` of one call.

        ``echo_args=True`` also sends the arguments back as the function left them
        (``.args_after``), to check that inputs are unchanged; ``trace=True`` counts the
        Python work the call did (``.trace_events``), to check for loops.
        """
        ...

    def outcomes(
        self,
        function: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
        *,
        trace: bool = False,
        echo_args: bool = False,
    ) -> list[CallOutcome]:
        """``outcome`` for every tuple of ``args``, in one round trip.

        Make calls that a property compares with each other together (the Python work
        at two sizes): one round trip instead of one each, and with ``trace=True`` one
        confirming rerun in a fresh worker instead of one each.
        """
        ...

    def new(self, cls: str, /, *args: Value, **kwargs: Value) -> StudentObjectProxy:
        """A handle on an object of the submission's class ``cls``, built in the worker as
        ``cls(*args, **kwargs)`` for every call made through it (see
        :class:`~propgrade.engine.checks.StudentObjectProxy`)."""
        ...

    def __getattr__(self, function: str) -> Callable[..., Value]:
        """``student.svm_loss_naive(W, X, y, reg)`` is ``student.call("svm_loss_naive", ...)``."""
        ...


class StudentObjectProxy(Protocol):
    """An object of the submission's class, built afresh in the worker for every call
    (``student.new``): ``then`` adds a setup call, the rest call a method."""

    def then(self, method: str, /, *args: Value, **kwargs: Value) -> StudentObjectProxy:
        """The same recipe with one more setup call (``.then("train", X, y)``), made on
        the fresh object before every call through the handle this returns."""
        ...

    def call(self, method: str, /, *args: Value, **kwargs: Value) -> Value:
        """The object built, its setup calls made, then ``method(*args, **kwargs)``: its
        value, as data. ``map``, ``outcome`` and attribute calls work as on ``student``."""
        ...

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

    def outcomes(
        self,
        method: str,
        arg_tuples: Sequence[tuple[Value, ...]],
        kwargs: Mapping[str, Value] | None = None,
        *,
        trace: bool = False,
        echo_args: bool = False,
    ) -> list[CallOutcome]: ...

    def __getattr__(self, method: str) -> Callable[..., Value]: ...


class ReferenceProxy(Protocol):
    """The hidden solution, called in the trusted process: ``reference.svm_loss_naive(...)``.

    Each answer is computed once per run and copied in and out, so a property may change
    what it gets back without changing what the next student is compared with.
    """

    def new(self, cls: str, /, *args: Any, **kwargs: Any) -> Any: ...

    def __getattr__(self, function: str) -> Callable[..., Any]: ...


Property = Callable[..., None]


@dataclass(frozen=True)
class Check:
    """One declared check, as :func:`check` and :func:`check_each` make it.

    ``id`` names it in ``grading.yaml``, ``grades.csv`` and feedback; ``sentence`` is what
    a student reads; ``strategy`` draws its cases; ``prop`` is the property;
    ``uses_reference`` says whether ``prop`` takes the hidden solution (then the check may
    only live in a ``test_hidden*.py`` file); ``max_examples`` overrides the assignment's
    number of examples; ``hint`` is shown to a student who fails it.
    """

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
        """Evaluate the property on one case; it raises when the property does not hold."""
        if self.uses_reference:
            if reference is None:
                raise GraderError(f"check {self.id!r} needs the reference solution")
            self.prop(case, student, reference)
        else:
            self.prop(case, student)


@dataclass(frozen=True)
class CheckGroup:
    """Several checks made from one property, e.g. one per student function.

    What :func:`check_each` returns; iterating it gives its :class:`Check` objects.
    """

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
    """Declare one check: a property of the student's code, decorated.

    ``check_id`` is lowercase letters, digits and underscores; it names the check in
    ``grading.yaml`` (where its points and visibility are set), in ``grades.csv`` and in
    feedback. ``sentence`` is the property in words a student understands. ``strategy``
    is the Hypothesis strategy that draws the property's cases; they are drawn once per
    run from the assignment's seed and replayed against every submission.
    ``max_examples`` overrides the assignment's number of examples for this check.
    ``hint`` is shown to a student whose code fails it (a check without one gets a
    generic hint; ``grading.yaml`` may override it).

    The decorated function is the property, ``prop(case, student)``, or
    ``prop(case, student, reference)`` to compare with the hidden solution. ``student``
    calls the submission (see :class:`~propgrade.engine.checks.StudentProxy`); a
    property fails by raising :class:`CheckFailed`, by a plain ``assert``, or through an
    :mod:`propgrade.expect` helper. Any other exception is the grader's own fault, not
    the student's: the submission is reported as one that broke the grader (``propgrade
    grade`` exits with status 3) and is graded again on the next run.

    The decorator returns a :class:`Check`, which the engine finds among the module's
    names::

        >>> from hypothesis import strategies as st
        >>> from propgrade import check, expect
        >>> @check(
        ...     "square_nonnegative",
        ...     "square(x) is never negative.",
        ...     st.floats(-1e3, 1e3),
        ...     hint="A square is x * x: look for a sign that is lost.",
        ... )
        ... def square_nonnegative(x, student):
        ...     got = expect.scalar(student.call("square", x), "square(x)")
        ...     assert got >= 0, f"square({x!r}) returned {got!r}"
        >>> square_nonnegative.id, square_nonnegative.uses_reference
        ('square_nonnegative', False)

    In grading, ``student`` sends each call to the sandboxed worker. Any object with a
    ``call`` method stands in for it, which is how a property can be tried by hand::

        >>> class Negating:
        ...     def call(self, function, x):
        ...         return -x * x
        >>> square_nonnegative.run(2.0, Negating(), None)
        Traceback (most recent call last):
          ...
        AssertionError: square(2.0) returned -4.0
    """
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
    and ``fn`` (its value): ``"{key}_nonnegative"`` with
    ``{"svm_naive": "svm_loss_naive"}`` gives ``svm_naive_nonnegative``. ``strategy`` is
    a strategy, or a function of the variant's value that returns one. The property gets
    the variant's value as its third argument. Everything else is as for :func:`check`.

    Returns a :class:`CheckGroup` of the checks, in the order of ``variants``::

        >>> from hypothesis import strategies as st
        >>> from propgrade import check_each, expect
        >>> LOSSES = {"svm_naive": "svm_loss_naive", "softmax_naive": "softmax_loss_naive"}
        >>> @check_each(
        ...     LOSSES,
        ...     "{key}_nonnegative",
        ...     "{fn} never returns a negative loss.",
        ...     st.floats(0.0, 10.0),
        ... )
        ... def nonnegative(reg, student, fn):
        ...     loss = expect.scalar_value(student.call(fn, reg), f"the loss of {fn}")
        ...     assert loss >= 0, f"{fn} returned {loss!r}"
        >>> [c.id for c in nonnegative]
        ['svm_naive_nonnegative', 'softmax_naive_nonnegative']
        >>> nonnegative.checks[1].sentence
        'softmax_loss_naive never returns a negative loss.'
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
    submission; there a rejected case is simply not counted. A check whose every case is
    rejected is reported as the grader's fault ("the grader drew no usable example").
    """
    if currently_in_test_context():
        hypothesis_assume(condition)
    elif not condition:
        raise CaseRejected()


class CheckFailed(AssertionError):
    """A property does not hold. ``expected``/``got`` are shown to the student.

    ``message`` says what went wrong, in the student's terms; ``expected`` and ``got`` are
    rendered with :func:`propgrade.format_value` under "Expected:" and "Got:". ``hint``
    names the mistake where the property can tell which one it is (a check may catch
    several real mistakes): it is shown instead of the check's declared hint.

    A subclass of ``AssertionError``, so pytest reports it as a failed assertion::

        >>> from propgrade import CheckFailed
        >>> error = CheckFailed("the loss is negative", expected="a loss >= 0", got=-9.0)
        >>> isinstance(error, AssertionError), error.message, error.got
        (True, 'the loss is negative', -9.0)
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
    """A call into the student's code produced no value (exception, timeout, crash...).

    ``student.call`` raises it; a property normally lets it through, and the check fails
    with the student's traceback. ``function`` is the function called and ``failure`` says
    what happened (``failure.kind``: an exception, a timeout, a crash, the submission's
    time budget used up, a value too large or that cannot be sent, ...).
    """

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
