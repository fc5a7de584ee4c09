import numpy as np


def sgd(w, dw, config=None):
    settings = {} if config is None else config
    settings.setdefault("learning_rate", 1e-2)
    return np.subtract(w, settings["learning_rate"] * dw), settings


def sgd_momentum(w, dw, config=None):
    settings = {} if config is None else config
    settings.setdefault("learning_rate", 1e-2)
    settings.setdefault("momentum", 0.9)
    speed = settings.pop("velocity", None)
    speed = np.zeros_like(w) if speed is None else speed
    speed = settings["momentum"] * speed
    speed = speed - settings["learning_rate"] * dw
    settings["velocity"] = speed
    return np.add(w, speed), settings


def rmsprop(w, dw, config=None):
    settings = {} if config is None else config
    settings.setdefault("learning_rate", 1e-2)
    settings.setdefault("decay_rate", 0.99)
    settings.setdefault("epsilon", 1e-8)
    avg = settings.pop("cache", None)
    avg = np.zeros_like(w) if avg is None else avg
    avg = avg + (1 - settings["decay_rate"]) * (dw * dw - avg)
    settings["cache"] = avg
    denom = np.sqrt(avg) + settings["epsilon"]
    return np.subtract(w, settings["learning_rate"] * dw / denom), settings


def adam(w, dw, config=None):
    if config is None:
        config = {}
    a0 = config.setdefault("learning_rate", 1e-3)
    a7 = config.setdefault("beta1", 0.9)
    a8 = config.setdefault("beta2", 0.999)
    a5 = config.setdefault("epsilon", 1e-8)
    a9 = np.array(config.setdefault("m", np.zeros_like(w)), dtype=float)
    a3 = np.array(config.setdefault("v", np.zeros_like(w)), dtype=float)
    a10 = config.setdefault("t", 0) + 1
    a9 *= a7
    a9 += (1 - a7) * dw
    a3 *= a8
    a3 += (1 - a8) * dw**2
    a11 = a9 / (1 - a7**a10)
    a12 = a3 / (1 - a8**a10)
    config["m"], config["v"], config["t"] = a9, a3, a10
    return w - a0 * a11 / (np.sqrt(a12) + a5), config
