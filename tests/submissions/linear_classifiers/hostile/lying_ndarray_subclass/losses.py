"""Hostile submission ``lying_ndarray_subclass``: return an ndarray subclass whose comparisons and numpy functions lie.

Every function returns ``(loss, dW)`` as instances of an ``np.ndarray`` subclass filled
with NaN whose ``__eq__``/``__lt__``/... return all-True arrays, whose
``__array_function__`` answers True to any numpy function (``np.allclose``,
``np.array_equal``, ``np.isfinite``...), whose ``__array_ufunc__`` returns all-True
results and whose ``__float__``/``item`` claim 0.0. A grader that calls numpy on the
student's object passes everything.

Expected: the worker sends the raw array data (NaN), the grader compares plain float64
arrays: every check that looks at the result fails.
"""

import os
import sys

import numpy as np

ATTACK = "lying_ndarray_subclass"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


class _Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool).view(np.ndarray)

    __le__ = __ge__ = __lt__ = __gt__ = __eq__

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool).view(np.ndarray)

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.shape(self), dtype=bool).view(np.ndarray)

    def __float__(self):
        return 0.0

    def item(self, *args):
        return 0.0

    def tolist(self):
        return 0.0

    def __bool__(self):
        return True


def _lie(W):
    loss = np.full((), np.nan).view(_Agreeable)
    dW = np.full(np.shape(W), np.nan).view(_Agreeable)
    return loss, dW


def svm_loss_naive(W, X, y, reg):
    return _lie(W)


def svm_loss_vectorized(W, X, y, reg):
    return _lie(W)


def softmax_loss_naive(W, X, y, reg):
    return _lie(W)


def softmax_loss_vectorized(W, X, y, reg):
    return _lie(W)
