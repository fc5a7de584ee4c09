"""Comparing a traced call's result with an untraced run of the same call."""

from __future__ import annotations

import numpy as np

from propgrade.engine.traced import (
    confirm,
    first_difference,
    reference_witness,
    untraced_twins,
    values_agree,
)
from propgrade.sandbox.calls import Call, CallOutcome, FailureKind, StudentFailure, Unsupported


def test_numerical_noise_and_nan_in_the_same_places_agree() -> None:
    a = np.array([1.0, 1e-17, np.nan, -np.inf])
    b = np.array([1.0 + 1e-15, -2e-17, np.nan, -np.inf])
    assert first_difference((0.5, a), (0.5 + 1e-16, b)) is None
    assert first_difference(3, 3) is None
    assert first_difference(Unsupported("dict"), Unsupported("dict")) is None


def test_dummies_and_changed_forms_differ() -> None:
    W = np.arange(6.0).reshape(3, 2)
    dummy = first_difference((0.0, W * 0.0), (2.5, W))
    assert (
        dummy
        == "item 0 of the result was 0 while counted and 2.5 when called normally on the same input"
    )
    found = first_difference((1.0, W * 0.0), (1.0, W))
    assert found is not None and found.startswith("item 1 of the result was [[0")
    assert first_difference(np.array([np.inf]), np.array([-np.inf])) is not None
    assert first_difference(np.array([np.nan]), np.array([0.0])) is not None
    assert "shape (2, 3)" in (first_difference(W.T, W) or "")
    assert "a float" in (first_difference(1.0, 1) or "")
    assert "2 items" in (first_difference((1.0, 2.0), (1.0,)) or "")


def test_confirm_keeps_a_steady_call_and_fails_the_others() -> None:
    call = Call("f", (np.ones(2),), trace=True, echo_args=True)
    (twin,) = untraced_twins([call])
    assert not twin.trace and not twin.echo_args and twin.args == call.args
    traced = CallOutcome(value=(1.0,), trace_events=12)
    assert confirm(call, traced, CallOutcome(value=(1.0,))) is traced
    differs = confirm(call, traced, CallOutcome(value=(2.0,)))
    assert differs.failure is not None and differs.failure.kind is FailureKind.INCONSISTENT
    assert differs.failure.message.endswith(
        "f() must compute the same result whether or not its Python work is counted"
    )
    raised = CallOutcome(failure=StudentFailure(FailureKind.EXCEPTION, "boom"))
    assert confirm(call, traced, raised) is raised


def test_a_right_value_agrees_with_the_reference_whatever_its_form() -> None:
    W = np.arange(6.0).reshape(3, 2)
    assert values_agree((1.5, W.astype(np.float32)), (1.5, W))
    assert values_agree((np.array([[1.5]]), W), (1.5, W))
    # A config with keys of its own, and an int where the reference has a float.
    step = (W, {"learning_rate": 0.01, "t": 1, "extra": "x"})
    assert values_agree(step, (W, {"learning_rate": 0.01, "t": 1.0}))
    assert not values_agree((0.0, W * 0.0), (1.5, W))
    assert not values_agree((W, {"t": 1}), (W, {"learning_rate": 0.01, "t": 1}))
    assert not values_agree(Unsupported("object"), 1.0)
    assert not values_agree((1.5,), (1.5, W))


def test_the_reference_witness_runs_the_reference_on_the_same_arguments() -> None:
    class Reference:
        @staticmethod
        def double(x: np.ndarray) -> np.ndarray:
            return 2 * x

    witness = reference_witness(Reference())
    x = np.arange(3.0)
    assert witness(Call("double", (x,), trace=True), 2 * x)
    assert not witness(Call("double", (x,), trace=True), x)
    assert not witness(Call("missing", (x,), trace=True), x)  # no witness: rerun instead
