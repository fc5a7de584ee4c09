import numpy as np


def _arrays(w, dw):
    return np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    w, dw = _arrays(w, dw)
    return w - float(config["learning_rate"]) * dw, config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    w, dw = _arrays(w, dw)
    velocity = np.asarray(config.get("velocity", np.zeros(w.shape)), dtype=np.float64)
    velocity = float(config["momentum"]) * velocity - float(config["learning_rate"]) * dw
    config["velocity"] = velocity
    return w + velocity, config


def rmsprop(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros(np.shape(w)))
    w, dw = _arrays(w, dw)
    rho = float(config["decay_rate"])
    cache = rho * np.asarray(config["cache"], dtype=np.float64) + (1.0 - rho) * dw**2
    config["cache"] = cache
    next_w = w - float(config["learning_rate"]) * dw / (np.sqrt(cache) + float(config["epsilon"]))
    return next_w.astype(np.float64), config


def adam(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros(np.shape(w)))
    config.setdefault("v", np.zeros(np.shape(w)))
    config.setdefault("t", 0)
    w, dw = _arrays(w, dw)
    beta1, beta2 = float(config["beta1"]), float(config["beta2"])
    t = int(config["t"]) + 1
    m = beta1 * np.asarray(config["m"], dtype=np.float64) + (1.0 - beta1) * dw
    v = beta2 * np.asarray(config["v"], dtype=np.float64) + (1.0 - beta2) * dw**2
    m_hat = m / (1.0 - np.power(beta1, t))
    v_hat = v / (1.0 - np.power(beta2, t))
    config.update({"m": m, "v": v, "t": t})
    step = float(config["learning_rate"]) * m_hat / (np.sqrt(v_hat) + float(config["epsilon"]))
    return w - step, config
