"""``expect.close`` judges two floats as it judges the same values held in arrays."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from propgrade import CheckFailed, expect

SPECIAL = [0.0, -0.0, 1.0, 1.0 + 1e-9, math.inf, -math.inf, math.nan, 5e-324, 1e308]
TOLERANCES = [0.0, 1e-12, 1e-9, 1e-6, 0.5]
_FLOATS = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True))


def _verdict(got: object, expected: object, rtol: float, atol: float) -> str:
    try:
        with np.errstate(all="ignore"):  # inf - inf in the array path
            expect.close(got, expected, "the loss", rtol=rtol, atol=atol)  # type: ignore[arg-type]
    except CheckFailed as failure:
        return f"{failure.message} | {failure.expected!r} | {failure.got!r}"
    return "passed"


@given(
    got=st.one_of(_FLOATS, _FLOATS.map(lambda x: math.nextafter(x, 0.0))),
    expected=_FLOATS,
    rtol=st.sampled_from(TOLERANCES),
    atol=st.sampled_from(TOLERANCES),
)
def test_two_floats_get_the_verdict_their_arrays_get(
    got: float, expected: float, rtol: float, atol: float
) -> None:
    as_floats = _verdict(got, expected, rtol, atol)
    # 0-d arrays take the array path; the message reads them back as floats.
    as_arrays = _verdict(np.array(got), np.array(expected), rtol, atol)
    assert as_floats == as_arrays


def test_every_pair_of_edge_values_gets_the_verdict_its_arrays_get() -> None:
    for got, expected, rtol, atol in itertools.product(SPECIAL, SPECIAL, TOLERANCES, TOLERANCES):
        as_arrays = _verdict(np.array(got), np.array(expected), rtol, atol)
        assert _verdict(got, expected, rtol, atol) == as_arrays, (got, expected, rtol, atol)


@pytest.mark.parametrize(
    ("got", "expected", "passes"),
    [(1.0 + 1e-10, 1.0, True), (1.0 + 1e-8, 1.0, False), (math.nan, math.nan, False)],
)
def test_a_float_within_its_tolerance_passes(got: float, expected: float, passes: bool) -> None:
    assert (_verdict(got, expected, 1e-9, 0.0) == "passed") is passes
