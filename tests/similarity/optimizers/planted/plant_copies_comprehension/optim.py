import numpy as np


def c0(config, **c1):
    c2 = {c9: c1[c9] for c9 in c1}
    c2.update(config or {})
    return c2


def sgd(w, dw, config=None):
    config = c0(config, learning_rate=1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    config = c0(config, learning_rate=1e-2, momentum=0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    config = c0(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    c3 = config.get("cache", np.zeros_like(w))
    c3 = config["decay_rate"] * c3 + (1 - config["decay_rate"]) * dw * dw
    config["cache"] = c3
    return w - config["learning_rate"] * dw / (np.sqrt(c3) + config["epsilon"]), config


def adam(w, dw, config=None):
    config = c0(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)
    c4, c5 = config["beta1"], config["beta2"]
    t = config.get("t", 0) + 1
    m = c4 * config.get("m", np.zeros_like(w)) + (1 - c4) * dw
    v = c5 * config.get("v", np.zeros_like(w)) + (1 - c5) * dw**2
    c6 = m / (1 - c4**t)
    c7 = v / (1 - c5**t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * c6 / (np.sqrt(c7) + config["epsilon"]), config
