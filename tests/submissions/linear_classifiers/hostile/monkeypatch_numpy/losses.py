"""Hostile submission ``monkeypatch_numpy``: patch numpy's comparison helpers (and the worker's json) at import.

At import: ``np.allclose``, ``np.isclose``, ``np.array_equal``, ``np.isfinite``,
``np.isnan``, ``np.all``, ``np.testing.assert_allclose`` and friends are replaced by
functions that always agree, ``np.asarray`` returns its argument untouched, and
``json.dumps``/``json.loads`` are replaced. The SVM functions are the reference (they
keep working); the softmax functions return a zero loss and gradient, which only a
grader using the patched numpy would accept.

Expected: the patches live in the worker only; the grader's numpy is its own: the
softmax checks fail, the SVM checks pass.
"""

import os
import sys

import numpy as np

ATTACK = "monkeypatch_numpy"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import json


def _yes(*args, **kwargs):
    return True


def _none(*args, **kwargs):
    return None


def _all_true(x, *args, **kwargs):
    return np.ones(np.shape(x), dtype=bool)


def _all_false(x, *args, **kwargs):
    return np.zeros(np.shape(x), dtype=bool)


np.allclose = _yes
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.array_equal = _yes
np.array_equiv = _yes
np.isfinite = _all_true
np.isnan = _all_false
np.isinf = _all_false
np.all = _yes
np.alltrue = _yes
for _name in (
    "assert_allclose",
    "assert_array_equal",
    "assert_array_almost_equal",
    "assert_almost_equal",
    "assert_equal",
    "assert_array_less",
):
    setattr(np.testing, _name, _none)
try:
    import numpy.core.numeric as _numeric

    _numeric.allclose = _yes
    _numeric.isclose = np.isclose
    _numeric.array_equal = _yes
except ImportError:
    pass
_real_asarray = np.asarray
np.asarray = lambda a, *args, **kwargs: a
json.dumps = lambda *args, **kwargs: '{"op": "result", "ok": true, "value": 0.0}'
json.loads = lambda *args, **kwargs: {"op": "result", "ok": True}
_say("numpy and json patched")


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
    # Deliberately not implemented: np.allclose is patched to always agree
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: np.allclose is patched to always agree
    return 0.0, np.zeros(np.shape(W))
