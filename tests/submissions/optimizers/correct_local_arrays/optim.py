import numpy as np


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-2)
    step = lr * dw
    return w - step, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-2)
    mu = config.setdefault("momentum", 0.9)
    # a copy, updated in place below: the stored array is never shared with the caller's
    v = np.array(config.get("velocity", np.zeros_like(w)), dtype=float)
    v *= mu
    v -= lr * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-2)
    decay = config.setdefault("decay_rate", 0.99)
    eps = config.setdefault("epsilon", 1e-8)
    cache = np.array(config.setdefault("cache", np.zeros_like(w)), dtype=float)
    cache *= decay
    cache += (1 - decay) * np.square(dw)
    config["cache"] = cache
    return w - lr * dw / (np.sqrt(cache) + eps), config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-3)
    beta1 = config.setdefault("beta1", 0.9)
    beta2 = config.setdefault("beta2", 0.999)
    eps = config.setdefault("epsilon", 1e-8)
    m = np.array(config.setdefault("m", np.zeros_like(w)), dtype=float)
    v = np.array(config.setdefault("v", np.zeros_like(w)), dtype=float)
    t = config.setdefault("t", 0) + 1
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    config["m"], config["v"], config["t"] = m, v, t
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), config
