import numpy as np


def f0(w, dw):
    return np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    w, dw = f0(w, dw)
    return w - float(config["learning_rate"]) * dw, config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    w, dw = f0(w, dw)
    f1 = np.asarray(config.get("velocity", np.zeros(w.shape)), dtype=np.float64)
    f1 = float(config["momentum"]) * f1 - float(config["learning_rate"]) * dw
    config["velocity"] = f1
    return w + f1, config


def rmsprop(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros(np.shape(w)))
    w, dw = f0(w, dw)
    f2 = float(config["decay_rate"])
    f3 = f2 * np.asarray(config["cache"], dtype=np.float64) + (1.0 - f2) * dw**2
    config["cache"] = f3
    f4 = w - float(config["learning_rate"]) * dw / (np.sqrt(f3) + float(config["epsilon"]))
    return f4.astype(np.float64), config


def adam(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("m", np.zeros(np.shape(w)))
    config.setdefault("v", np.zeros(np.shape(w)))
    config.setdefault("t", 0)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("epsilon", 1e-8)
    w, dw = f0(w, dw)
    beta1, beta2 = float(config["beta1"]), float(config["beta2"])
    t = int(config["t"]) + 1
    m = beta1 * np.asarray(config["m"], dtype=np.float64) + (1.0 - beta1) * dw
    v = beta2 * np.asarray(config["v"], dtype=np.float64) + (1.0 - beta2) * dw**2
    f6 = v / (1.0 - np.power(beta2, t))
    f5 = m / (1.0 - np.power(beta1, t))
    config.update({"m": m, "v": v, "t": t})
    f7 = float(config["learning_rate"]) * f5 / (np.sqrt(f6) + float(config["epsilon"]))
    return w - f7, config
