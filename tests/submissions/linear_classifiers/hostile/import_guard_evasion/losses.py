"""Hostile submission ``import_guard_evasion``: import a package the assignment does not allow, every way the language offers.

Its softmax functions try to import ``yaml`` (installed with the grader, not allowed:
the assignment allows numpy only) through an import statement, ``importlib``,
``__import__``, ``builtins``, ``pickle``, code exec'd under a namespace that names itself
numpy, code compiled under numpy's file name, a made-up module under a standard library
name, and a thread. They report which got through, then return a zero answer.
Its SVM functions are the reference.

Expected: the worker's import guard refuses every way, with the same message under every
layer, so the softmax checks a zero answer fails are lost and nothing else. Not tried,
because the guard does not claim to stop them (it lives in the student's process): taking
it off ``sys.meta_path``, running code in an allowed package's own namespace, loading a
file by its path. That gains nothing a grade depends on; the sandbox contains the rest.
"""

import os
import sys

import numpy as np

ATTACK = "import_guard_evasion"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _statement():
    import yaml  # noqa: F401


def _importlib():
    import importlib

    importlib.import_module("yaml")


def _importlib_dunder():
    import importlib

    importlib.__import__("yaml")


def _dunder():
    __import__("yaml")


def _builtins():
    import builtins

    builtins.__dict__["__import__"]("yaml")


def _pickle():
    import pickle

    pickle.loads(b"cyaml\nsafe_load\n.")


def _fake_numpy_globals():
    exec("import yaml", {"__name__": "numpy"})


def _numpy_file_name():
    exec(compile("import yaml", np.__file__, "exec"), {})


def _stdlib_named_module():
    import types

    module = types.ModuleType("json.evasion")
    sys.modules["json.evasion"] = module
    exec("import yaml", module.__dict__)


def _thread():
    import threading

    failures = []

    def run():
        try:
            import yaml  # noqa: F401
        except ImportError as exc:
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failures:
        raise failures[0]


_WAYS = (
    _statement,
    _importlib,
    _importlib_dunder,
    _dunder,
    _builtins,
    _pickle,
    _fake_numpy_globals,
    _numpy_file_name,
    _stdlib_named_module,
    _thread,
)


_REPORTED = []


def _evade():
    """Try every way; report once which got through (a thread may not even start)."""
    imported = []
    for way in _WAYS:
        try:
            way()
        except ImportError as exc:
            if "refused" not in str(exc) and not _REPORTED:
                _say("%s: %s" % (way.__name__, exc))
        except Exception as exc:
            if not _REPORTED:
                _say("%s: %s: %s" % (way.__name__, type(exc).__name__, exc))
        else:
            imported.append(way.__name__)
    if not _REPORTED:
        _say("yaml imported by %d of %d ways %s" % (len(imported), len(_WAYS), imported))
        _REPORTED.append(True)


def svm_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape, dtype=np.float64)
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1.0  # delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


def svm_loss_vectorized(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    correct_class_scores = scores[rows, y][:, np.newaxis]  # (N, 1)
    margins = np.maximum(0.0, scores - correct_class_scores + 1.0)  # delta = 1
    margins[rows, y] = 0.0  # the correct class never contributes
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)

    # d loss_i / d s_j is 1 for every active margin j and -(number of active margins)
    # for j = y[i]. Each row is written once, so repeated labels are handled correctly.
    coeff = (margins > 0).astype(np.float64)  # (N, C)
    coeff[rows, y] = -np.sum(coeff, axis=1)
    dW = X.T.dot(coeff) / num_train + 2 * reg * W
    return float(loss), dW


def softmax_loss_naive(W, X, y, reg):
    _evade()
    return 0.0, np.zeros_like(W)


def softmax_loss_vectorized(W, X, y, reg):
    _evade()
    return 0.0, np.zeros_like(W)
