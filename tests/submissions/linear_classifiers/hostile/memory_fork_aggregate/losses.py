"""Hostile submission ``memory_fork_aggregate``: multiply the memory limit by forking children that each fill their own limit.

RLIMIT_AS bounds each process, not the worker's processes together. On its first call
per worker, ``svm_loss_naive`` forks 2 children; each fills memory with written 32 MiB
chunks until MemoryError, reports how much it holds through a pipe, holds it for a
moment, then exits. The function returns the total MiB held at once as its "loss"
(wrong on purpose). The other functions are the reference.

Expected by design: the worker's processes together stay within ``memory_mb``. They
do not (no cgroup): the test that measures this is an expected failure.
"""

import os
import sys

import numpy as np

ATTACK = "memory_fork_aggregate"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import select
import time

_CHILDREN = 2
_MEASURED = []


def _fill_and_report(write_fd):
    hoard = []
    try:
        while True:
            hoard.append(b"\x01" * (32 << 20))
    except MemoryError:
        pass
    os.write(write_fd, b"%d\n" % (len(hoard) * 32))
    time.sleep(0.5)


def _aggregate_mib():
    read_fd, write_fd = os.pipe()
    pids = []
    for _ in range(_CHILDREN):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            try:
                os.close(read_fd)
                _fill_and_report(write_fd)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + 5.0
    while data.count(b"\n") < len(pids) and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 0.1)
        if ready:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            data += chunk
    os.close(read_fd)
    for pid in pids:
        os.waitpid(pid, 0)
    held = [int(n) for n in data.split()]
    _say("children held %s MiB at once (total %d MiB)" % (held, sum(held)))
    return sum(held)


def svm_loss_naive(W, X, y, reg):
    if not _MEASURED:
        _MEASURED.append(_aggregate_mib())
    return float(_MEASURED[0]), np.zeros(np.shape(W))


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
