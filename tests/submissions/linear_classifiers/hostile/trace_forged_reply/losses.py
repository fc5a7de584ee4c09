"""Hostile submission ``trace_forged_reply``: forge the worker's reply header: the trace count comes from the student's process.

Both vectorized functions loop over the samples in Python (correct values). At import
the module replaces ``json.JSONEncoder`` with a subclass that rewrites every
``"trace"`` count to 7. The worker captured ``json.dumps`` before the student's import,
but ``json.dumps(..., separators=...)`` looks ``JSONEncoder`` up in the json module at
every call, so the worker's own replies go through the student's encoder.

Expected if the worker were airtight: both ``no_per_sample_loop`` checks fail. The
measurement is made inside the untrusted process, so this may gain their 2 points.
"""

import os
import sys

import numpy as np

ATTACK = "trace_forged_reply"


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


import json
import re

_RealEncoder = json.JSONEncoder


class _ForgingEncoder(_RealEncoder):
    def encode(self, obj):
        text = _RealEncoder.encode(self, obj)
        return re.sub(r'"trace":\d+', '"trace":7', text)


json.JSONEncoder = _ForgingEncoder


def _looped(one_sample, W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        sample_loss, sample_dW = one_sample(W, X[i], y[i])
        loss += sample_loss
        dW += sample_dW
    n = X.shape[0]
    return float(loss / n + reg * np.sum(W * W)), dW / n + 2 * reg * W


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
    return _looped(_svm_one_sample, W, X, y, reg)


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
    return _looped(_softmax_one_sample, W, X, y, reg)
