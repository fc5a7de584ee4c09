"""Hostile submission ``memory_bomb``: allocate until MemoryError, and an 8 GiB bytearray.

At import: ``bytearray(8 GiB)``. In ``softmax_loss_naive``: allocate 64 MiB chunks until
MemoryError, swallow it, then ask for 8 GiB more. In ``svm_loss_vectorized``: a 16 GiB numpy array. The other two functions
are the reference.

Expected: RLIMIT_AS turns every attempt into a MemoryError inside the worker; the host
and the grader are untouched; the two functions fail, the other two keep their points.
"""

import os
import sys

import numpy as np

ATTACK = "memory_bomb"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


try:
    _HUGE = bytearray(8 << 30)
    _say("8 GiB bytearray at import: allocated?!")
except MemoryError:
    _say("8 GiB bytearray at import: MemoryError")


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
    _say("svm_loss_vectorized: np.ones((2**17, 2**14)), 16 GiB")
    big = np.ones((1 << 17, 1 << 14))
    return float(big.sum()), np.zeros(np.shape(W))


_HOARDED = []


def softmax_loss_naive(W, X, y, reg):
    if not _HOARDED:
        hoard = []
        try:
            while True:
                hoard.append(bytearray(64 << 20))
        except MemoryError:
            pass
        _HOARDED.append(len(hoard) * 64)
        _say("softmax_loss_naive: hoarded %d MiB before MemoryError" % _HOARDED[0])
        del hoard
    return len(bytearray(8 << 30)), np.zeros(np.shape(W))


def softmax_loss_vectorized(W, X, y, reg):
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
