"""Hostile submission ``trace_memo_dummy``: a dummy while counted, remembered by argument bytes.

Every rule computes its step with a Python loop over the elements of w (right values). It
notices the counter through the frame's ``"f_" + "trace"`` attribute and then returns
``(w.copy(), config)`` at once, and it remembers every answer by the bytes of its
arguments. Before, the worker's untraced rerun of a traced call ran in the same process,
found the remembered dummy and "agreed" with it: 44/44 under both layers.

Expected: the dummy is not the reference's step, so the call is run again untraced in a
fresh worker process, where nothing is remembered: the two differ and every
``*_no_per_element_loop`` check fails (4 points lost). The file reaches the
interpreter's frames, so it is flagged for review by hand.
"""

import os
import sys

import numpy as np

ATTACK = "trace_memo_dummy"
_MEMO = {}


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



def _per_element(step, w, dw, config):
    """The rule's right step, then copied into next_w one element at a time in Python
    (C method calls only: no Python frame starts inside the loop)."""
    target, config = step(w, dw, config)
    flat = target.reshape(-1)
    next_w = np.empty_like(target)
    out = next_w.reshape(-1)
    for i in range(flat.size):
        out.put(i, flat.item(i))
    return next_w, config


def _key(value):
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return tuple((k, _key(v)) for k, v in sorted(value.items()))
    return repr(value)


def _remembered(step, w, dw, config):
    key = (step.__name__, _key(w), _key(dw), _key(config))
    if key not in _MEMO:
        counted = getattr(sys._getframe(1), "f_" + "trace") is not None
        if counted:
            _say("counted: answering with a dummy")
            _MEMO[key] = (w.copy(), {} if config is None else config)
        else:
            _MEMO[key] = _per_element(step, w, dw, config)
    return _MEMO[key]


def sgd(w, dw, config=None):
    return _remembered(_sgd_step, w, dw, config)


def sgd_momentum(w, dw, config=None):
    return _remembered(_sgd_momentum_step, w, dw, config)


def rmsprop(w, dw, config=None):
    return _remembered(_rmsprop_step, w, dw, config)


def adam(w, dw, config=None):
    return _remembered(_adam_step, w, dw, config)
