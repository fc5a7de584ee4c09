"""Hostile submission ``loop_signal_proof``: an infinite loop that ignores every signal and swallows BaseException.

At import every catchable signal is ignored and blocked (SIGTERM, SIGINT, SIGALRM,
SIGXCPU, ...). The naive functions then run ``while True: try: ... except
BaseException: pass``, so a KeyboardInterrupt, SystemExit or timeout exception raised
inside the loop is swallowed. The vectorized functions are the reference.

Expected: only SIGKILL from the grader (per-call timeout) stops the worker.
"""

import os
import sys

import numpy as np

ATTACK = "loop_signal_proof"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import signal


def _ignore_every_signal():
    ignored = []
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_IGN)
            ignored.append(int(sig))
        except (OSError, ValueError, RuntimeError):
            pass
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    except (OSError, ValueError):
        pass
    _say("ignoring %d signals and blocking all of them" % len(ignored))


_ignore_every_signal()
sys.excepthook = lambda *args: None


def _unstoppable(name):
    _say(name + ": unstoppable loop")
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass


def svm_loss_naive(W, X, y, reg):
    _unstoppable("svm_loss_naive")


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
    _unstoppable("softmax_loss_naive")


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
