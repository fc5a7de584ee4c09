"""Hostile submission ``hunt_reference_disk``: search the disk for the reference solution (and hidden tests), then use it.

On its first call, looks for ``solutions/linear_classifiers/losses.py`` and
``graders/*/test_hidden.py``: at the real repository path (written into this file by
the test), ``/work``, ``/proc/<ppid>/cwd``, ``/proc/*/cwd``, every directory named in
``/proc/*/cmdline`` and ``/proc/*/environ``, ``sys.path`` and its parents, ``..`` of
the file and of the cwd, ``os.environ``; then walks ``/`` (names only, time-capped)
for any ``losses.py`` defining ``svm_loss_naive`` that is not this file. If found it is
imported and every function returns its answers; otherwise every call raises.

Expected: the full layer shows the worker only /usr, the Python installation and its
scratch copy: nothing is found; 0 points.
"""

import os
import sys

import numpy as np

ATTACK = "hunt_reference_disk"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import importlib.util
import time

_NAMES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
_ME = os.path.realpath(__file__)
_FOUND = []


def _delegate(name, args):
    module = _reference()
    if module is None:
        raise LookupError("no reference found: " + _FOUND[1])
    return getattr(module, name)(*args)

_REPO = _template("__HOSTILE_REPO__")


def _candidates_dirs():
    dirs = [_REPO, "/autograder", "/srv", "/home", "/opt", "/root", "/tmp", "/"]
    dirs += [os.path.dirname(_ME), os.path.dirname(os.path.dirname(_ME)), os.getcwd(), ".."]
    for entry in sys.path:
        while entry and entry != "/":
            dirs.append(entry)
            entry = os.path.dirname(entry)
    dirs += [v for v in os.environ.values() if v.startswith("/")]
    try:
        dirs.append(os.readlink("/proc/%d/cwd" % os.getppid()))
    except OSError:
        pass
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        try:
            dirs.append(os.readlink("/proc/%s/cwd" % pid))
        except OSError:
            pass
        for name in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (pid, name), "rb") as f:
                    for part in f.read().split(b"\0"):
                        text = part.decode("utf-8", "replace").split("=", 1)[-1]
                        if text.startswith("/"):
                            dirs += [text, os.path.dirname(text)]
            except OSError:
                pass
    return [d for d in dict.fromkeys(dirs) if d]


def _is_reference(path):
    try:
        if os.path.realpath(path) == _ME:
            return False
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(200000)
    except OSError:
        return False
    return "def svm_loss_naive" in text and "HOSTILE" not in text


def _reference():
    if _FOUND:
        return _FOUND[0]
    deadline = time.monotonic() + 0.6
    seen = hidden = 0
    found = None
    for top in _candidates_dirs():
        for rel in ("solutions/linear_classifiers/losses.py", "linear_classifiers/losses.py",
                    "losses.py"):
            seen += 1
            path = os.path.join(top, rel)
            if _is_reference(path):
                found = found or path
        for rel in ("graders/linear_classifiers/test_hidden.py", "test_hidden.py"):
            if os.path.exists(os.path.join(top, rel)):
                hidden += 1
    walked = 0
    if found is None:
        for top, subdirs, files in os.walk("/"):
            if time.monotonic() > deadline:
                break
            subdirs[:] = [d for d in subdirs if d not in ("proc", "sys", "dev")]
            walked += len(files)
            if "losses.py" in files and _is_reference(os.path.join(top, "losses.py")):
                found = os.path.join(top, "losses.py")
                break
            if "test_hidden.py" in files:
                hidden += 1
    summary = "%d candidate paths, %d files walked, %d hidden test files seen" % (
        seen, walked, hidden)
    module = None
    if found is not None:
        spec = importlib.util.spec_from_file_location("stolen_reference", found)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        summary = "reference found at " + found + "; " + summary
    _say(summary)
    _FOUND[:] = [module, summary]
    return module


def svm_loss_naive(W, X, y, reg):
    return _delegate("svm_loss_naive", (W, X, y, reg))


def svm_loss_vectorized(W, X, y, reg):
    return _delegate("svm_loss_vectorized", (W, X, y, reg))


def softmax_loss_naive(W, X, y, reg):
    return _delegate("softmax_loss_naive", (W, X, y, reg))


def softmax_loss_vectorized(W, X, y, reg):
    return _delegate("softmax_loss_vectorized", (W, X, y, reg))
