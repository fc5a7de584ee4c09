import numpy as np


def sgd(w, dw, config=None):
    if not config:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    if not config:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    if "velocity" not in config:
        config["velocity"] = np.zeros(w.shape)
    config["velocity"] = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    next_w = w + config["velocity"]
    return next_w, config


def rmsprop(w, dw, config=None):
    if not config:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if "cache" not in config:
        config["cache"] = np.zeros(w.shape)
    decay_rate = config["decay_rate"]
    config["cache"] = decay_rate * config["cache"] + (1 - decay_rate) * (dw**2)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if not config:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    if "m" not in config:
        config["m"] = np.zeros(w.shape)
        config["v"] = np.zeros(w.shape)
        config["t"] = 0
    beta1, beta2, eps = config["beta1"], config["beta2"], config["epsilon"]
    config["t"] += 1
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * (dw**2)
    first_unbias = config["m"] / (1 - beta1 ** config["t"])
    second_unbias = config["v"] / (1 - beta2 ** config["t"])
    next_w = w - config["learning_rate"] * first_unbias / (np.sqrt(second_unbias) + eps)
    return next_w, config
