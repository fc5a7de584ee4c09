"""Arrays that nothing can write to again, for the cases graders draw.

A drawn case is shared by every property and every student of a run, and the engine
hashes its arrays into a call key and encodes them for the worker on every call. A
read-only flag alone does not make an array constant: its owner may set the flag back and
write. An array backed by immutable ``bytes`` can never be made writeable, so what is
computed from such an array is computed once per run (``FrozenMemo``).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import DTypeLike

Array = np.ndarray[Any, Any]


def frozen(array: Any, dtype: DTypeLike | None = None) -> Array:
    """``array``'s values (as ``dtype`` if given) in an array no one can ever write to.

    Use it for the arrays of drawn cases: a property cannot change what another property,
    or the next student, is given, and the engine hashes the array once instead of on
    every call. An array that is frozen already (and of ``dtype``) comes back as itself:
    a case derived from another (``case.with_W(W)``) then shares the arrays it keeps, so
    they are not copied, hashed and encoded anew for every derived case. Two fields that
    must be two objects need two frozen copies, ``frozen(a.copy())``::

        >>> W = frozen([[1.0, 2.0]])
        >>> W.flags.writeable
        False
        >>> W[0, 0] = 5.0
        Traceback (most recent call last):
          ...
        ValueError: assignment destination is read-only
        >>> W.setflags(write=True)
        Traceback (most recent call last):
          ...
        ValueError: cannot set WRITEABLE flag to True of this array
    """
    if (
        type(array) is np.ndarray
        and (dtype is None or array.dtype == np.dtype(dtype))
        and array.flags.c_contiguous
        and is_immutable(array)
    ):
        return array
    source = np.asarray(array, dtype=dtype, order="C")
    if source.dtype.hasobject:
        raise TypeError("frozen() takes arrays of numbers, not of Python objects")
    return np.frombuffer(source.tobytes(), dtype=source.dtype).reshape(source.shape)


def is_immutable(array: Array) -> bool:
    """True when the array's memory can never change: it and every array it views are
    read-only, down to an immutable ``bytes`` buffer."""
    base: object = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return type(base) is bytes


T = TypeVar("T")


class FrozenMemo(Generic[T]):
    """Values computed from arrays that can never change, kept by the array's id while it
    lives; any other array gets its value computed anew on every call."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[weakref.ref[Array], T]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, array: Array, compute: Callable[[Array], T]) -> T:
        key = id(array)
        known = self._by_id.get(key)
        # Only immutable arrays are ever stored, and an immutable array stays so: a live
        # entry for this very object needs no second look at its buffers.
        if known is not None and known[0]() is array:
            return known[1]
        if not is_immutable(array):
            return compute(array)
        value = compute(array)
        self._by_id[key] = (weakref.ref(array, functools.partial(self._forget, key)), value)
        return value

    def _forget(self, key: int, _dead: object) -> None:
        self._by_id.pop(key, None)
