"""Hostile submission ``monkeypatch_pytest_hypothesis``: patch pytest, Hypothesis and propgrade at import (attributes, sys.modules, __import__).

At import: ``hypothesis.given`` becomes a decorator that turns every test into a no-op,
``hypothesis.assume``/``note``/``settings`` are neutered, ``pytest.fail``,
``pytest.approx`` and ``_pytest.outcomes.fail`` are replaced; then ``sys.modules`` gets
fake ``pytest``, ``_pytest``, ``hypothesis``, ``propgrade`` (+ submodules) whose every
attribute passes, and ``builtins.__import__`` hands out those fakes. All four functions
return a zero loss and gradient.

Expected: pytest, Hypothesis and the checks run in the grader, which never imports
student code: the patches change nothing there; every check the zeros do not satisfy
fails.
"""

import os
import sys

import numpy as np

ATTACK = "monkeypatch_pytest_hypothesis"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _template(value):
    """Values the test writes into its copy of this file; None when left as a placeholder."""
    return None if value.startswith("__HOSTILE") else value


import builtins
import types


def _passing(*args, **kwargs):
    return None


def _given(*args, **kwargs):
    def decorate(test):
        def passed(*a, **k):
            return None

        passed.__name__ = getattr(test, "__name__", "test")
        return passed

    return decorate


class _Everything(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ("given", "check", "check_each"):
            return _given
        return _passing


_patched = []
try:
    import hypothesis

    hypothesis.given = _given
    hypothesis.assume = lambda condition: True
    hypothesis.note = _passing
    hypothesis.settings = lambda *args, **kwargs: (lambda test: test)
    import hypothesis.core

    hypothesis.core.given = _given
    _patched.append("hypothesis")
except Exception as exc:
    _say("hypothesis: %r" % (exc,))
try:
    import pytest
    import _pytest.outcomes

    pytest.fail = _passing
    pytest.skip = _passing
    pytest.approx = lambda expected, *args, **kwargs: _Everything("approx")
    _pytest.outcomes.fail = _passing
    _patched.append("pytest")
except Exception as exc:
    _say("pytest: %r" % (exc,))
_FAKES = {}
for _name in (
    "pytest",
    "_pytest",
    "_pytest.outcomes",
    "hypothesis",
    "hypothesis.strategies",
    "propgrade",
    "propgrade.engine.checks",
    "propgrade.engine.expect",
    "propgrade.engine.grading",
):
    _FAKES[_name] = sys.modules[_name] = _Everything(_name)
_real_import = builtins.__import__


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name in _FAKES:
        return _FAKES[name]
    return _real_import(name, globals, locals, fromlist, level)


builtins.__import__ = _import
_say("patched %s; faked %d modules in sys.modules" % (_patched, len(_FAKES)))


def svm_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the test framework is patched to pass everything
    return 0.0, np.zeros(np.shape(W))


def svm_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the test framework is patched to pass everything
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_naive(W, X, y, reg):
    # Deliberately not implemented: the test framework is patched to pass everything
    return 0.0, np.zeros(np.shape(W))


def softmax_loss_vectorized(W, X, y, reg):
    # Deliberately not implemented: the test framework is patched to pass everything
    return 0.0, np.zeros(np.shape(W))
