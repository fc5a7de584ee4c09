"""Update rules, with the shared parts in helpers."""

import numpy as np


def _defaults(config, **values):
    if config is None:
        config = {}
    for key, value in values.items():
        config.setdefault(key, value)
    return config


def _state(config, key, like):
    if key not in config:
        config[key] = np.zeros_like(like)
    return config[key]


def _ema(old, new, decay):
    return decay * old + (1 - decay) * new


def sgd(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    velocity = config["momentum"] * _state(config, "velocity", w) - config["learning_rate"] * dw
    config["velocity"] = velocity
    return w + velocity, config


def rmsprop(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    config["cache"] = _ema(_state(config, "cache", w), dw * dw, config["decay_rate"])
    scale = np.sqrt(config["cache"]) + config["epsilon"]
    return w - config["learning_rate"] * dw / scale, config


def adam(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0)
    config["t"] += 1
    config["m"] = _ema(_state(config, "m", w), dw, config["beta1"])
    config["v"] = _ema(_state(config, "v", w), dw * dw, config["beta2"])
    unbiased_m = config["m"] / (1 - config["beta1"] ** config["t"])
    unbiased_v = config["v"] / (1 - config["beta2"] ** config["t"])
    scale = np.sqrt(unbiased_v) + config["epsilon"]
    return w - config["learning_rate"] * unbiased_m / scale, config
