"""Grading one submission: run the properties on the drawn cases, then shrink what failed.

``prepare`` does the per-assignment work once (load graders and reference, draw cases);
``grade_submission`` then costs one worker and a few batched round trips per student.
"""

from __future__ import annotations

import itertools
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from propgrade.config import AssignmentConfig
from propgrade.engine import gating, shrinking
from propgrade.engine.cases import draw_cases
from propgrade.engine.checks import CaseRejected, Check, CheckFailed, StudentCallFailed
from propgrade.engine.display import format_value
from propgrade.engine.fibers import Fiber
from propgrade.engine.fingerprint import file_digest, plan_fingerprint
from propgrade.engine.loading import load_checks, load_reference
from propgrade.engine.memory import grading_memory_limit
from propgrade.engine.proxies import CallKey, NeedCalls, ProxyBase, ReferenceModule, ReplayProxy
from propgrade.engine.results import (
    FAILED,
    PASSED,
    CheckResult,
    Feedback,
    SubmissionResult,
    withhold_reference,
)
from propgrade.engine.review import review_reasons
from propgrade.engine.traced import reference_witness
from propgrade.engine.transcripts import AnswerDigests, Ended, Replay, Transcripts
from propgrade.errors import ConfigError
from propgrade.sandbox.calls import (
    SENDABLE,
    Call,
    CallOutcome,
    FailureKind,
    Limits,
    StudentFailure,
)
from propgrade.sandbox.layer_choice import default_layer
from propgrade.sandbox.layers import Layer
from propgrade.sandbox.worker import Worker

MAX_SHRINK_STEPS = 40
# Every property run is a fiber (engine/fibers.py) that runs its body once, pausing for
# answers. Replaying bodies from the start in each round (``ReplayProxy``) gives the same
# calls in the same order and hence the same grades, at about 2.4 body runs per case; it is
# kept, for this many rounds, as the yardstick the tests compare the fibers with.
REPLAY_ROUNDS = 0
SHRINK_CHUNK = 12
_NO_SHRINK = {
    FailureKind.TIMEOUT,
    FailureKind.CRASH,
    FailureKind.BUDGET,
    FailureKind.SKIPPED,
    FailureKind.TOO_LARGE,
}


@dataclass
class Plan:
    """Everything about an assignment that does not depend on the submission."""

    assignment: AssignmentConfig
    checks: list[Check]
    cases: dict[str, list[Any]]
    budgets: dict[str, int]
    reference: ReferenceModule | None
    layer: Layer | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # The runs of the drawn cases, kept to end the same way for the next student whose
    # answers are the same (engine/transcripts.py); None: every body runs.
    transcripts: Transcripts | None = field(default_factory=Transcripts)

    @property
    def limits(self) -> Limits:
        return self.assignment.limits


def prepare(
    assignment: AssignmentConfig, *, public_only: bool = False, layer: Layer | None = None
) -> Plan:
    """Load graders and reference and draw every check's cases."""
    checks = matched_checks(assignment, public_only=public_only)
    reference = None
    if any(c.uses_reference for c in checks):
        ref_file = assignment.reference_file
        if ref_file is None:
            raise ConfigError(
                f"{assignment.source}: assignments.{assignment.name}.solution: "
                "hidden checks need the reference solution but no 'solution' folder is set"
            )
        reference = ReferenceModule(load_reference(ref_file))
    budgets: dict[str, int] = {}
    cases: dict[str, list[Any]] = {}
    seed = assignment.hypothesis.seed
    # Checks sharing a strategy object get the very same cases: drawing is the costly part,
    # and identical cases let the call cache answer several checks with one worker call.
    drawn: dict[tuple[int, int], list[Any]] = {}
    for c in checks:
        cfg = assignment.check(c.id)
        budgets[c.id] = cfg.max_examples or c.max_examples or assignment.hypothesis.max_examples
        key = (id(c.strategy), budgets[c.id])
        if key not in drawn:
            drawn[key] = draw_cases(c, budgets[c.id], seed)
        cases[c.id] = drawn[key]
    meta = plan_fingerprint(assignment, with_reference=reference is not None)
    layer = layer or default_layer()
    meta["sandbox"] = layer.name
    return Plan(assignment, checks, cases, budgets, reference, layer, meta)


def matched_checks(assignment: AssignmentConfig, *, public_only: bool = False) -> list[Check]:
    """The graders' checks in grading.yaml's order, once each entry matches a grader.

    ``grade`` and ``release`` both go through here, so a misspelt check id is refused the
    same way by both (with the nearest id the graders define).
    """
    loaded = {c.id: c for c in load_checks(assignment.graders, public_only=public_only)}
    configured = [c.id for c in assignment.checks]
    _match_checks(assignment, loaded, configured, public_only)
    return [loaded[cid] for cid in configured if cid in loaded]


def _match_checks(
    assignment: AssignmentConfig,
    loaded: dict[str, Check],
    configured: list[str],
    public_only: bool,
) -> None:
    import difflib

    where = f"{assignment.source}: assignments.{assignment.name}.checks"
    for cid in configured:
        if cid not in loaded and not public_only:
            close = difflib.get_close_matches(cid, list(loaded), n=1)
            raise ConfigError(
                f"{where}.{cid}: no grader defines this check",
                hint=f"did you mean {close[0]!r}?"
                if close
                else f"graders are in {assignment.graders}",
            )
    for cid in loaded:
        if cid not in configured:
            raise ConfigError(
                f"{where}: check {cid!r} is defined by a grader but has no entry here",
                hint=f"add '{cid}: {{points: 1, visibility: visible}}' under checks",
            )


@dataclass
class _Run:
    check: Check
    index: int
    case: Any
    error: BaseException | None = None
    done: bool = False
    skipped: bool = False


def _evaluate(
    plan: Plan,
    worker: Worker,
    cache: dict[CallKey, CallOutcome],
    runs: list[_Run],
    *,
    stop_at_first_failure: bool = True,
    digests: AnswerDigests | None = None,
) -> list[_Run]:
    """Run properties on cases, fetching missing answers from the worker in batched rounds.

    There is no cap on rounds: a property may chain many dependent calls (optimizer
    steps). Every round answers at least one new call, and once the submission's time
    budget is spent each further call is answered at once with a budget failure, which
    ends the property.

    With ``digests`` (the answers' digests for this submission's cache), ``runs`` are of
    drawn cases: a run whose answers match a kept run's is walked along it (``Replay``)
    instead of running its body, and the runs whose bodies ran are kept.
    """
    pending = list(runs)
    transcripts = plan.transcripts if digests is not None else None
    replays: dict[int, Replay] = {}
    if transcripts is not None and digests is not None:
        for run in runs:
            replay = transcripts.replay(run.check.id, run.index, run.case, digests)
            if replay is not None:
                replays[id(run)] = replay
    witness = None if plan.reference is None else reference_witness(plan.reference)
    fibers: dict[int, Fiber] = {}
    # Per check, the index of its first failing case: later cases need no calls.
    first_fail: dict[str, int] = {}
    for run in runs:
        _note_failure(run, first_fail)
    rounds = 0
    try:
        while True:
            # What each run still waiting needs: gathered after the round, so that the
            # calls of a case dropped behind its check's first failure are not sent.
            waiting: dict[int, dict[CallKey, Call]] = {}
            still: list[_Run] = []
            for run in pending:
                replay = replays.get(id(run))
                if replay is not None:
                    replay.resume(cache)
                    if replay.ended is not None:
                        ended = replay.ended
                        run.error, run.skipped, run.done = ended.error, ended.skipped, True
                        _note_failure(run, first_fail)
                        assert transcripts is not None
                        transcripts.replayed += 1
                        continue
                    if not replay.diverged:
                        waiting[id(run)] = replay.waiting
                        still.append(run)
                        continue
                    # Answers no kept run got: the body runs, through the answers so far
                    # (all cached) and on.
                    del replays[id(run)]
                fiber = fibers.get(id(run))
                if fiber is None and rounds < REPLAY_ROUNDS:
                    needs: dict[CallKey, Call] = {}
                    proxy: ProxyBase = ReplayProxy(cache, needs)
                    try:
                        run.check.run(run.case, proxy, plan.reference)
                    except NeedCalls:
                        waiting[id(run)] = needs
                        still.append(run)
                    except BaseException as exc:
                        _judge(run, proxy, exc)
                        _note_failure(run, first_fail)
                    else:
                        run.done = True
                    continue
                if fiber is None:
                    # A run replayed so far replays up to the same unanswered calls in
                    # its fiber, and from then on continues.
                    fiber = fibers[id(run)] = Fiber(
                        _body_of(run, plan), cache, log=transcripts is not None
                    )
                fiber.resume()
                if fiber.finished:
                    if fiber.raised is None:
                        run.done = True
                    else:
                        _judge(run, fiber.proxy, fiber.raised)
                        _note_failure(run, first_fail)
                    if transcripts is not None and digests is not None and fiber.log is not None:
                        _keep(transcripts, run, fiber.log, digests)
                    continue
                waiting[id(run)] = fiber.waiting
                still.append(run)
            rounds += 1
            if stop_at_first_failure and first_fail:
                # Only the first failing case of a check is reported.
                pending = [r for r in still if r.index < first_fail.get(r.check.id, r.index + 1)]
            else:
                pending = still
            missing: dict[CallKey, Call] = {}
            for run in pending:
                for key, call in waiting[id(run)].items():
                    missing.setdefault(key, call)
            if not missing or not pending:
                break
            batch = _without_echo_twins(missing)
            answers = worker.run(list(batch.values()), witness=witness, keys=list(batch))
            cache.update(zip(batch.keys(), answers, strict=True))
            _answer_from_echo_twins(cache, missing)
    finally:
        for fiber in fibers.values():
            fiber.abandon()
    for run in pending:
        if not run.done:
            # Only a property that raises NeedCalls itself gets here: it asked for no call.
            run.error = _waited_for_nothing()
            run.done = True
    return runs


def _keep(
    transcripts: Transcripts,
    run: _Run,
    log: Sequence[tuple[Sequence[CallKey], Sequence[Call]]],
    digests: AnswerDigests,
) -> None:
    """Keep a finished run's path, unless it ended in a grader fault: that error is
    reported with its traceback, which a kept run does not keep."""
    if run.error is None or isinstance(run.error, AssertionError):
        ended = Ended(run.error, run.skipped)
        transcripts.keep(run.check.id, run.index, run.case, log, digests, ended)


def _body_of(run: _Run, plan: Plan) -> Callable[[ProxyBase], None]:
    def body(student: ProxyBase) -> None:
        run.check.run(run.case, student, plan.reference)

    return body


def _waited_for_nothing() -> RuntimeError:
    return RuntimeError("the property waited for calls without making any")


def _judge(run: _Run, proxy: ProxyBase, raised: BaseException) -> None:
    """Record how a property run ended when it raised ``raised``."""
    if isinstance(raised, NeedCalls):
        # A property that raises NeedCalls itself asked for no call: nothing will come.
        run.error = _waited_for_nothing()
    elif isinstance(raised, CaseRejected):
        run.skipped = True
    elif isinstance(raised, Exception):
        run.error = _blame_unsendable_result(proxy, raised)
    else:
        raise raised
    run.done = True


def _blame_unsendable_result(proxy: ProxyBase, error: Exception) -> Exception:
    """The error to report when a property raised ``error`` itself.

    A property that breaks on a student's value that could not be sent (a set, an object,
    a dict with int keys where a dict was due) failed because of that value: the check
    fails for the student, and says what could have been sent, instead of being reported
    as the grader's own fault.
    """
    if isinstance(error, AssertionError) or not proxy.unsupported:
        return error
    function, where, value = proxy.unsupported[0]
    message = f"{function}(...){where} is a {value.type_name}; a function may return {SENDABLE}"
    return StudentCallFailed(function, StudentFailure(FailureKind.UNSUPPORTED, message))


def _echo_twin(key: CallKey) -> CallKey | None:
    function, trace, echo_args, digest = key
    return None if trace or echo_args else (function, False, True, digest)


def _without_echo_twins(missing: dict[CallKey, Call]) -> dict[CallKey, Call]:
    """The calls to send: a plain call is left out when the same call with echo_args is
    sent too, since the echoing call's value answers it (checks of a function's value and
    of its arguments after the call share cases, so this halves their student calls)."""
    return {k: c for k, c in missing.items() if _echo_twin(k) not in missing}


def _answer_from_echo_twins(
    cache: dict[CallKey, CallOutcome], missing: dict[CallKey, Call]
) -> None:
    for key in missing:
        twin = _echo_twin(key)
        if key in cache or twin is None:
            continue
        echoed = cache.get(twin)
        # Only a value is shared: a failed call is sent again on its own, so timeouts and
        # crashes are counted towards the function's limit as before.
        if echoed is not None and echoed.ok:
            cache[key] = replace(echoed, args_after=None)


def _note_failure(run: _Run, first_fail: dict[str, int]) -> None:
    if run.error is not None:
        first_fail[run.check.id] = min(first_fail.get(run.check.id, run.index), run.index)


def feedback_for(error: BaseException, case: Any, shrunk: bool) -> Feedback:
    counterexample = repr(case)
    if isinstance(error, CheckFailed):
        return Feedback(
            message=error.message,
            counterexample=counterexample,
            expected="" if error.expected is None else format_value(error.expected),
            got="" if error.got is None else format_value(error.got),
            shrunk=shrunk,
            hint=error.hint,
        )
    if isinstance(error, StudentCallFailed):
        return Feedback(
            message=str(error),
            counterexample=counterexample,
            traceback=error.failure.traceback,
            shrunk=shrunk,
        )
    if isinstance(error, AssertionError):
        # A plain ``assert`` in a property: the property does not hold, as in pytest.
        return Feedback(
            message=str(error) or "a property of this check does not hold",
            counterexample=counterexample,
            shrunk=shrunk,
        )
    return Feedback(
        message=f"the grader itself failed on this input (not your fault): {error!r}",
        counterexample=counterexample,
        internal_error=True,
    )


def _worth_shrinking(error: BaseException) -> bool:
    if isinstance(error, StudentCallFailed):
        return error.failure.kind not in _NO_SHRINK
    return isinstance(error, AssertionError)


def _check_result(
    plan: Plan, check: Check, feedback: Feedback | None, examples: int = 0
) -> CheckResult:
    """A scored check: full points when there is no feedback (nothing failed), else 0."""
    cfg = plan.assignment.check(check.id)
    if feedback is not None and check.uses_reference and cfg.visibility == "visible":
        feedback = withhold_reference(feedback)
    return CheckResult(
        id=check.id,
        sentence=check.sentence,
        points=cfg.points if feedback is None else 0.0,
        max_points=cfg.points,
        status=PASSED if feedback is None else FAILED,
        visibility=cfg.visibility,
        feedback=feedback,
        examples=examples,
        hint=cfg.hint or check.hint,
    )


def zero_result(
    plan: Plan,
    student: str,
    message: str,
    *,
    seconds: float = 0.0,
    internal_error: bool = False,
) -> SubmissionResult:
    """Every check failed for one reason: no file, no import, or a grader fault."""
    feedback = Feedback(message=message, internal_error=internal_error)
    return SubmissionResult(
        student=student,
        assignment=plan.assignment.name,
        checks=[_check_result(plan, c, feedback) for c in plan.checks],
        error=message,
        seconds=seconds,
        meta=dict(plan.meta),
    )


def grade_submission(plan: Plan, student: str, folder: Path) -> SubmissionResult:
    """Grade the graded file in ``folder``. Student misbehaviour never raises here.

    The grading process may grow by ``limits.grader_memory_mb`` meanwhile (engine/memory.py);
    a submission that makes it grow more gets 0 with that reason, as a graded result (a
    rerun keeps it instead of trying again).
    """
    started = time.monotonic()
    try:
        with grading_memory_limit(plan.limits.grader_memory_mb):
            return _flagged(_grade_submission(plan, student, folder, started), folder, plan)
    except MemoryError:
        pass
    # Out of the handler: the traceback, and with it what filled the memory, is gone.
    limit = plan.limits.grader_memory_mb
    message = (
        f"grading this submission needed more than the {limit} MB of memory the grader "
        "allows one submission (limits.grader_memory_mb), so it scores 0: return only "
        "values of the documented sizes"
    )
    result = zero_result(plan, student, message, seconds=time.monotonic() - started)
    graded = folder / plan.assignment.graded_file
    result.meta["file_sha256"] = file_digest(graded) if graded.is_file() else "missing"
    result.meta["over_memory"] = True
    return _flagged(result, folder, plan)


def _flagged(result: SubmissionResult, folder: Path, plan: Plan) -> SubmissionResult:
    """``result``, with the reasons to review its graded file by hand, if there are any,
    and what its sandbox layer does not protect (asked after grading: a layer learns some
    of that, such as whether its zygote works, only once it has run a worker)."""
    if plan.layer is not None:
        result.meta["sandbox_description"] = plan.layer.describe()
    graded = folder / plan.assignment.graded_file
    try:
        source = graded.read_bytes() if graded.is_file() else b""
    except OSError:
        source = b""
    reasons = review_reasons(source)
    if reasons:
        result.meta["review"] = reasons
    return result


def _grade_submission(plan: Plan, student: str, folder: Path, started: float) -> SubmissionResult:
    graded = folder / plan.assignment.graded_file
    if not graded.is_file():
        present = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else []
        listing = ", ".join(present) if present else "nothing"
        return zero_result(
            plan,
            student,
            f"no {plan.assignment.graded_file} found in the submission (found: {listing})",
            seconds=time.monotonic() - started,
        ).with_meta(file_sha256="missing")
    with Worker(graded, plan.limits, layer=plan.layer) as worker:
        report = worker.start()
        if not report.ok:
            assert report.failure is not None
            result = zero_result(
                plan, student, report.failure.describe(), seconds=time.monotonic() - started
            )
            result.output = worker.output()
            result.meta["file_sha256"] = file_digest(graded)
            return result
        cache: dict[CallKey, CallOutcome] = {}
        runs, blocked = _evaluate_in_stages(plan, worker, cache)
        checks = _score(plan, worker, cache, runs, blocked, started)
        output = worker.output()
    meta = dict(plan.meta)
    meta["file_sha256"] = file_digest(graded)
    faults = _grader_faults(runs, checks)
    if faults:
        # Flagged like a submission that broke the grader: reported, kept out of
        # gradebooks, and graded again by the next run.
        meta["internal_error"] = faults
    return SubmissionResult(
        student=student,
        assignment=plan.assignment.name,
        checks=checks,
        output=output,
        seconds=time.monotonic() - started,
        meta=meta,
    )


def _requirements(plan: Plan) -> dict[str, tuple[str, ...]]:
    loaded = {c.id for c in plan.checks}
    # In a public-only run (``propgrade check``) a hidden requirement is not there to wait for.
    return {
        c.id: tuple(r for r in plan.assignment.check(c.id).requires if r in loaded)
        for c in plan.checks
    }


def _evaluate_in_stages(
    plan: Plan, worker: Worker, cache: dict[CallKey, CallOutcome]
) -> tuple[list[_Run], dict[str, str]]:
    """Evaluate checks stage by stage; a check whose requirement failed is not run.

    Returns the runs made and, for each blocked check, the requirement that failed.
    """
    requires = _requirements(plan)
    passed: dict[str, bool] = {}
    blocked: dict[str, str] = {}
    all_runs: list[_Run] = []
    digests = AnswerDigests(cache)
    for stage in gating.stages(plan.checks, requires):
        runnable = []
        for c in stage:
            unmet = gating.first_unmet(c.id, requires, passed)
            if unmet is None:
                runnable.append(c)
            else:
                blocked[c.id] = unmet
                passed[c.id] = False
        runs_of = {
            c.id: [_Run(c, i, case) for i, case in enumerate(plan.cases[c.id])] for c in runnable
        }
        runs = [r for own in runs_of.values() for r in own]
        _evaluate(plan, worker, cache, runs, digests=digests)
        for c in runnable:
            own = runs_of[c.id]
            passed[c.id] = all(r.error is None for r in own) and any(
                r.done and not r.skipped for r in own
            )
        all_runs.extend(runs)
    return all_runs, blocked


def _is_grader_fault(error: BaseException) -> bool:
    # pytest's meaning of assert: an AssertionError says the property does not hold.
    return not isinstance(error, AssertionError)


def _grader_faults(runs: Sequence[_Run], checks: Sequence[CheckResult]) -> str:
    """For the instructor: each check the grader failed on, with the grader's traceback."""
    first: dict[str, BaseException] = {}
    for run in runs:
        if run.error is not None and _is_grader_fault(run.error):
            first.setdefault(run.check.id, run.error)
    parts = []
    for c in checks:
        if c.feedback is None or not c.feedback.internal_error:
            continue
        error = first.get(c.id)
        if error is None:
            parts.append(f"check {c.id}: {c.feedback.message}")
        else:
            trace = "".join(traceback.format_exception(error, limit=-8))
            parts.append(f"check {c.id} raised {type(error).__name__}: {error}\n{trace}")
    return "\n".join(parts)


def _same_failure(a: BaseException, b: BaseException) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, StudentCallFailed) and isinstance(b, StudentCallFailed):
        return a.failure.kind == b.failure.kind
    return True


def _growing_chunks(candidates: Iterator[Any]) -> Iterator[list[Any]]:
    """The candidates to try together: 1, 2, 4, ... at most SHRINK_CHUNK.

    Candidates come most aggressive first, and the first one fails in about half the
    steps (318 of 612 in the fixture corpus), one of the first four in 97%: starting
    with one candidate pays for no others there, and growing keeps the round trips few
    where none fails. Candidates are made as they are taken: those behind the one that
    fails are never built.
    """
    size = 1
    while chunk := list(itertools.islice(candidates, size)):
        yield chunk
        size = min(2 * size, SHRINK_CHUNK)


def shrink_greedily(
    plan: Plan,
    worker: Worker,
    cache: dict[CallKey, CallOutcome],
    check: Check,
    case: Any,
    error: BaseException,
) -> tuple[Any, BaseException, bool]:
    """Walk to a smaller failing case through the candidates ``shrinking`` proposes.

    Hypothesis' shrinker regenerates through the strategy, which costs ~20 ms per attempt
    on array-valued cases: seconds per failed check. Cases whose class declares how its
    arrays shrink (``Shrink``), or that propose smaller valid versions of themselves
    (``shrink_candidates()``), are shrunk here instead: every step keeps the first
    candidate (in that order) that fails the same way, run in the worker like any case.
    Deterministic, and at most MAX_SHRINK_STEPS steps of shrinking.MAX_CANDIDATES.
    """
    shrunk = False
    for _ in range(MAX_SHRINK_STEPS):
        better = None
        for chunk in _growing_chunks(shrinking.candidates(case)):
            runs = [_Run(check, i, candidate) for i, candidate in enumerate(chunk)]
            # Every candidate of the chunk runs to its end: one that fails another way
            # must not hide a later one that fails this way.
            _evaluate(plan, worker, cache, runs, stop_at_first_failure=False)
            better = next(
                (r for r in runs if r.error is not None and _same_failure(r.error, error)), None
            )
            if better is not None:
                break
        if better is None or better.error is None:
            break
        case, error, shrunk = better.case, better.error, True
    return case, error, shrunk


def _score(
    plan: Plan,
    worker: Worker,
    cache: dict[CallKey, CallOutcome],
    runs: Sequence[_Run],
    blocked: dict[str, str],
    started: float,
) -> list[CheckResult]:
    by_check: dict[str, list[_Run]] = {}
    for run in runs:
        by_check.setdefault(run.check.id, []).append(run)
    by_id = {c.id: c for c in plan.checks}
    done: dict[str, CheckResult] = {}
    for c in plan.checks:
        check_runs = by_check.get(c.id, [])
        failures = [r for r in check_runs if r.error is not None]
        evaluated = sum(1 for r in check_runs if r.done and not r.skipped)
        feedback: Feedback | None = None
        if c.id in blocked:
            # a required check is listed earlier, so its result is already known
            required = done[blocked[c.id]]
            broken = required.feedback is not None and required.feedback.internal_error
            feedback = gating.blocked_feedback(by_id[required.id], grader_fault=broken)
        elif not failures and evaluated == 0:
            feedback = Feedback(
                message="the grader drew no usable example for this check",
                internal_error=True,
            )
        elif failures:
            first = min(failures, key=lambda r: r.index)
            assert first.error is not None
            case, error, shrunk = first.case, first.error, False
            over_budget = time.monotonic() - started > plan.limits.submission_seconds
            if _worth_shrinking(error) and not over_budget:
                case, error, shrunk = shrink_greedily(plan, worker, cache, c, case, error)
            feedback = feedback_for(error, case, shrunk=shrunk)
        done[c.id] = _check_result(plan, c, feedback, evaluated)
    return list(done.values())
