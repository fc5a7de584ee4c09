"""Hostile submission ``lying_float_subclass``: return the loss as a float subclass that lies.

The gradients are correct (computed as in the reference), but every loss is NaN
wrapped in a lying subclass: ``float`` for the naive functions, ``np.float64`` for the
vectorized ones. Comparisons always agree, ``__float__`` claims the right-looking
value ``0.0``, ``__repr__`` prints ``0.0``, ``abs(loss - x)`` is ``0.0``.

Expected: only exact ``float``/numpy scalar types cross the boundary; these losses are
decoded as "unsupported" and every check needing the loss fails.
"""

import os
import sys

import numpy as np

ATTACK = "lying_float_subclass"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


def _lies(base):
    class Lying(base):
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __lt__(self, other):
            return True

        __le__ = __gt__ = __ge__ = __lt__
        __hash__ = base.__hash__

        def __float__(self):
            return 0.0

        def __repr__(self):
            return "0.0"

        __str__ = __repr__

        def __sub__(self, other):
            return 0.0

        __rsub__ = __add__ = __radd__ = __sub__

        def __abs__(self):
            return 0.0

    return Lying


_LyingFloat = _lies(float)
_LyingFloat64 = _lies(np.float64)


def _real_svm_loss_naive(W, X, y, reg):
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


def _real_svm_loss_vectorized(W, X, y, reg):
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


def _real_softmax_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape, dtype=np.float64)
    for i in range(num_train):
        scores = X[i].dot(W)
        shifted = scores - np.max(scores)  # for numerical stability
        log_sum_exp = np.log(np.sum(np.exp(shifted)))
        loss += log_sum_exp - shifted[y[i]]  # -log p[y[i]]
        for j in range(num_classes):
            p_j = np.exp(shifted[j] - log_sum_exp)
            if j == y[i]:
                dW[:, j] += (p_j - 1.0) * X[i]
            else:
                dW[:, j] += p_j * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


def _real_softmax_loss_vectorized(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    shifted = scores - np.max(scores, axis=1, keepdims=True)  # per-row shift for stability
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y]) / num_train + reg * np.sum(W * W)

    dscores = np.exp(log_probs)  # probabilities, (N, C)
    dscores[rows, y] -= 1.0  # the pairs (i, y[i]) are all distinct: no update is lost
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return float(loss), dW


def svm_loss_naive(W, X, y, reg):
    _, dW = _real_svm_loss_naive(W, X, y, reg)
    return _LyingFloat("nan"), dW


def svm_loss_vectorized(W, X, y, reg):
    _, dW = _real_svm_loss_vectorized(W, X, y, reg)
    return _LyingFloat64("nan"), dW


def softmax_loss_naive(W, X, y, reg):
    _, dW = _real_softmax_loss_naive(W, X, y, reg)
    return _LyingFloat("nan"), dW


def softmax_loss_vectorized(W, X, y, reg):
    _, dW = _real_softmax_loss_vectorized(W, X, y, reg)
    return _LyingFloat64("nan"), dW
