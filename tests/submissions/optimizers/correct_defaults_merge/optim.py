"""Defaults merged keyword-style: {**DEFAULTS, **config}, written back into the caller's dict."""
import numpy as np

SGD = dict(learning_rate=1e-2)
MOMENTUM = dict(learning_rate=1e-2, momentum=0.9)
RMSPROP = dict(learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
ADAM = dict(learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)


def _config(config, defaults, **state):
    if config is None:
        config = {}
    merged = {**defaults, **state, **config}
    config.update(merged)
    return config


def _update(w, dw, learning_rate, **_):
    return w - learning_rate * dw


def sgd(w, dw, config=None):
    config = _config(config, SGD)
    return _update(w, dw, **config), config


def sgd_momentum(w, dw, config=None):
    config = _config(config, MOMENTUM, velocity=np.zeros_like(w))
    config["velocity"] = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return w + config["velocity"], config


def rmsprop(w, dw, config=None):
    config = _config(config, RMSPROP, cache=np.zeros_like(w))
    c = config
    c["cache"] = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw**2
    return _update(w, dw / (np.sqrt(c["cache"]) + c["epsilon"]), **c), c


def adam(w, dw, config=None):
    c = _config(config, ADAM, m=np.zeros_like(w), v=np.zeros_like(w), t=0)
    c["t"] = c["t"] + 1
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat = c["m"] / (1 - c["beta1"] ** c["t"])
    v_hat = c["v"] / (1 - c["beta2"] ** c["t"])
    return _update(w, m_hat / (np.sqrt(v_hat) + c["epsilon"]), **c), c
