"""Hostile submission ``trace_memo_dummy``: a dummy while counted, remembered by argument bytes.

Both vectorized functions loop over the samples in Python (right values). They notice the
counter through the frame's ``"f_" + "trace"`` attribute and then return ``(0.0, W * 0.0)``
at once, and they remember every answer by the bytes of their arguments. Before, the
worker's untraced rerun of a traced call ran in the same process, found the remembered
dummy and "agreed" with it: 48/48 under both layers.

Expected: the dummy is not the reference's result, so the call is run again untraced in
a fresh worker process, where nothing is remembered: the loop computes the right value,
the two differ, and both ``*_vec_no_per_sample_loop`` checks fail (2 points lost). The
file reaches the interpreter's frames, so it is flagged for review by hand.
"""

import os
import sys

import numpy as np

ATTACK = "trace_memo_dummy"
_MEMO = {}


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _svm_per_sample(W, X, y, reg):
    """The right loss and dW, from a Python loop over the samples."""
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        scores = X[i].dot(W)
        margins = np.maximum(0.0, scores - scores[y[i]] + 1.0)
        margins[y[i]] = 0.0
        coeff = (margins > 0).astype(np.float64)
        coeff[y[i]] = -np.add.reduce(coeff)
        loss += np.add.reduce(margins)
        dW += X[i][:, None] * coeff[None, :]
    n = X.shape[0]
    return float(loss / n + reg * np.add.reduce((W * W).ravel())), dW / n + 2 * reg * W


def _softmax_per_sample(W, X, y, reg):
    """The right loss and dW, from a Python loop over the samples."""
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        scores = X[i].dot(W)
        shifted = scores - np.maximum.reduce(scores)
        log_probs = shifted - np.log(np.add.reduce(np.exp(shifted)))
        probs = np.exp(log_probs)
        probs[y[i]] -= 1.0
        loss -= log_probs[y[i]]
        dW += X[i][:, None] * probs[None, :]
    n = X.shape[0]
    return float(loss / n + reg * np.add.reduce((W * W).ravel())), dW / n + 2 * reg * W


def _remembered(name, compute, W, X, y, reg):
    key = (name, W.tobytes(), X.tobytes(), y.tobytes(), float(reg))
    if key not in _MEMO:
        counted = getattr(sys._getframe(1), "f_" + "trace") is not None
        if counted:
            _say("counted: answering with a dummy")
        _MEMO[key] = (0.0, W * 0.0) if counted else compute(W, X, y, reg)
    return _MEMO[key]


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean hinge loss over the N samples plus ``reg * np.sum(W * W)``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``.

    Notes
    -----
    With scores ``s = X[i] @ W``, the loss of sample ``i`` is

        ``sum over j != y[i] of max(0, s[j] - s[y[i]] + 1)``

    (margin delta = 1; the correct class itself never contributes). A margin counts
    as active, and contributes to the gradient, when it is strictly positive; at a
    margin of exactly 0 the hinge has a kink and either choice is a valid subgradient.

    Use explicit Python loops over the samples and the classes. Do not modify ``W``,
    ``X`` or ``y``.
    """
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
    return _remembered("svm", _svm_per_sample, W, X, y, reg)


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with explicit loops.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean cross-entropy loss over the N samples plus ``reg * np.sum(W * W)``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``.

    Notes
    -----
    With scores ``s = X[i] @ W``, the loss of sample ``i`` is

        ``-log(exp(s[y[i]]) / sum over j of exp(s[j]))``

    Compute it in a numerically stable way: subtract ``max(s)`` from the scores of the
    sample before exponentiating (this does not change the result), or use the
    log-sum-exp form. Without that, ``exp`` overflows once scores reach about 710.

    Use explicit Python loops over the samples (and the classes). Do not modify ``W``,
    ``X`` or ``y``.
    """
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


def softmax_loss_vectorized(W, X, y, reg):
    return _remembered("softmax", _softmax_per_sample, W, X, y, reg)
