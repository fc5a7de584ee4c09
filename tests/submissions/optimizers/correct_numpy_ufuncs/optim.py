import numpy as np


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return np.subtract(w, np.multiply(config["learning_rate"], dw)), config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = np.subtract(np.multiply(config["momentum"], v), np.multiply(config["learning_rate"], dw))
    config["velocity"] = v
    return np.add(w, v), config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    rho = config["decay_rate"]
    cache = np.add(np.multiply(rho, config["cache"]), np.multiply(1 - rho, np.square(dw)))
    config["cache"] = cache
    denominator = np.add(np.sqrt(cache), config["epsilon"])
    return np.subtract(w, config["learning_rate"] * np.divide(dw, denominator)), config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] = config["t"] + 1
    config["m"] = np.add(np.multiply(b1, config["m"]), np.multiply(1 - b1, dw))
    config["v"] = np.add(np.multiply(b2, config["v"]), np.multiply(1 - b2, np.square(dw)))
    m_hat = np.divide(config["m"], 1 - np.power(b1, config["t"]))
    v_hat = np.divide(config["v"], 1 - np.power(b2, config["t"]))
    step = np.divide(m_hat, np.add(np.sqrt(v_hat), config["epsilon"]))
    return np.subtract(w, np.multiply(config["learning_rate"], step)), config
