"""Hostile submission ``memory_config_hoard``: the reference, plus a 2 MB array in every config.

Every rule computes the right step and state, then stores ``np.full(262144, 1.0)`` in
``config["hoard"]`` before returning it. The grader passes the config back on the next
step (200 chained steps per convex-quadratic case), so before reply budgets every reply
carried 2 MB into the grading process and its call cache: it still scored 44/44 while
the grader's peak RSS went from 65 MB to 6.3 GB.

Expected: a config's budget does not grow with what the config holds (only with the
arrays passed directly, ``w`` and ``dw``), so each reply is over budget and fails with a
message saying how large it was; every ``*_implemented`` check fails, the submission
scores 0 with that reason, and the grading process stays small while its classmates are
graded as usual.
"""

import numpy as np


def sgd(w, dw, config=None):
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
    config["hoard"] = np.full(262144, 1.0)  # 2 MB, passed back on every step
    return next_w, config


def sgd_momentum(w, dw, config=None):
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
    config["hoard"] = np.full(262144, 1.0)  # 2 MB, passed back on every step
    return next_w, config


def rmsprop(w, dw, config=None):
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
    config["hoard"] = np.full(262144, 1.0)  # 2 MB, passed back on every step
    return next_w, config


def adam(w, dw, config=None):
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
    config["hoard"] = np.full(262144, 1.0)  # 2 MB, passed back on every step
    return next_w, config
