"""Hostile submission ``lying_always_equal``: return objects that are equal to everything.

Every function returns objects of a class whose ``__eq__`` is always True, whose
ordering operators always agree, whose ``__float__``/``__array__``/``__abs__`` and
arithmetic return something harmless and whose attributes are all itself. Each function
wraps them differently: a plain tuple, a bare object, a list subclass, a tuple subclass.
A grader that compares ``student == expected`` or ``abs(student - expected) < tol`` on
these objects passes everything.

Expected: values cross the boundary as data only: every returned object is decoded as
"unsupported"; all checks that look at the result fail.
"""

import os
import sys

import numpy as np

ATTACK = "lying_always_equal"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


class _Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __lt__

    def __hash__(self):
        return 0

    def __bool__(self):
        return True

    def __float__(self):
        return 0.0

    def __int__(self):
        return 0

    __index__ = __int__

    def __array__(self, dtype=None, copy=None):
        return np.zeros((1, 1))

    def __abs__(self):
        return 0.0

    def _same(self, *other):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __neg__ = __pos__ = __pow__ = _same

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __len__(self):
        return 2

    def __iter__(self):
        return iter((self, self))

    def __getitem__(self, index):
        return self

    def __repr__(self):
        return "0.0"

    __str__ = __repr__


class _PairList(list):
    def __eq__(self, other):
        return True


class _PairTuple(tuple):
    def __eq__(self, other):
        return True

    def __len__(self):
        return 2


def svm_loss_naive(W, X, y, reg):
    return _Anything(), _Anything()


def svm_loss_vectorized(W, X, y, reg):
    return _Anything()


def softmax_loss_naive(W, X, y, reg):
    return _PairList([_Anything(), _Anything()])


def softmax_loss_vectorized(W, X, y, reg):
    return _PairTuple((_Anything(), _Anything()))
