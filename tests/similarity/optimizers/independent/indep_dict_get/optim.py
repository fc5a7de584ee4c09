import numpy as np


def sgd(w, dw, config=None):
    config = config if config is not None else {}
    rate = config.setdefault("learning_rate", 1e-2)
    return w - rate * dw, config


def sgd_momentum(w, dw, config=None):
    config = config if config is not None else {}
    rate = config.setdefault("learning_rate", 1e-2)
    mom = config.setdefault("momentum", 0.9)
    vel = config.get("velocity")
    if vel is None:
        vel = np.zeros_like(w)
    vel = mom * vel - rate * dw
    config["velocity"] = vel
    return w + vel, config


def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    rate = config.setdefault("learning_rate", 1e-2)
    rho = config.setdefault("decay_rate", 0.99)
    tiny = config.setdefault("epsilon", 1e-8)
    sq = config.get("cache")
    if sq is None:
        sq = np.zeros_like(w)
    sq = rho * sq + (1.0 - rho) * np.square(dw)
    config["cache"] = sq
    return w - rate * dw / (np.sqrt(sq) + tiny), config


def adam(w, dw, config=None):
    config = config if config is not None else {}
    rate = config.setdefault("learning_rate", 1e-3)
    b1 = config.setdefault("beta1", 0.9)
    b2 = config.setdefault("beta2", 0.999)
    tiny = config.setdefault("epsilon", 1e-8)
    first = config.get("m")
    if first is None:
        first = np.zeros_like(w)
    second = config.get("v")
    if second is None:
        second = np.zeros_like(w)
    step = config.get("t", 0) + 1
    first = b1 * first + (1.0 - b1) * dw
    second = b2 * second + (1.0 - b2) * np.square(dw)
    corrected_first = first / (1.0 - b1**step)
    corrected_second = second / (1.0 - b2**step)
    config["m"] = first
    config["v"] = second
    config["t"] = step
    return w - rate * corrected_first / (np.sqrt(corrected_second) + tiny), config
