"""Hostile submission ``exit_os_at_import``: ``os._exit(0)`` at import, after printing a fake pytest success.

Like ``exit_sys_at_import`` but with ``os._exit(0)``, which cannot be caught: the worker
process ends with status 0 in the middle of the import.

Expected: the import is reported as a crash (exit status 0 while importing): 0 points.
"""

import os
import sys

import numpy as np

ATTACK = "exit_os_at_import"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


def _pretend_success():
    print("============================= 36 passed in 0.42s ==============================")
    print("All checks passed. Score: 44/44")
    sys.stdout.flush()


def svm_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the process exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def svm_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the process exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the process exits before any check runs
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the process exits before any check runs
    return 0.0, np.zeros(np.shape(W))


_pretend_success()
_say("os._exit(0) at import")
os._exit(0)
