"""Hostile submission ``exit_sys_at_import``: ``sys.exit(0)`` at import, after printing a fake pytest success.

Some autograders treat exit status 0 as "all tests passed". Every function here is
unimplemented; the module prints a pytest-style success line (also from an atexit
handler) and calls ``sys.exit(0)`` at import time.

Expected: the import fails (SystemExit is an import error, not a pass): 0 points.
"""

import os
import sys

import numpy as np

ATTACK = "exit_sys_at_import"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import atexit

def _pretend_success():
    print("============================= 36 passed in 0.42s ==============================")
    print("All checks passed. Score: 44/44")
    sys.stdout.flush()


def svm_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the module exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def svm_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the module exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the module exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the module exits before any check runs
    return 0.0, np.zeros(np.shape(W))


atexit.register(_pretend_success)
_pretend_success()
_say("sys.exit(0) at import")
sys.exit(0)
