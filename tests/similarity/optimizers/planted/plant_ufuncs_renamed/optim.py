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
    u0 = config["decay_rate"]
    u1 = np.add(np.multiply(u0, config["cache"]), np.multiply(1 - u0, np.square(dw)))
    config["cache"] = u1
    u2 = np.add(np.sqrt(u1), config["epsilon"])
    return np.subtract(w, config["learning_rate"] * np.divide(dw, u2)), config


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
    u3, u4 = config["beta1"], config["beta2"]
    config["t"] = config["t"] + 1
    config["m"] = np.add(np.multiply(u3, config["m"]), np.multiply(1 - u3, dw))
    config["v"] = np.add(np.multiply(u4, config["v"]), np.multiply(1 - u4, np.square(dw)))
    u5 = np.divide(config["m"], 1 - np.power(u3, config["t"]))
    u6 = np.divide(config["v"], 1 - np.power(u4, config["t"]))
    u7 = np.divide(u5, np.add(np.sqrt(u6), config["epsilon"]))
    return np.subtract(w, np.multiply(config["learning_rate"], u7)), config
