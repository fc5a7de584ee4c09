"""Reply budgets: what one call into student code may send back (sandbox/budgets.py)."""

from __future__ import annotations

import numpy as np

from propgrade.sandbox.budgets import ARRAY_FACTOR, HEADER_BYTES, describe_size, reply_budget
from propgrade.sandbox.calls import Call, Limits

LIMITS = Limits(reply_bytes=64 * 1024)


def test_a_loss_call_may_return_a_few_arrays_the_size_of_its_largest_argument() -> None:
    W, X, y = np.ones((30, 10)), np.ones((64, 30)), np.zeros(64, dtype=np.int64)
    budget = reply_budget(Call("svm_loss_vectorized", (W, X, y, 0.1)), LIMITS)
    assert budget == HEADER_BYTES + 64 * 1024 + ARRAY_FACTOR * X.nbytes
    assert budget < 2 << 20  # a loss sent as a 2 MB array is over it


def test_arrays_nested_in_a_config_do_not_raise_the_budget() -> None:
    # A config is passed back on the next step: if its arrays raised the budget, a
    # submission could grow its config a little more on every chained step.
    w, dw = np.ones(64), np.ones(64)
    plain = reply_budget(Call("adam", (w, dw, {"t": 3})), LIMITS)
    hoarding = reply_budget(Call("adam", (w, dw, {"t": 3, "hoard": np.ones(1 << 20)})), LIMITS)
    assert hoarding == plain
    hoard = {"hoard": np.ones(1 << 20)}
    keyword = reply_budget(Call.of("adam", (w, dw), {"config": hoard}), LIMITS)
    assert keyword == plain


def test_echoed_arguments_are_paid_for_at_any_depth() -> None:
    w, dw, m = np.ones(64), np.ones(64), np.ones(64)
    call = Call("adam", (w, dw, {"m": m}))
    echoing = Call("adam", (w, dw, {"m": m}), echo_args=True)
    assert reply_budget(echoing, LIMITS) == reply_budget(call, LIMITS) + 2 * 3 * w.nbytes


def test_sizes_are_described_for_people() -> None:
    assert [describe_size(n) for n in (512, 66 * 1024, 2 << 20)] == [
        "512 bytes",
        "66 KiB",
        "2.0 MiB",
    ]
