"""First-order update rules for training neural networks (CS231n assignment 2).

Conventions shared by all four functions
----------------------------------------
Every rule has the signature ``f(w, dw, config=None) -> (next_w, config)``.

* ``w`` is an array of weights of any shape, ``dw`` the gradient of the loss with
  respect to ``w`` (same shape).
* ``config`` is a dict of hyperparameters (``learning_rate``, ...) and of the state the
  rule keeps between steps (``velocity``, ``cache``, ``m``, ``v``, ``t``). ``None`` means
  an empty dict. Every hyperparameter that is missing gets its default, written into the
  dict with ``config.setdefault(name, default)``; values already there are kept.
* ``config`` may be updated in place, and is returned as the second value: the caller
  passes it back unchanged on the next step, which is how the state carries over.
* ``next_w`` is a float64 array of the shape of ``w``. A rule may save memory by writing
  the update into ``w`` itself (``w -= ...``); then ``w`` must end up holding exactly
  ``next_w``, which may be ``w`` itself or a copy of it. ``dw`` belongs to the caller:
  never modify it.
* Use array operations only: no Python loop over the elements of ``w``.
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
        ``w - learning_rate * dw``. As CS231n's own ``sgd`` does, this rule may update
        ``w`` in place (``w -= learning_rate * dw``) and return ``w`` itself.
    config : dict
        The config, with its defaults filled in.
    """
    # TODO: implement sgd (see the docstring above).
    raise NotImplementedError("TODO: implement sgd")


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
    # TODO: implement sgd_momentum (see the docstring above).
    raise NotImplementedError("TODO: implement sgd_momentum")


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
    # TODO: implement rmsprop (see the docstring above).
    raise NotImplementedError("TODO: implement rmsprop")


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
    # TODO: implement adam (see the docstring above).
    raise NotImplementedError("TODO: implement adam")
