"""Hostile submission ``output_flood``: hundreds of MB on stdout and stderr.

At import: 32 MiB on stdout (print) and 32 MiB on stderr. ``softmax_loss_vectorized``
writes 128 MiB to each of fd 1 and fd 2 (fake "all checks passed" lines) in its first
four calls per worker, then returns a wrong answer. ``svm_loss_vectorized`` prints 1 MiB
per call and is otherwise correct (the reply channel must survive the noise).

Expected: the grader keeps the first ``output_kb`` of output and counts the rest; it
never buffers the flood; replies stay intact; only the softmax_vec checks fail.
"""

import os
import sys

import numpy as np

ATTACK = "output_flood"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


_LINE = "=== all 36 checks passed, score 44/44 ===\n"
_CHUNK = (_LINE * ((1 << 20) // len(_LINE) + 1)).encode()[: 1 << 20]  # 1 MiB


def _write_mib(fd, mib):
    for _ in range(mib):
        view = memoryview(_CHUNK)
        while view:
            view = view[os.write(fd, view) :]


_say("flooding 32 MiB on stdout and 32 MiB on stderr at import")
sys.stdout.write(_LINE * (32 * (1 << 20) // len(_LINE)))
sys.stdout.flush()
_write_mib(2, 32)
_FLOOD_CALLS = []


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
    print(_LINE * ((1 << 20) // len(_LINE)), end="")
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    margins = np.maximum(0.0, scores - scores[rows, y][:, np.newaxis] + 1.0)
    margins[rows, y] = 0.0
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)
    coeff = (margins > 0).astype(np.float64)
    coeff[rows, y] = -np.sum(coeff, axis=1)
    dW = X.T.dot(coeff) / num_train + 2 * reg * W
    return float(loss), dW


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
    if len(_FLOOD_CALLS) < 4:
        _FLOOD_CALLS.append(True)
        _write_mib(1, 128)
        _write_mib(2, 128)
    return 0.0, np.zeros(np.shape(W))
