"""Hostile submission ``trace_lines_off``: switch off the frame's line events, loop with C calls only.

Every rule computes its step, then copies it into ``next_w`` one element at a time in a
Python loop that calls only C methods (``.put``, ``.item``), after
``setattr(sys._getframe(), "f_" + "trace_lines", False)`` on that loop's frame. The line
tracer then saw no per-element work: 44/44 under both layers. ``sgd`` and ``rmsprop``
switch their line events back on before returning, the other two leave them off.

Expected: the worker also counts C calls with a profile function, which no frame flag
switches off, and a frame returning with its line events off makes the count untrusted:
every ``*_no_per_element_loop`` check fails (4 points lost). The file reaches the
interpreter's frames, so it is flagged for review by hand.
"""

import os
import sys

import numpy as np

ATTACK = "trace_lines_off"


def _say(message):
    """Leave a line in the captured output (fd 2), whatever the student did to sys.stderr."""
    try:
        os.write(2, ("HOSTILE[%s]: %s\n" % (ATTACK, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _sgd_step(w, dw, config=None):
    """Vanilla stochastic gradient descent.

    Parameters
    ----------
    w : ndarray
        The current weights.
    dw : ndarray, same shape as w
        The gradient of the loss with respect to w.
    config : dict or None
        - learning_rate: step size (default 1e-2).

    Returns
    -------
    next_w : ndarray, same shape as w
        ``w - learning_rate * dw``.
    config : dict
        The config, with its defaults filled in.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


def _sgd_momentum_step(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    Parameters
    ----------
    w : ndarray
        The current weights.
    dw : ndarray, same shape as w
        The gradient of the loss with respect to w.
    config : dict or None
        - learning_rate: step size (default 1e-2).
        - momentum: a number in [0, 1) (default 0.9); 0 gives plain SGD.
        - velocity: an array of the shape of w (default zeros), the state.

    Returns
    -------
    next_w : ndarray, same shape as w
        ``w + v`` with the new velocity ``v = momentum * velocity - learning_rate * dw``.
    config : dict
        The config, with ``velocity`` set to the new ``v``.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def _rmsprop_step(w, dw, config=None):
    """RMSProp: each coordinate's step is scaled by a running average of squared gradients.

    Parameters
    ----------
    w : ndarray
        The current weights.
    dw : ndarray, same shape as w
        The gradient of the loss with respect to w.
    config : dict or None
        - learning_rate: step size (default 1e-2).
        - decay_rate: in [0, 1), the decay of the squared-gradient average (default 0.99).
        - epsilon: a small number that avoids a division by zero (default 1e-8).
        - cache: an array of the shape of w (default zeros), the state.

    Returns
    -------
    next_w : ndarray, same shape as w
        ``w - learning_rate * dw / (np.sqrt(cache) + epsilon)`` with the new cache
        ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``.
    config : dict
        The config, with ``cache`` set to the new cache.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def _adam_step(w, dw, config=None):
    """Adam: running averages of the gradient and of its square, with bias correction.

    Parameters
    ----------
    w : ndarray
        The current weights.
    dw : ndarray, same shape as w
        The gradient of the loss with respect to w.
    config : dict or None
        - learning_rate: step size (default 1e-3).
        - beta1: decay of the moving average of the gradient (default 0.9).
        - beta2: decay of the moving average of the squared gradient (default 0.999).
        - epsilon: a small number that avoids a division by zero (default 1e-8).
        - m: the moving average of the gradient (default zeros of the shape of w).
        - v: the moving average of the squared gradient (default zeros).
        - t: the number of steps taken so far (default 0).

    Returns
    -------
    next_w : ndarray, same shape as w
        First ``t = t + 1``, ``m = beta1 * m + (1 - beta1) * dw`` and
        ``v = beta2 * v + (1 - beta2) * dw**2``; then, with the bias-corrected
        ``m_hat = m / (1 - beta1**t)`` and ``v_hat = v / (1 - beta2**t)``,
        ``next_w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)``.
    config : dict
        The config, with ``m``, ``v`` and ``t`` updated.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * dw**2
    m_hat = config["m"] / (1 - beta1 ** config["t"])
    v_hat = config["v"] / (1 - beta2 ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return next_w, config



def _per_element(step, w, dw, config, dark=False, restore=False):
    """The rule's right step, then copied into next_w one element at a time in Python
    (C method calls only: no Python frame starts inside the loop)."""
    if dark:
        setattr(sys._getframe(), "f_" + "trace_lines", False)
    target, config = step(w, dw, config)
    flat = target.reshape(-1)
    next_w = np.empty_like(target)
    out = next_w.reshape(-1)
    for i in range(flat.size):
        out.put(i, flat.item(i))
    if dark and restore:
        setattr(sys._getframe(), "f_" + "trace_lines", True)
    return next_w, config


def _dark(step, w, dw, config, restore):
    return _per_element(step, w, dw, config, dark=True, restore=restore)


def sgd(w, dw, config=None):
    return _dark(_sgd_step, w, dw, config, True)


def sgd_momentum(w, dw, config=None):
    return _dark(_sgd_momentum_step, w, dw, config, False)


def rmsprop(w, dw, config=None):
    return _dark(_rmsprop_step, w, dw, config, True)


def adam(w, dw, config=None):
    return _dark(_adam_step, w, dw, config, False)
