"""Hostile submission ``trace_forged_frame``: write a well-formed reply frame with a made-up trace count straight to the reply pipe.

Both vectorized functions loop over the samples in Python (correct values). When a
call is traced, the function finds the worker's reply pipe (the one write-only pipe
that is not the output pipe, by ``fstat``), reads the call's id from the worker's
frame, and writes a complete, valid result frame: the correct loss and gradient with a
trace count of 40, for 8 samples and for 64 alike. It then points the reply pipe at a
pipe of its own, so the worker's genuine reply goes nowhere, and every public function
puts the real pipe back first thing on its next call. The untraced rerun of the same
call returns the same, correct values. The source never names the tracing API.

Known hole: the count is taken inside the student's process, and whatever writes
there can say anything. This gains the two ``no_per_sample_loop`` checks (2 points);
see "What the loop check is worth" in README.md.
"""

import os
import sys

import numpy as np

ATTACK = "trace_forged_frame"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import json
import stat
import struct
import fcntl

_FAKE_COUNT = 40
_diverted = []  # (reply fd, saved copy of it, our pipe's two ends) while diverted


def _reply_fd():
    """The worker's reply pipe: write-only, a pipe, and not the output pipe on fd 2."""
    output = os.fstat(2).st_ino
    for fd in range(3, 256):
        try:
            info = os.fstat(fd)
            mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            continue
        if stat.S_ISFIFO(info.st_mode) and mode == os.O_WRONLY and info.st_ino != output:
            return fd
    return None


def _worker_call():
    """The worker's description of the current call, from a frame further up."""
    frame = sys._getframe(1)
    while frame is not None:
        call = frame.f_locals.get("call")
        if isinstance(call, dict) and "id" in call and "trace" in call:
            return call
        frame = frame.f_back
    return None


def _restore():
    """Put the real reply pipe back, so this call's reply reaches the grader."""
    while _diverted:
        fd, saved, ends = _diverted.pop()
        os.dup2(saved, fd)
        for end in (saved, *ends):
            os.close(end)


def _forge(loss, dW):
    call = _worker_call()
    fd = _reply_fd()
    if call is None or not call["trace"] or fd is None:
        return
    blob = np.ascontiguousarray(dW, dtype="<f8").tobytes()
    value = [float(loss), {"blob": 0, "dtype": "<f8", "shape": list(dW.shape)}]
    header = {"ok": True, "value": value, "seconds": 0.001, "trace": _FAKE_COUNT}
    header.update(args_after=None, op="result", id=call["id"], blobs=[len(blob)])
    text = json.dumps(header, separators=(",", ":")).encode()
    os.write(fd, struct.pack(">I", len(text)) + text + blob)
    # The worker's own reply for this call must not follow the forged one.
    saved = os.dup(fd)
    ends = os.pipe()
    os.dup2(ends[1], fd)
    _diverted.append((fd, saved, ends))
    _say("forged a reply frame for call %d" % call["id"])


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


def svm_loss_naive(W, X, y, reg):
    _restore()
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
    _restore()
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        sample_loss, sample_dW = _svm_one_sample(W, X[i], y[i])
        loss += sample_loss
        dW += sample_dW
    n = X.shape[0]
    loss, dW = float(loss / n + reg * np.sum(W * W)), dW / n + 2 * reg * W
    _forge(loss, dW)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    _restore()
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
    _restore()
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    loss, dW = 0.0, np.zeros(W.shape)
    for i in range(X.shape[0]):
        sample_loss, sample_dW = _softmax_one_sample(W, X[i], y[i])
        loss += sample_loss
        dW += sample_dW
    n = X.shape[0]
    loss, dW = float(loss / n + reg * np.sum(W * W)), dW / n + 2 * reg * W
    _forge(loss, dW)
    return loss, dW
