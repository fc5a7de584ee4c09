import numpy as np


def sgd(w, dw, config=None):
    if not isinstance(config, dict):
        config = {}
    config.setdefault("learning_rate", 0.01)
    next_w = w + (-config["learning_rate"]) * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    if not isinstance(config, dict):
        config = {}
    for k, default in (("learning_rate", 0.01), ("momentum", 0.9)):
        config.setdefault(k, default)
    if "velocity" not in config:
        config["velocity"] = np.zeros(w.shape)
    config["velocity"] = config["momentum"] * config["velocity"] + (-config["learning_rate"]) * dw
    next_w = w + config["velocity"]
    return next_w, config


def rmsprop(w, dw, config=None):
    if not isinstance(config, dict):
        config = {}
    for k, default in (("learning_rate", 0.01), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, default)
    if "cache" not in config:
        config["cache"] = np.zeros(w.shape)
    r = config["decay_rate"]
    config["cache"] = r * config["cache"] + (1 - r) * dw * dw
    next_w = w + (-config["learning_rate"]) * dw / (config["cache"] ** 0.5 + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if not isinstance(config, dict):
        config = {}
    for k, default in (
        ("learning_rate", 0.001),
        ("beta1", 0.9),
        ("beta2", 0.999),
        ("epsilon", 1e-8),
        ("t", 0),
    ):
        config.setdefault(k, default)
    for k in ("m", "v"):
        if k not in config:
            config[k] = np.zeros(w.shape)
    config["t"] = config["t"] + 1
    b1, b2, t = config["beta1"], config["beta2"], config["t"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    mt = config["m"] / (1 - b1**t)
    vt = config["v"] / (1 - b2**t)
    next_w = w + (-config["learning_rate"]) * mt / (vt**0.5 + config["epsilon"])
    return next_w, config
