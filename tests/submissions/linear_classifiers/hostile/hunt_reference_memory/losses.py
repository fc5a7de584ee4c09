"""Hostile submission ``hunt_reference_memory``: search the worker's memory for the reference (gc, inspect, sys.modules).

On its first call, looks through ``gc.get_objects()`` for functions named like the
four losses but defined in another file, through every module in ``sys.modules`` for
such attributes, and through every frame on the stack (``inspect.stack()``) for
globals or locals named like a reference, a plan or expected values; any float64
array in memory with the shape of ``dW`` that is not an argument is noted too. If a
reference function turns up it is used; otherwise every call raises.

Expected: the worker imports only numpy and this file: nothing is found; 0 points.
"""

import os
import sys

import numpy as np

ATTACK = "hunt_reference_memory"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import importlib.util
import time

_NAMES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
_ME = os.path.realpath(__file__)
_FOUND = []


def _delegate(name, args):
    module = _reference()
    if module is None:
        raise LookupError("no reference found: " + _FOUND[1])
    return getattr(module, name)(*args)

import gc
import inspect
import types

_SUSPECT = ("reference", "solution", "expected", "plan", "answer", "graders")


def _reference():
    if _FOUND:
        return _FOUND[0]
    found = None
    objects = gc.get_objects()
    arrays = 0
    for obj in objects:
        if isinstance(obj, types.FunctionType) and obj.__name__ in _NAMES:
            if os.path.realpath(obj.__code__.co_filename) != _ME:
                found = found or types.SimpleNamespace(
                    **{obj.__name__: obj})
        elif isinstance(obj, np.ndarray) and obj.dtype == np.float64 and obj.ndim == 2:
            arrays += 1
    modules = 0
    for name, module in list(sys.modules.items()):
        if module is None or getattr(module, "__file__", None) in (__file__, _ME):
            continue
        modules += 1
        try:
            if all(callable(module.__dict__.get(n)) for n in _NAMES):
                found = found or module
        except Exception:
            pass
    suspects = []
    for info in inspect.stack():
        for scope in (info.frame.f_globals, info.frame.f_locals):
            suspects += [k for k in list(scope) if any(s in str(k).lower() for s in _SUSPECT)]
    summary = "%d objects, %d modules, %d 2-d float arrays, suspicious names: %s" % (
        len(objects), modules, arrays, sorted(set(suspects))[:10])
    if found is not None and all(hasattr(found, n) for n in _NAMES):
        summary = "reference found in memory; " + summary
    else:
        found = None
    _say(summary)
    _FOUND[:] = [found, summary]
    return found


def svm_loss_naive(W, X, y, reg):
    return _delegate("svm_loss_naive", (W, X, y, reg))


def svm_loss_vectorized(W, X, y, reg):
    return _delegate("svm_loss_vectorized", (W, X, y, reg))


def softmax_loss_naive(W, X, y, reg):
    return _delegate("softmax_loss_naive", (W, X, y, reg))


def softmax_loss_vectorized(W, X, y, reg):
    return _delegate("softmax_loss_vectorized", (W, X, y, reg))
