"""Hostile submission ``trace_evasion``: loop over samples in the vectorized functions, invisibly to the line tracer.

Both vectorized functions loop over the samples in Python (correct values), hidden
from the worker's event counter in two subtler ways:

* ``svm_loss_vectorized`` saves the trace function, clears it (``sys.settrace(None)``
  and ``frame.f_trace = None``) for the loop and restores both before returning, so
  the worker finds its tracer in place;
* ``softmax_loss_vectorized`` runs the loop in code compiled under another file name,
  and the tracer only counts events in the student's file.

The check counts Python events inside the untrusted worker, so it can be fooled;
this is the one attack expected to gain points (the two ``no_per_sample_loop`` checks).
"""

import os
import sys

import numpy as np

ATTACK = "trace_evasion"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


def _svm_one_sample(W, x, label):
    """Loss and gradient of one sample: called once per sample (a per-sample loop)."""
    scores = x.dot(W)
    margins = np.maximum(0.0, scores - scores[label] + 1.0)
    margins[label] = 0.0
    coeff = (margins > 0).astype(np.float64)
    coeff[label] = -np.sum(coeff)
    return np.sum(margins), np.outer(x, coeff)


def _softmax_one_sample(W, x, label):
    scores = x.dot(W)
    shifted = scores - np.max(scores)
    log_probs = shifted - np.log(np.sum(np.exp(shifted)))
    probs = np.exp(log_probs)
    probs[label] -= 1.0
    return -log_probs[label], np.outer(x, probs)


# The whole per-sample loop lives in code whose file name is not losses.py.
_FOREIGN = {"np": np}
exec(
    compile(
        "def per_sample(W, X, y):\n"
        "    loss, dW = 0.0, np.zeros(W.shape)\n"
        "    for i in range(X.shape[0]):\n"
        "        scores = X[i].dot(W)\n"
        "        shifted = scores - np.max(scores)\n"
        "        log_probs = shifted - np.log(np.sum(np.exp(shifted)))\n"
        "        probs = np.exp(log_probs)\n"
        "        probs[y[i]] -= 1.0\n"
        "        loss -= log_probs[y[i]]\n"
        "        dW += np.outer(X[i], probs)\n"
        "    return loss, dW\n",
        "<numpy internals>",
        "exec",
    ),
    _FOREIGN,
)


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
    tracer = sys.gettrace()
    frame = sys._getframe()
    local_tracer = frame.f_trace
    sys.settrace(None)
    frame.f_trace = None
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        sample_loss, sample_dW = _svm_one_sample(W, X[i], y[i])
        loss += sample_loss
        dW += sample_dW
    n = X.shape[0]
    frame.f_trace = local_tracer
    sys.settrace(tracer)
    return float(loss / n + reg * np.sum(W * W)), dW / n + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
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
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = _FOREIGN["per_sample"](W, X, y)
    n = X.shape[0]
    return float(loss / n + reg * np.sum(W * W)), dW / n + 2 * reg * W
