"""Call keys: equal arguments share a cached answer, changed arguments never do.

Digests of arrays that can never change (``propgrade.frozen``) are remembered while the
array lives (the drawn cases go into every replay's keys); these tests pin that a
remembered digest is never used for an array whose contents can have changed since.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propgrade import frozen
from propgrade.engine import proxies
from propgrade.engine.frozen import is_immutable
from propgrade.engine.proxies import call_key
from propgrade.sandbox.calls import Call, repeated_arrays, walk_repeated_arrays


def key(*args: object) -> proxies.CallKey:
    return call_key(Call.of("f", tuple(args), {}))  # type: ignore[arg-type]


def read_only(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.flags.writeable = False
    return array


def test_equal_arrays_have_equal_keys_however_they_are_held() -> None:
    data = np.arange(12.0).reshape(3, 4)
    assert key(frozen(data), 1.0) == key(data.copy(), 1.0) == key(read_only(data), 1.0)


def test_dtype_shape_and_values_all_count() -> None:
    data = frozen(np.arange(6.0))
    assert key(data) != key(data.astype(np.float32))
    assert key(data) != key(data.reshape(2, 3))
    assert key(data) != key(frozen(data + 1e-12))
    assert key(data, 0.0) != key(data, 0)


def test_a_frozen_array_can_never_be_made_writeable() -> None:
    data = frozen(np.arange(6.0).reshape(2, 3))
    for array in (data, data.base, data[1:], data.T):
        with pytest.raises(ValueError):
            array.flags.writeable = True
        assert is_immutable(array)


def test_frozen_keeps_shape_dtype_and_values() -> None:
    for source in (np.arange(6.0).reshape(2, 3).T, np.zeros((0, 3)), np.array(2.5)):
        copy = frozen(source)
        assert copy.shape == source.shape and copy.dtype == source.dtype
        assert np.array_equal(copy, source)
    assert frozen([1, 2], np.float64).dtype == np.float64


def test_an_array_frozen_already_is_not_copied_again() -> None:
    # A derived case (case.with_W(W)) freezes the arrays it keeps a second time: as the
    # same objects, their digests and wire bytes are remembered, not made anew per case.
    data = frozen(np.arange(6.0).reshape(2, 3))
    assert frozen(data) is data
    assert frozen(data, np.float64) is data
    view = data[1:]  # a C-ordered view of a frozen array is frozen too
    assert frozen(view) is view
    copies = [
        frozen(data, np.float32),  # another dtype
        frozen(data.T),  # not C-ordered
        frozen(read_only(np.arange(6.0))),  # read-only, but its owner may write
        frozen(np.arange(6.0)),
    ]
    for source, copy in zip((data, data.T, None, None), copies, strict=True):
        assert copy is not source and is_immutable(copy) and copy.flags.c_contiguous


def test_an_array_only_marked_read_only_is_hashed_every_time() -> None:
    # Its owner can set the flag back, write, and set it again: no digest is remembered.
    data = read_only(np.arange(6.0))
    assert not is_immutable(data)
    before = key(data)
    data.flags.writeable = True
    data[0] = 7.0
    data.flags.writeable = False
    assert key(data) != before
    assert key(data) == key(np.array([7.0, 1, 2, 3, 4, 5]))


def test_a_read_only_view_of_a_writeable_array_is_hashed_every_time() -> None:
    owner = np.arange(6.0)
    view = owner[:3]
    view.flags.writeable = False
    before = key(view)
    owner[0] = 9.0
    assert key(view) != before


def test_remembered_digests_go_with_their_arrays() -> None:
    gc.collect()
    held = len(proxies._FROZEN_DIGESTS)
    arrays = [frozen(np.full(4, float(i))) for i in range(50)]
    keys = {key(a) for a in arrays}
    assert len(keys) == 50
    assert len(proxies._FROZEN_DIGESTS) == held + 50
    del arrays
    gc.collect()
    assert len(proxies._FROZEN_DIGESTS) == held


# -- arrays passed twice --------------------------------------------------------------------
# ``repeated_arrays`` answers the usual call (no container, no array twice) without walking
# it; whatever the call, its answer must be the walk's.


class _Sub(np.ndarray):  # an ndarray subclass is an array too (np.matrix is one)
    pass


_POOL = [np.zeros(2), np.ones(3), np.zeros(1).view(_Sub)]


def _values(depth: int = 0) -> st.SearchStrategy[object]:
    leaves = st.one_of(
        st.sampled_from(range(len(_POOL))).map(lambda i: _POOL[i]),
        st.builds(np.zeros, st.integers(0, 3)),  # a fresh array: never the same object
        st.sampled_from([None, 1, 2.5, "s", True]),
    )
    if depth >= 2:
        return leaves
    inner = _values(depth + 1)
    return st.one_of(
        leaves,
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    args=st.lists(_values(), max_size=4).map(tuple),
    kwargs=st.dictionaries(st.sampled_from(["k", "reg"]), _values(), max_size=2),
)
def test_repeated_arrays_without_the_walk_agree_with_it(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    call = Call.of("f", args, kwargs)  # type: ignore[arg-type]
    assert repeated_arrays(call) == walk_repeated_arrays(call)


def test_an_array_passed_twice_at_the_top_is_found_without_a_container() -> None:
    X = np.zeros(2)
    assert list(repeated_arrays(Call.of("f", (X, 1.0, X))).values()) == [0]
    assert list(repeated_arrays(Call.of("f", (X,), {"other": X})).values()) == [0]
    assert repeated_arrays(Call.of("f", (X, X.copy()))) == {}
