"""Methods of a student class graded through a handle, and arrays that alias on the wire.

The object lives only in the worker: the grader holds its recipe (the class's arguments
and the setup calls), every call builds it afresh there, and only data comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from propgrade import StudentCallFailed
from propgrade.engine.proxies import LiveProxy, ReferenceModule, call_key
from propgrade.sandbox.calls import Call, FailureKind, Limits, Recipe, Step
from propgrade.sandbox.process_layer import ProcessLayer
from propgrade.sandbox.worker import Worker

pytestmark = pytest.mark.sandbox

STUDENT = """
import numpy as np

class Counter:
    def __init__(self, start=0):
        self.count = start

    def add(self, n):
        self.count += n

    def tick(self):
        self.count += 1  # a second call on a shared object would see 1 more
        return self.count

    def keep(self, a):
        self.data = a

    def kept_is(self, a):
        return self.data is a

    def same(self, a, b):
        return a is b

    def fail(self):
        raise ValueError("no")


class Unbuildable:
    def __init__(self):
        raise RuntimeError("cannot build")


def same(a, b):
    return a is b


def double_in_place(a, b):
    a *= 2
    return b
"""


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    path = tmp_path_factory.mktemp("objects") / "things.py"
    path.write_text(STUDENT)
    limits = Limits(call_seconds=5.0, submission_seconds=60.0)
    with Worker(path, limits, layer=ProcessLayer(zygote=False)) as running:
        yield running


@pytest.fixture(scope="module")
def reference() -> ReferenceModule:
    module = ModuleType("things")
    exec(compile(STUDENT, "things.py", "exec"), module.__dict__)
    return ReferenceModule(module)


def counter(*steps: Step, start: int = 5) -> Recipe:
    return Recipe("Counter", (start,), (), steps)


# -- aliasing -----------------------------------------------------------------------------


def test_the_same_array_passed_twice_arrives_as_one_object(worker: Worker) -> None:
    X = np.arange(6.0).reshape(2, 3)
    twice, copies = worker.run([Call("same", (X, X)), Call("same", (X, X.copy()))])
    assert twice.value is True
    assert copies.value is False  # equal arrays that are not one object stay two


def test_a_write_through_one_alias_shows_through_the_other(worker: Worker) -> None:
    X = np.ones(3)
    aliased, separate = worker.run(
        [Call("double_in_place", (X, X)), Call("double_in_place", (X, X.copy()))]
    )
    np.testing.assert_array_equal(aliased.value, 2 * X)
    np.testing.assert_array_equal(separate.value, X)


def test_aliasing_is_part_of_the_cache_key() -> None:
    X = np.arange(3.0)
    assert call_key(Call("same", (X, X))) != call_key(Call("same", (X, X.copy())))
    # the key speaks of the structure, not of the objects: another pair that aliases the
    # same way is the same call
    Y = np.arange(3.0)
    assert call_key(Call("same", (X, X))) == call_key(Call("same", (Y, Y)))


def test_aliasing_spans_the_setup_calls_and_the_call(worker: Worker) -> None:
    X = np.arange(4.0)
    kept = counter(Step("keep", (X,)))
    same, other = worker.run(
        [
            Call("kept_is", (X,), instance=kept),
            Call("kept_is", (X.copy(),), instance=kept),
        ]
    )
    assert same.value is True
    assert other.value is False


# -- objects ------------------------------------------------------------------------------


def test_every_call_builds_its_object_afresh_from_the_recipe(worker: Worker) -> None:
    recipe = counter(Step("add", (2,)))
    first, second = worker.run([Call("tick", (), instance=recipe)] * 2)
    # 5 + 2 + 1 both times: the second call did not see the first call's tick
    assert (first.value, second.value) == (8, 8)


def test_the_student_proxy_hands_out_handles_that_never_share_state(worker: Worker) -> None:
    student = LiveProxy(worker.run)
    base = student.new("Counter", 5)
    more = base.then("add", 10)
    assert base.tick() == 6
    assert more.tick() == 16
    assert more.then("add", 1).call("tick") == 17
    assert base.tick() == 6  # `then` made new handles; base is what it was
    assert more.outcome("same", np.ones(2), np.ones(2)).value is False


def test_a_handle_asks_for_several_outcomes_in_one_round_trip(worker: Worker) -> None:
    batches: list[int] = []

    def run(calls: Any) -> Any:
        batches.append(len(calls))
        return worker.run(calls)

    handle = LiveProxy(run).new("Counter", 5).then("add", 2)
    X = np.ones(2)
    plain, traced = handle.outcomes("same", [(X, X), (X, X.copy())], trace=True)
    assert batches == [2]
    assert (plain.value, traced.value) == (True, False)
    assert plain.trace_events is not None and traced.trace_events is not None
    echoed = handle.outcomes("tick", [(), ()], echo_args=True)
    assert [o.value for o in echoed] == [8, 8]  # each call on a fresh object
    assert [o.args_after for o in echoed] == [(), ()]


def test_a_missing_class_or_method_is_missing_not_an_error(worker: Worker) -> None:
    no_class, no_method, bad_step = worker.run(
        [
            Call("tick", (), instance=Recipe("KNearestNeighbor")),
            Call("predict", (), instance=counter()),
            Call("tick", (), instance=counter(Step("train", ()))),
        ]
    )
    assert no_class.failure is not None and no_class.failure.kind is FailureKind.MISSING
    assert "no class named 'KNearestNeighbor'" in no_class.failure.message
    assert no_method.failure is not None and no_method.failure.kind is FailureKind.MISSING
    assert "Counter has no method named 'predict'" in no_method.failure.message
    assert bad_step.failure is not None and "no method named 'train'" in bad_step.failure.message


def test_a_failing_setup_call_is_named_in_the_failure(worker: Worker) -> None:
    student = LiveProxy(worker.run)
    with pytest.raises(StudentCallFailed) as failed:
        student.new("Counter").then("fail").tick()
    message = str(failed.value)
    assert "Counter.tick(...)" in message
    assert "Counter.fail(), called to set the object up" in message and "ValueError" in message
    with pytest.raises(StudentCallFailed, match="Unbuildable\\(\\), called to set the object up"):
        student.new("Unbuildable").call("anything")


def test_a_traced_method_counts_only_its_own_work(worker: Worker) -> None:
    many = counter(*(Step("add", (1,)) for _ in range(30)))
    few = counter(Step("add", (1,)))
    traced_many, traced_few = worker.run(
        [Call("tick", (), trace=True, instance=many), Call("tick", (), trace=True, instance=few)]
    )
    assert traced_many.trace_events is not None and traced_many.trace_events > 0
    assert traced_many.trace_events == traced_few.trace_events


def test_the_reference_builds_objects_the_same_way(reference: ReferenceModule) -> None:
    X = np.arange(4.0)
    assert reference.new("Counter", 5).then("add", 2).tick() == 8
    assert reference.new("Counter").then("keep", X).kept_is(X) is True
    assert reference.new("Counter").then("keep", X).kept_is(X.copy()) is False
    assert reference.same(X, X) is True


def test_a_handle_is_plain_data_on_the_grader_side() -> None:
    """The grader side holds no student object: a handle is plain data."""
    student = LiveProxy(lambda calls: [])
    handle: Any = student.new("Counter", 1).then("add", np.ones(2))
    assert handle.recipe == Recipe(
        "Counter", (1,), (), (Step("add", (handle.recipe.steps[0].args[0],)),)
    )
    assert repr(handle) == "<student Counter(...).add(...)>"


def test_selftest_equivalence_inputs_keep_the_recipe_and_the_keywords(
    reference: ReferenceModule,
) -> None:
    """A surviving mutant of a method is compared with the reference on an object built
    from a perturbed copy of the checks' own recipe, keywords included."""
    from propgrade.selftest.equivalence import equivalence_cases

    module = reference._module
    X = np.arange(4.0)
    call = Call.of("kept_is", (X,), instance=counter(Step("keep", (X,)), start=2))
    added = Call.of("tick", (), instance=Recipe("Counter", (), (("start", 7),)))
    cases = equivalence_cases({"c": [call, added]}, ["kept_is", "tick"], module, 2, seed=1)
    kept = [c for c in cases if c.function == "kept_is"]
    ticks = [c for c in cases if c.function == "tick"]
    assert kept and all(c.instance is not None and c.instance.cls == "Counter" for c in kept)
    # the perturbed X is still one array in the setup call and the call
    assert all(c.expected is True for c in kept)
    assert ticks and all(c.expected == 8 for c in ticks)
