"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade import check, check_each, expect

from .common import CLASS, DISTANCES, Data, labels, mistake_hint, pixel_data, trained

# float64 in any order of summation agrees to ~1e-12 of the largest distance; a float32
# computation (the student's own float32 arithmetic on float32 input) to ~1e-6.
RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}

PIXELS = st.one_of(pixel_data(), pixel_data(dtype=np.float32))


@check_each(
    DISTANCES,
    "{key}_reference",
    "On images (pixel values 0..255 stored as floats, up to 3072 features, as float64 and "
    "as float32), {fn} returns the reference solution's distances.",
    PIXELS,
)
def reference_distances(case: Data, student: Any, fn: str, reference: Any) -> None:
    value = trained(student, case).call(fn, case.X_test)
    got = expect.array_value(value, f"the distances returned by {fn}", case.shape)
    want = reference.new(CLASS).then("train", case.X_train, case.y_train).call(fn, case.X_test)
    want = np.asarray(want, dtype=np.float64)
    try:
        expect.close(got, want, f"the distances of {fn}", rtol=RTOL[case.X_train.dtype])
    except expect.CheckFailed as error:
        raise expect.CheckFailed(
            error.message, expected=error.expected, got=error.got, hint=mistake_hint(got, case)
        ) from None


@check(
    "predict_reference",
    "On images, predict(X, k) gives the reference solution's labels for k = 1, 3, 5 and 10.",
    st.tuples(pixel_data(), st.sampled_from([1, 3, 5, 10])),
)
def predict_reference(drawn: tuple[Data, int], student: Any, reference: Any) -> None:
    case, k = drawn
    value = trained(student, case).call("predict", case.X_test, k=k)
    got = labels(value, f"the labels returned by predict(X, k={k})", case.X_test.shape[0])
    want = reference.new(CLASS).then("train", case.X_train, case.y_train).predict(case.X_test, k=k)
    expect.close(got, np.asarray(want, dtype=np.float64), f"the labels for k={k}", rtol=0.0)
