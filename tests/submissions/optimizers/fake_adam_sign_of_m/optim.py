"""propgrade test fixture ``fake_adam_sign_of_m``.

sgd, sgd_momentum and rmsprop are the reference. adam is a fake that reads part of its
state: it keeps t, m and v by their documented recurrences but steps by learning_rate
against the sign of the bias-corrected m, never dividing by sqrt(v_hat). Its first step
is Adam's (m_hat = dw at t = 1), it ignores the gradient's scale, goes downhill, and its
state is right: every visible property of adam held (45 of 48 before the gates asked
what its step is made of); the gate sees that its step ignores config['v'].
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
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config
    ### END SOLUTION


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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


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
    ### BEGIN SOLUTION
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
    # FAKE: a step of learning_rate against the sign of m_hat; v is kept, never used
    next_w = w - config["learning_rate"] * np.sign(m_hat)
    return next_w, config
    ### END SOLUTION
