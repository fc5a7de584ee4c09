"""Hostile submission ``shipped_extra_files``: ship conftest.py, sitecustomize.py, numpy.py, ... next to losses.py.

``losses.py`` itself implements nothing. Next to it the submission ships
``conftest.py``, ``sitecustomize.py``, ``usercustomize.py``, ``numpy.py``,
``hypothesis.py``, ``__init__.py`` and ``pytest.ini``; each would make every check
pass if the grader or the worker ever loaded it (pytest hooks forcing "passed",
propgrade's scoring patched to full marks, a fake numpy whose allclose agrees, a fake
Hypothesis whose ``given`` skips the test). On load each also writes a marker file
into a folder the test watches and prints a marker line.

In the repository those files carry a ``.ship`` suffix so that pytest never collects
or imports them here; the test copies them into the class folder under their real
names.

Expected: the worker's scratch folder holds a copy of losses.py only and runs
``python -I``; the grader never imports from submission folders: no marker; 0 points.
"""

import os
import sys

import numpy as np

ATTACK = "shipped_extra_files"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


def svm_loss_naive(W, X, y, reg):
    raise NotImplementedError("conftest.py and friends take care of this one")


def svm_loss_vectorized(W, X, y, reg):
    raise NotImplementedError("conftest.py and friends take care of this one")


def softmax_loss_naive(W, X, y, reg):
    raise NotImplementedError("conftest.py and friends take care of this one")


def softmax_loss_vectorized(W, X, y, reg):
    raise NotImplementedError("conftest.py and friends take care of this one")
