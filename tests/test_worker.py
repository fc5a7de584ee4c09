"""The worker boundary against hostile and broken student files."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from textwrap import dedent

import numpy as np
import pytest

from propgrade.sandbox import landlock, limits, process_layer
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    Limits,
    SubclassArray,
    Unsupported,
)
from propgrade.sandbox.worker import Worker

pytestmark = pytest.mark.sandbox

FAST = Limits(call_seconds=1.0, submission_seconds=60.0, memory_mb=1024, output_bytes=4096)

MakeWorker = Callable[..., Worker]


@pytest.fixture(scope="module", params=["zygote", "exec"])
def reduced_layer(request: pytest.FixtureRequest) -> process_layer.ProcessLayer:
    """The reduced layer, with workers forked from its zygote or started by exec."""
    return process_layer.ProcessLayer(zygote=request.param == "zygote")


@pytest.fixture
def make_worker(tmp_path: Path, reduced_layer: process_layer.ProcessLayer) -> Iterator[MakeWorker]:
    workers: list[Worker] = []

    def make(source: str, limits: Limits = FAST, **kwargs: object) -> Worker:
        path = tmp_path / "losses.py"
        path.write_text(dedent(source))
        kwargs.setdefault("layer", reduced_layer)  # this module covers the reduced layer
        worker = Worker(path, limits, **kwargs)  # type: ignore[arg-type]
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def failure_kind(outcome: CallOutcome) -> FailureKind | None:
    return None if outcome.failure is None else outcome.failure.kind


def gone(pid: int) -> bool:
    """The process no longer runs (it may linger as a zombie until its parent reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


SIMPLE = """
import numpy as np

def scores(W, X):
    S = X @ W
    return float(S.sum()), S

def add(a, b):
    return a + b
"""


def test_normal_call_returns_float_and_array(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE)
    report = worker.start()
    assert report.ok and {"scores", "add"} <= set(report.functions)
    W, X = np.ones((3, 2)), np.arange(12.0).reshape(4, 3)
    [outcome] = worker.run([Call("scores", (W, X))])
    assert outcome.ok
    assert isinstance(outcome.value, tuple)
    total, S = outcome.value
    assert type(total) is float and total == float((X @ W).sum())
    assert isinstance(S, np.ndarray) and S.dtype == np.float64
    np.testing.assert_array_equal(S, X @ W)
    assert outcome.seconds >= 0


def test_numpy_scalars_come_back_as_python_scalars(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import numpy as np
        def f64(): return np.float64(1.5)
        def f32(): return np.float32(0.25)
        def i64(): return np.int64(7)
        def b(): return np.bool_(True)
        def c(): return np.complex128(1 + 2j)
        """
    )
    values = [o.value for o in worker.run([Call(n, ()) for n in ("f64", "f32", "i64", "b", "c")])]
    assert values == [1.5, 0.25, 7, True, 1 + 2j]
    assert [type(v) for v in values] == [float, float, int, bool, complex]


def test_raising_function_gives_trimmed_traceback(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        def helper(x):
            raise ValueError("margin went negative: " + str(x))

        def loss(x):
            return helper(x)
        """
    )
    [outcome] = worker.run([Call("loss", (3,))])
    assert outcome.failure is not None and outcome.failure.kind is FailureKind.EXCEPTION
    assert "ValueError: margin went negative: 3" in outcome.failure.message
    tb = outcome.failure.traceback
    assert 'raise ValueError("margin went negative: " + str(x))' in tb
    assert "losses.py" in tb and "in helper" in tb and "in loss" in tb
    assert "worker_main" not in tb and "propgrade" not in tb


def test_wrong_arity_is_an_exception_without_frames(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE)
    [outcome] = worker.run([Call("add", (1,))])
    assert failure_kind(outcome) is FailureKind.EXCEPTION
    assert outcome.failure is not None and "TypeError" in outcome.failure.message
    assert "worker_main" not in outcome.failure.traceback


def test_infinite_loop_times_out_and_worker_respawns(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE + "\ndef spin():\n    while True:\n        pass\n")
    worker.start()
    first_pid = worker.pid
    spin, after = worker.run([Call("spin", ()), Call("add", (1, 2))])
    assert failure_kind(spin) is FailureKind.TIMEOUT
    assert after.ok and after.value == 3
    assert worker.pid != first_pid
    assert first_pid is not None and gone(first_pid)


def test_signal_ignoring_loop_is_still_stopped(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import signal

        def stubborn():
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            while True:
                try:
                    pass
                except BaseException:
                    pass

        def ok():
            return 1
        """
    )
    outcomes = worker.run([Call("stubborn", ()), Call("ok", ())])
    assert [failure_kind(o) for o in outcomes] == [FailureKind.TIMEOUT, None]


def test_exit_calls_are_crash_or_exception_and_later_calls_still_run(
    make_worker: MakeWorker,
) -> None:
    worker = make_worker(
        """
        import os, sys
        def hard_exit(): os._exit(0)
        def soft_exit(): sys.exit(0)
        def interrupt(): raise KeyboardInterrupt
        def ok(): return 2.0
        """
    )
    names = ["hard_exit", "ok", "soft_exit", "ok", "interrupt"]
    hard, after_hard, soft, after_soft, interrupted = worker.run([Call(n, ()) for n in names])
    assert failure_kind(hard) is FailureKind.CRASH
    assert hard.failure is not None and "exited with status 0" in hard.failure.message
    assert after_hard.value == 2.0
    assert failure_kind(soft) is FailureKind.EXCEPTION
    assert soft.failure is not None and "SystemExit" in soft.failure.message
    assert after_soft.value == 2.0
    assert failure_kind(interrupted) is FailureKind.EXCEPTION


def test_a_crash_mid_batch_keeps_the_replies_before_it(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE + "\nimport os\ndef die():\n    os._exit(3)\n")
    calls = [Call("add", (i, 1)) for i in range(3)] + [Call("die", ()), Call("add", (9, 1))]
    outcomes = worker.run(calls)
    assert [o.value for o in outcomes[:3]] == [1, 2, 3]
    assert failure_kind(outcomes[3]) is FailureKind.CRASH
    assert outcomes[4].value == 10


def test_repeated_crashes_skip_the_function(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE + "\nimport os\ndef die():\n    os._exit(1)\n")
    outcomes = worker.run([Call("die", ())] * 4 + [Call("add", (1, 1))])
    kinds = [failure_kind(o) for o in outcomes[:4]]
    assert kinds == [FailureKind.CRASH, FailureKind.CRASH, FailureKind.SKIPPED, FailureKind.SKIPPED]
    assert outcomes[4].value == 2
    [later] = worker.run([Call("die", ())])
    assert failure_kind(later) is FailureKind.SKIPPED


@pytest.mark.parametrize(
    ("source", "kind", "text"),
    [
        ("import os\nos._exit(0)\n", FailureKind.CRASH, "exited with status 0"),
        ("while True:\n    pass\n", FailureKind.TIMEOUT, "took longer than 1 s"),
        ("def f(:\n    pass\n", FailureKind.EXCEPTION, "line 1"),
        ("import sys\nsys.exit(0)\n", FailureKind.EXCEPTION, "SystemExit"),
        ("import numpy.no_such_module_here\n", FailureKind.EXCEPTION, "ModuleNotFoundError"),
    ],
)
def test_broken_imports_give_a_failed_report(
    make_worker: MakeWorker, source: str, kind: FailureKind, text: str
) -> None:
    worker = make_worker(source)
    report = worker.start()
    assert not report.ok and report.failure is not None
    assert report.failure.kind is kind
    assert text in report.failure.message
    [outcome] = worker.run([Call("f", ())])
    assert failure_kind(outcome) is FailureKind.MISSING


def test_import_error_traceback_shows_the_students_line(make_worker: MakeWorker) -> None:
    worker = make_worker("x = 1\nimport numpy.no_such_module_here\n")
    report = worker.start()
    assert report.failure is not None
    assert "line 2" in report.failure.traceback
    assert "importlib" not in report.failure.traceback


def test_a_refused_import_that_the_file_catches_runs_its_fallback(
    make_worker: MakeWorker,
) -> None:
    # A refused import at the top binds a stand-in (only code using it fails), except
    # inside a `try` whose handler catches ImportError: there it raises, as where the
    # package is not installed, and the file's own fallback runs.
    worker = make_worker(
        """
        import numpy as np
        try:
            import yaml
        except ImportError:
            yaml = None
        try:
            from scipy.special import (
                logsumexp,
            )
        except (ValueError, ModuleNotFoundError):
            logsumexp = None
        try:
            import json5
        except ValueError:  # does not catch the refusal: a stand-in is bound
            json5 = None

        def fallbacks():
            return [yaml is None, logsumexp is None, json5 is None]
        """
    )
    assert worker.start().ok
    [outcome] = worker.run([Call("fallbacks", ())])
    assert outcome.value == (True, True, False)


def test_memory_bomb_fails_and_the_worker_continues(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE + "\ndef bomb():\n    return np.ones(2**29).sum()\n")
    bomb, after = worker.run([Call("bomb", ()), Call("add", (2, 2))])
    assert failure_kind(bomb) in (FailureKind.EXCEPTION, FailureKind.CRASH)
    if bomb.failure is not None and bomb.failure.kind is FailureKind.EXCEPTION:
        assert "MemoryError" in bomb.failure.message
    assert after.value == 4


def test_output_flood_is_capped_and_protocol_survives(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import sys
        def flood():
            chunk = "x" * 1000 + "\\n"
            for _ in range(10_000):
                print(chunk, end="")
            sys.stderr.write("y" * 1_000_000)
            return 1.0
        """
    )
    [outcome] = worker.run([Call("flood", ())])
    assert outcome.value == 1.0
    output = worker.output()
    assert output.startswith("xxxx")
    assert len(output) < FAST.output_bytes + 200
    assert "more bytes of output discarded" in output


def test_garbage_on_fd1_does_not_reach_the_protocol(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import os
        def scribble():
            os.write(1, b"xx\\xff\\x00\\x00\\x00\\x10garbage")
            print("printed")
            return 5
        """
    )
    [outcome] = worker.run([Call("scribble", ())])
    assert outcome.value == 5
    assert "printed" in worker.output() and "garbage" in worker.output()


def test_forged_bytes_on_the_protocol_fd_are_a_protocol_failure(make_worker: MakeWorker) -> None:
    # The student can find the reply pipe; what they write there is data to reject.
    worker = make_worker(
        """
        import os, stat
        def forge():
            for fd in range(3, 16):
                try:
                    if stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, b"\\xff\\xff\\xff\\xff")
                except OSError:
                    pass
            return 1
        def ok():
            return 2
        """
    )
    forged, after = worker.run([Call("forge", ()), Call("ok", ())])
    assert failure_kind(forged) is FailureKind.PROTOCOL
    assert after.value == 2


def test_objects_are_unsupported_not_compared(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import numpy as np

        class Sneaky:
            def __eq__(self, other): return True
            def __float__(self): return 0.0
            def __repr__(self): raise RuntimeError("never repr me")

        class SneakyFloat(float):
            def __eq__(self, other): return True

        class Meta(type):
            __name__ = property(lambda cls: "float")

        class Named(metaclass=Meta):
            pass

        def sneaky(): return Sneaky()
        def sneaky_float(): return SneakyFloat(1.0)
        def text(): return "0.0"
        def objects(): return np.array([Sneaky()], dtype=object)
        def in_tuple(): return (1.0, Sneaky())
        def named(): return Named()
        def generator(): return (x for x in range(3))
        """
    )
    names = ["sneaky", "sneaky_float", "text", "objects", "in_tuple", "named", "generator"]
    values = [o.value for o in worker.run([Call(n, ()) for n in names])]
    assert values[0] == Unsupported("Sneaky")
    assert values[1] == Unsupported("SneakyFloat")
    assert values[2] == "0.0"  # strings cross, and fail checks that want numbers
    assert isinstance(values[3], Unsupported) and "object" in values[3].type_name
    assert values[4] == (1.0, Unsupported("Sneaky"))
    assert values[5] == Unsupported("Named")
    assert values[6] == Unsupported("generator")


def test_ndarray_subclasses_are_sent_as_plain_arrays(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import numpy as np
        class Weird(np.ndarray):
            def __eq__(self, other): return True
        def f(): return np.arange(4.0).view(Weird)
        def matrix(): return np.asmatrix([[1.0, 2.0], [3.0, 4.0]])
        """
    )
    weird, matrix = (o.value for o in worker.run([Call("f", ()), Call("matrix", ())]))
    # Plain data with the class's name only (for the form check): none of its methods
    # crossed, and `*` multiplies elementwise here.
    assert type(weird) is SubclassArray and weird.type_name == "Weird"
    assert not np.all(weird == np.zeros(4)) and np.array_equal(weird, np.arange(4.0))
    assert type(matrix) is SubclassArray and matrix.type_name == "matrix"
    assert np.array_equal(matrix * matrix, [[1.0, 4.0], [9.0, 16.0]])
    assert matrix.copy().type_name == "matrix"


def test_echo_args_shows_in_place_mutation(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        def mutating(W, X, y, reg):
            W *= 2
            return 0.0
        def clean(W, X, y, reg):
            return float((X @ W).sum())
        """
    )
    W, X, y = np.ones((3, 2)), np.ones((4, 3)), np.array([0, 1, 1, 0])
    mutated, clean = worker.run(
        [
            Call("mutating", (W, X, y, 0.5), echo_args=True),
            Call("clean", (W, X, y, 0.5), echo_args=True),
        ]
    )
    assert mutated.args_after is not None and clean.args_after is not None
    W_after = mutated.args_after[0]
    assert isinstance(W_after, np.ndarray) and np.array_equal(W_after, 2 * W)
    # Each call gets fresh copies: the first call's mutation must not leak into the second.
    assert np.array_equal(clean.args_after[0], W)  # type: ignore[arg-type]
    assert clean.value == 24.0
    assert np.array_equal(W, np.ones((3, 2)))
    assert mutated.args_after[3] == 0.5
    # What came back unchanged is what was sent, held once (the call cache keeps replies).
    assert clean.args_after[0] is W and clean.args_after[1] is X
    assert mutated.args_after[0] is not W and mutated.args_after[1] is X


TRACED = """
import sys
import numpy as np

def naive(W, X):
    total = 0.0
    for i in range(X.shape[0]):
        total += float(X[i] @ W[:, 0])
    return total

def vectorized(W, X):
    S = X @ W
    return float(np.maximum(0, S - S[:, :1] + 1).sum())

def comprehension(W, X):
    return sum([float(row.sum()) for row in X])

def hidden(W, X):
    # A loop in code compiled under another file name is still counted.
    scope = {"W": W, "X": X}
    exec(compile("total = sum(float(r @ W[:, 0]) for r in X)", "numpy_core.py", "exec"), scope)
    return scope["total"]
"""

UNTRACE = """
import sys

def untrace(W, X):
    sys.settrace(None)
    return 0.0
"""


def test_trace_counts_separate_loops_from_vectorized_code(make_worker: MakeWorker) -> None:
    worker = make_worker(TRACED)
    W = np.ones((20, 5))
    small, large = np.ones((8, 20)), np.ones((64, 20))
    calls = [
        Call(name, (W, X), trace=True)
        for name in ("naive", "vectorized", "comprehension", "hidden")
        for X in (small, large)
    ]
    counts = [o.trace_events for o in worker.run(calls)]
    naive_small, naive_large, vec_small, vec_large, comp_small, comp_large = counts[:6]
    hidden_small, hidden_large = counts[6:]
    assert hidden_small is not None and hidden_large is not None
    assert hidden_large > hidden_small
    assert naive_small is not None and naive_large is not None
    assert naive_large > naive_small > 8
    assert vec_small == vec_large and vec_small is not None and vec_small > 0
    assert comp_large is not None and comp_small is not None and comp_large > comp_small
    [untraced] = worker.run([Call("naive", (W, small))])
    assert untraced.trace_events is None


def test_trace_tampering_is_reported(make_worker: MakeWorker) -> None:
    # A file that even names the tracing machinery gets no trusted count.
    worker = make_worker(UNTRACE)
    [outcome] = worker.run([Call("untrace", (np.ones((2, 2)), np.ones((2, 2))), trace=True)])
    assert outcome.ok and outcome.trace_events == -1


DETECTS_TRACER = """
import sys
import numpy as np

def _measured():
    # Names built from strings: the source-text scan for tracing names sees none.
    return getattr(sys._getframe(1), "f_" + "trace") is not None

def dummy_when_measured(W, X):
    if _measured():
        return 0.0, W * 0.0
    total = 0.0
    for i in range(X.shape[0]):
        total += float(X[i] @ W[:, 0])
    return total, W * 2.0

def raises_unless_measured(W, X):
    if _measured():
        return 0.0, W
    raise ValueError("only works while measured")

def sees_tracer():
    return getattr(sys, "get" + "trace")() is not None

def steady(W, X):
    return float((X @ W).sum()), X.T @ (X @ W)
"""


def test_a_traced_call_that_answers_differently_untraced_fails(make_worker: MakeWorker) -> None:
    worker = make_worker(DETECTS_TRACER)
    W, X = np.ones((3, 2)), np.ones((8, 3))
    dummy, raising, steady, untraced = worker.run(
        [
            Call("dummy_when_measured", (W, X), trace=True),
            Call("raises_unless_measured", (W, X), trace=True),
            Call("steady", (W, X), trace=True),
            Call("dummy_when_measured", (W, X)),
        ]
    )
    assert failure_kind(dummy) is FailureKind.INCONSISTENT
    assert dummy.failure is not None and dummy.trace_events is None
    assert "item 0 of the result was 0 while counted and 24 when called normally" in (
        dummy.failure.message
    )
    # Failing when called normally is the honest answer, whatever the traced call said.
    assert failure_kind(raising) is FailureKind.EXCEPTION
    assert raising.failure is not None and "only works while measured" in raising.failure.message
    assert steady.ok and steady.trace_events is not None and steady.trace_events > 0
    # An untraced call is not run twice and not compared.
    assert untraced.ok and isinstance(untraced.value, tuple) and untraced.value[0] == 24.0


EVADES_THE_LINE_COUNT = """
import sys
import threading
import numpy as np

_MEMO = {}

def _per_sample(W, X):
    total = 0.0
    for i in range(X.shape[0]):
        total += X[i].dot(W).item(0)  # C calls only: no Python frame inside the loop
    return total

def memo_dummy(W, X):
    key = (W.tobytes(), X.tobytes())
    if key not in _MEMO:
        counted = getattr(sys._getframe(), "f_" + "trace") is not None
        _MEMO[key] = 0.0 if counted else _per_sample(W, X)
    return _MEMO[key]

def lines_off_restored(W, X):
    frame = sys._getframe()
    setattr(frame, "f_" + "trace_lines", False)
    total = 0.0
    for i in range(X.shape[0]):
        total += X[i].dot(W).item(0)
    setattr(frame, "f_" + "trace_lines", True)
    return total

def lines_off(W, X):
    setattr(sys._getframe(), "f_" + "trace_lines", False)
    return float(X.sum())

def in_a_thread(W, X):
    box = []
    thread = threading.Thread(target=lambda: box.append(_per_sample(W, X)))
    thread.start()
    thread.join()
    return box[0]

def stops_profiling(W, X):
    getattr(sys, "set" + "profile")(None)
    return float(X.sum())
"""


def test_a_remembered_dummy_is_caught_by_a_rerun_in_a_fresh_process(
    make_worker: MakeWorker,
) -> None:
    # The rerun used to run in the same process, where the dummy remembered by argument
    # bytes answered it again and "agreed".
    worker = make_worker(EVADES_THE_LINE_COUNT)
    W, X = np.ones((3, 2)), np.ones((8, 3))
    [memo] = worker.run([Call("memo_dummy", (W, X), trace=True)])
    assert failure_kind(memo) is FailureKind.INCONSISTENT
    assert memo.failure is not None
    assert "was 0 while counted and 24 when called normally" in memo.failure.message


def test_a_witness_that_vouches_for_the_value_spares_the_rerun(make_worker: MakeWorker) -> None:
    worker = make_worker(EVADES_THE_LINE_COUNT)
    W, X = np.ones((3, 2)), np.ones((8, 3))
    [first] = worker.run([Call("lines_off", (W, X))])
    pid = worker.pid
    [vouched] = worker.run([Call("memo_dummy", (W, X * 2), trace=True)], witness=lambda c, v: True)
    assert vouched.ok and vouched.value == 0.0 and worker.pid == pid  # no fresh process
    assert first.ok


def test_c_calls_count_when_a_frame_switches_its_line_events_off(make_worker: MakeWorker) -> None:
    worker = make_worker(EVADES_THE_LINE_COUNT)
    W = np.ones((3, 2))
    small, large, dark = worker.run(
        [
            Call("lines_off_restored", (W, np.ones((8, 3))), trace=True),
            Call("lines_off_restored", (W, np.ones((64, 3))), trace=True),
            Call("lines_off", (W, np.ones((8, 3))), trace=True),
        ]
    )
    assert small.trace_events is not None and large.trace_events is not None
    assert large.trace_events - small.trace_events >= 2 * (64 - 8)  # .dot and .item per sample
    assert dark.ok and dark.trace_events == -1  # returned with its line events off


def test_a_profile_function_taken_away_makes_the_count_untrusted(make_worker: MakeWorker) -> None:
    worker = make_worker(EVADES_THE_LINE_COUNT)
    [outcome] = worker.run(
        [Call("stops_profiling", (np.ones((3, 2)), np.ones((8, 3))), trace=True)]
    )
    assert outcome.ok and outcome.trace_events == -1


def test_student_code_may_not_start_threads(make_worker: MakeWorker) -> None:
    worker = make_worker(EVADES_THE_LINE_COUNT)
    [outcome] = worker.run([Call("in_a_thread", (np.ones((3, 2)), np.ones((8, 3))))])
    assert failure_kind(outcome) is FailureKind.EXCEPTION
    assert outcome.failure is not None
    assert "student code may not start threads" in outcome.failure.message


def test_student_code_does_not_see_the_tracer_through_gettrace(make_worker: MakeWorker) -> None:
    worker = make_worker(DETECTS_TRACER)
    traced, plain = worker.run([Call("sees_tracer", (), trace=True), Call("sees_tracer", ())])
    assert traced.ok and traced.value is False
    assert plain.ok and plain.value is False


def test_missing_function_is_missing(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE + "\nnot_callable = 3\n")
    missing, not_callable = worker.run([Call("svm_loss_naive", ()), Call("not_callable", ())])
    assert failure_kind(missing) is FailureKind.MISSING
    assert missing.failure is not None and "svm_loss_naive" in missing.failure.message
    assert failure_kind(not_callable) is FailureKind.MISSING


def test_budget_exhaustion_fails_remaining_calls(make_worker: MakeWorker) -> None:
    limits = Limits(call_seconds=1.0, submission_seconds=1.5, memory_mb=1024)
    worker = make_worker(SIMPLE + "\ndef spin():\n    while True:\n        pass\n", limits)
    # The first spin uses 1 s of the 1.5 s, the second runs into the budget's end: starting
    # a worker (twice here) is not charged, however long a busy machine takes for it.
    outcomes = worker.run([Call("spin", ()), Call("spin", ()), Call("add", (1, 1))])
    assert [failure_kind(o) for o in outcomes] == [
        FailureKind.TIMEOUT,
        FailureKind.BUDGET,
        FailureKind.BUDGET,
    ]
    [later] = worker.run([Call("add", (1, 1))])
    assert failure_kind(later) is FailureKind.BUDGET


def test_oversized_return_values_are_refused(make_worker: MakeWorker) -> None:
    source = SIMPLE + "\ndef big():\n    return np.zeros(1_000_000)\n"
    worker = make_worker(source, max_frame_bytes=2 << 20)
    big, after = worker.run([Call("big", ()), Call("add", (1, 1))])
    assert failure_kind(big) is FailureKind.TOO_LARGE
    assert big.failure is not None and "7.6 MiB of data" in big.failure.message
    assert after.value == 2


def test_a_reply_over_its_call_budget_fails_that_call_alone(make_worker: MakeWorker) -> None:
    # A loss returned as a 2 MB array: far over what a call on small arrays may return
    # (budgets.reply_budget), although far under the frame limit. The call fails saying
    # how large, the worker goes on, and a reply the size of the arguments still passes.
    source = SIMPLE + (
        "\ndef hoard(W, X):\n    return np.full(262144, 1.0), W.copy()\n"
        "\ndef honest(W, X):\n    return 1.0, W.copy()\n"
    )
    worker = make_worker(source)
    W, X = np.ones((30, 10)), np.ones((64, 30))
    hoard, honest = worker.run([Call("hoard", (W, X)), Call("honest", (W, X))])
    assert failure_kind(hoard) is FailureKind.TOO_LARGE
    assert hoard.failure is not None
    assert "2.0 MiB of data, where this call may return at most 188 KiB" in hoard.failure.message
    assert honest.ok and honest.value is not None
    pid = worker.pid
    [again] = worker.run([Call("honest", (W, X))])
    assert again.ok and worker.pid == pid  # refused by the worker itself: no restart


def test_only_the_graded_file_is_visible_and_env_is_scrubbed(
    make_worker: MakeWorker, tmp_path: Path
) -> None:
    (tmp_path / "secret_reference.py").write_text("ANSWER = 42\n")
    worker = make_worker(
        """
        import os
        def look():
            raise RuntimeError(repr((sorted(os.listdir(".")), sorted(os.environ))))
        """
    )
    [outcome] = worker.run([Call("look", ())])
    assert outcome.failure is not None
    message = outcome.failure.message
    assert "['losses.py']" in message and "secret_reference" not in message
    assert "'HOME'" in message and "'PATH'" in message and "PYTHONPATH" not in message


PROCESS_MAKERS = """
import os, subprocess
import numpy as np

def outcome(action):
    try:
        return repr(action())
    except OSError as exc:
        return f"{type(exc).__name__} {exc.errno}"

def start_processes():
    return [
        outcome(os.fork),
        outcome(lambda: subprocess.Popen(["sleep", "60"]).pid),
        outcome(lambda: os.execv("/bin/true", ["true"])),
        outcome(lambda: os.posix_spawn("/bin/true", ["true"], {})),
        float(np.ones((64, 64)).sum()),  # numpy still works
    ]
"""


def test_student_code_cannot_start_processes(make_worker: MakeWorker) -> None:
    # A process started by student code could outlive the worker (setsid + double fork)
    # and rewrite results after the grader wrote them: under the reduced layer the worker
    # has no way to start one.
    worker = make_worker(PROCESS_MAKERS)
    [result] = worker.run([Call("start_processes", ())])
    assert result.value == (*[f"PermissionError {errno.EPERM}"] * 4, 4096.0)


def test_writes_outside_the_scratch_folder_fail(make_worker: MakeWorker, tmp_path: Path) -> None:
    # Landlock (this kernel has it: the test says so if not) confines writes to the
    # worker's scratch folder, whatever the grader's user may write.
    if landlock.landlock_abi() == 0:
        pytest.skip("this kernel has no Landlock")
    outside = tmp_path / "forged.json"
    worker = make_worker(
        """
        def write(path):
            try:
                with open(path, "w") as f:
                    f.write("forged")
            except OSError as exc:
                return exc.errno
            return 0
        """
    )
    calls = [Call("write", (p,)) for p in (str(outside), "/tmp/propgrade-forged", "mine.txt")]
    results = [o.value for o in worker.run(calls)]
    assert results == [errno.EACCES, errno.EACCES, 0]
    assert not outside.exists()


def test_a_root_grader_runs_workers_under_a_slot_uid_with_a_writable_home(
    make_worker: MakeWorker, reduced_layer: process_layer.ProcessLayer
) -> None:
    # CI grades as root, where every reduced worker drops to a slot uid: its scratch (its
    # HOME and cwd, the one place Landlock lets it write) must stay writable for that
    # uid, or libraries that keep a cache there (matplotlib) fail to import.
    if os.geteuid() != 0:
        pytest.skip("the grader is not root here: workers keep its uid")
    if not reduced_layer.drops_uid():
        # Where the clone or Python sits in a private folder, workers keep the grader's
        # uid: a property of the checkout, not a missing tool, so not a CI failure.
        pytest.skip(
            "no slot uid here: the temp folder or the Python installation is not "
            "reachable by other users"
        )
    worker = make_worker(
        """
        import os
        def who():
            with open(os.path.join(os.environ["HOME"], "cache.txt"), "w") as f:
                f.write("kept")
            return os.getuid(), os.getcwd() == os.environ["HOME"]
        """
    )
    [outcome] = worker.run([Call("who", ())])
    uid, home_is_cwd = outcome.value
    assert uid != 0 and home_is_cwd


def test_close_leaves_no_process_behind(make_worker: MakeWorker) -> None:
    # Without the process filter (pyseccomp missing), the worker's session is still
    # killed when it closes; the zygote, a child subreaper, kills what escaped it.
    worker = make_worker(
        """
        import subprocess
        def spawn_child():
            return subprocess.Popen(["sleep", "60"]).pid
        """,
        layer=process_layer.ProcessLayer(zygote=True, seccomp=False),
    )
    [outcome] = worker.run([Call("spawn_child", ())])
    child = outcome.value
    pid = worker.pid
    assert isinstance(child, int) and pid is not None
    worker.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    deadline = time.monotonic() + 60  # ends as soon as the child is gone
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(child)


def test_an_escapee_is_killed_when_its_worker_stops(
    make_worker: MakeWorker,
    reduced_layer: process_layer.ProcessLayer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the process filter, a setsid + double fork leaves the worker's session; the
    # zygote, a child subreaper, inherits it and kills it when the worker stops. The
    # middle process outlives the call on purpose: the zygote first inherits it, and the
    # daemon only once the sweep has killed it, so one pass over the zygote's children
    # would miss the daemon (this race made the test fail on a loaded machine).
    if not reduced_layer.use_zygote:
        pytest.skip("only a zygote is a subreaper; by exec the process filter is the wall")
    layer = process_layer.ProcessLayer(zygote=True, seccomp=False)
    # Under a slot uid, the uid's processes are killed when the slot is freed, which
    # would hide a sweep that missed the daemon: this test is about the zygote alone.
    monkeypatch.setattr(layer, "drops_uid", lambda: False)
    worker = make_worker(
        """
        import os, time
        def escape():
            read, write = os.pipe()
            if os.fork() == 0:
                os.setsid()
                pid = os.fork()
                if pid == 0:
                    time.sleep(600)
                os.write(write, str(pid).encode())
                time.sleep(60)
                os._exit(0)
            os.close(write)
            return int(os.read(read, 32))
        """,
        layer=layer,
    )
    [outcome] = worker.run([Call("escape", ())])
    escapee = outcome.value
    assert isinstance(escapee, int) and not gone(escapee)
    worker.close()
    deadline = time.monotonic() + 10.0
    while not gone(escapee) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(escapee)


def test_warm_worker_serves_many_runs_and_large_batches(make_worker: MakeWorker) -> None:
    worker = make_worker(SIMPLE)
    W, X = np.ones((20, 5)), np.ones((16, 20))
    pid = None
    for _ in range(20):
        [outcome] = worker.run([Call("scores", (W, X))])
        assert outcome.ok
        pid = pid or worker.pid
    assert worker.pid == pid
    outcomes = worker.run([Call("scores", (W, X))] * 500)
    assert all(o.ok for o in outcomes)


def test_rlimits_bound_processes_only_for_unprivileged_graders() -> None:
    import resource

    root = limits.rlimits(FAST, is_root=True, user_processes=0)
    user = limits.rlimits(FAST, is_root=False, user_processes=10)
    assert resource.RLIMIT_NPROC not in root
    assert user[resource.RLIMIT_NPROC] == (74, 74)
    assert root[resource.RLIMIT_AS] == (1024 << 20, 1024 << 20)
    assert root[resource.RLIMIT_CORE] == (0, 0)


def test_worker_env_passes_through_only_openblas_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("SECRET_TOKEN", "x")
    env = limits.worker_env(Path("/tmp/scratch"))
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["HOME"] == "/tmp/scratch"
    assert "SECRET_TOKEN" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "1"


def test_only_time_spent_in_the_worker_counts_against_the_budget(
    make_worker: MakeWorker,
) -> None:
    worker = make_worker(SIMPLE, Limits(call_seconds=1.0, submission_seconds=1.0))
    worker.start()
    time.sleep(1.1)  # the grader busy elsewhere, e.g. generating examples
    [outcome] = worker.run([Call("add", (1, 2))])
    assert outcome.value == 3  # the 1.1 s were not charged to the 1 s budget
    assert worker.seconds_used > 0


class _SlowStart:
    """A layer whose workers take longer to start than the whole budget."""

    def __init__(self, layer: process_layer.ProcessLayer, seconds: float) -> None:
        self.layer, self.seconds = layer, seconds

    def __getattr__(self, name: str) -> object:
        return getattr(self.layer, name)

    def start_worker(self, *args: object, **kwargs: object) -> object:
        time.sleep(self.seconds)
        return self.layer.start_worker(*args, **kwargs)  # type: ignore[arg-type]


def test_starting_a_worker_is_not_charged_to_the_budget(
    make_worker: MakeWorker, reduced_layer: process_layer.ProcessLayer
) -> None:
    source = SIMPLE + "\nimport os\ndef die():\n    os._exit(1)\n"
    limits = Limits(call_seconds=1.0, submission_seconds=1.0)
    worker = make_worker(source, limits, layer=_SlowStart(reduced_layer, 1.2))
    # Two starts of 1.2 s each (the first, and the restart after the crash) against a
    # budget of 1 s: charged, they would fail these calls as BUDGET.
    report = worker.start()
    added, died, again = worker.run([Call("add", (1, 2)), Call("die", ()), Call("add", (2, 2))])
    assert report.ok and added.value == 3 and again.value == 4
    assert failure_kind(died) is FailureKind.CRASH


WARNS = """
import numpy as np

def f(x):
    return float(np.log(np.zeros(1))[0]) + x
"""


def test_warnings_name_the_file_not_its_scratch_path(make_worker: MakeWorker) -> None:
    # Every worker has a new scratch directory: its path in the output would make the
    # same file's output differ from run to run.
    outputs = []
    for _ in range(2):
        worker = make_worker(WARNS)
        assert worker.run([Call("f", (1.0,))])[0].ok
        outputs.append(worker.output())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("losses.py:5: RuntimeWarning: divide by zero encountered")
    assert "return float(np.log" in outputs[0]  # the line itself is still shown


# -- batches sent again (sent_batches.py) ----------------------------------------------------


def _keys(tag: str, count: int) -> list[tuple[str, int]]:
    # Any hashable keys do; the engine's are call_key()s. A tag keeps each test's own.
    return [(f"{__name__}:{tag}", i) for i in range(count)]


def test_a_batch_sent_before_is_not_encoded_again(
    make_worker: MakeWorker, request: pytest.FixtureRequest, reduced_layer: object
) -> None:
    W, X = np.arange(6.0).reshape(3, 2), np.ones((4, 3))
    calls = [Call("scores", (W, X)), Call("add", (2, 3)), Call("add", (W, W))]
    keys = _keys(f"again-{reduced_layer}", len(calls))
    first = make_worker(SIMPLE).run(calls, keys=keys)
    encoded: list[Call] = request.getfixturevalue("encoded_calls")  # counted from here
    make_worker(SIMPLE).run(calls, keys=keys)  # sent again: encoded once more, and kept
    assert len(encoded) == len(calls)
    second = make_worker(SIMPLE).run(calls, keys=keys)  # the next student
    assert len(encoded) == len(calls)
    assert first[1].value == second[1].value == 5
    for a, b in ((first[0].value[1], second[0].value[1]), (first[2].value, second[2].value)):
        np.testing.assert_array_equal(a, b)
    other = _keys(f"other-{reduced_layer}", len(calls))
    for _ in range(3):
        make_worker(SIMPLE).run(calls, keys=other)
    assert len(encoded) == 3 * len(calls)


def test_a_batch_sent_again_by_the_same_worker_gets_its_own_call_ids(
    make_worker: MakeWorker, reduced_layer: object
) -> None:
    worker = make_worker(SIMPLE)
    calls = [Call("add", (1, 2)), Call("add", (3, 4))]
    keys = _keys(f"ids-{reduced_layer}", len(calls))
    for _ in range(4):
        assert [o.value for o in worker.run(calls, keys=keys)] == [3, 7]


def test_a_remembered_batch_keeps_each_workers_reply_budget(
    make_worker: MakeWorker, reduced_layer: object
) -> None:
    # The reply budget is written into the frame: a worker with smaller limits must not
    # be sent the budgets a roomier one was sent for the same calls.
    source = SIMPLE + "\ndef big(n):\n    return np.zeros(n)\n"
    calls = [Call("big", (40_000,)), Call("add", (1, 1))]
    keys = _keys(f"budget-{reduced_layer}", len(calls))
    roomy = replace(FAST, reply_bytes=1 << 20)
    for _ in range(2):  # sent twice: remembered
        big, after = make_worker(source, roomy).run(calls, keys=keys)
        assert big.ok and after.value == 2
    big, after = make_worker(source, FAST).run(calls, keys=keys)
    assert failure_kind(big) is FailureKind.TOO_LARGE and after.value == 2
