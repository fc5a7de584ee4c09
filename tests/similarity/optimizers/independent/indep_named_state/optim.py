import numpy as np


def sgd(w, dw, config=None):
    cfg = {} if config is None else config
    lr = cfg.get("learning_rate", 1e-2)
    cfg["learning_rate"] = lr
    new_w = w - lr * dw
    return new_w, cfg


def sgd_momentum(w, dw, config=None):
    cfg = {} if config is None else config
    lr = cfg.get("learning_rate", 1e-2)
    mu = cfg.get("momentum", 0.9)
    cfg.update(learning_rate=lr, momentum=mu)
    previous = cfg["velocity"] if "velocity" in cfg else 0.0 * w
    current = mu * previous - lr * dw
    new_w = w + current
    cfg["velocity"] = current
    return new_w, cfg


def rmsprop(w, dw, config=None):
    cfg = {} if config is None else config
    lr = cfg.get("learning_rate", 1e-2)
    decay = cfg.get("decay_rate", 0.99)
    eps = cfg.get("epsilon", 1e-8)
    cfg.update(learning_rate=lr, decay_rate=decay, epsilon=eps)
    previous = cfg["cache"] if "cache" in cfg else 0.0 * w
    current = decay * previous + (1 - decay) * dw**2
    new_w = w - lr * dw / (np.sqrt(current) + eps)
    cfg["cache"] = current
    return new_w, cfg


def adam(w, dw, config=None):
    cfg = {} if config is None else config
    lr = cfg.get("learning_rate", 1e-3)
    beta1 = cfg.get("beta1", 0.9)
    beta2 = cfg.get("beta2", 0.999)
    eps = cfg.get("epsilon", 1e-8)
    cfg.update(learning_rate=lr, beta1=beta1, beta2=beta2, epsilon=eps)
    mean = cfg["m"] if "m" in cfg else 0.0 * w
    square = cfg["v"] if "v" in cfg else 0.0 * w
    step = cfg.get("t", 0) + 1
    mean = beta1 * mean + (1 - beta1) * dw
    square = beta2 * square + (1 - beta2) * dw**2
    new_w = w - lr * (mean / (1 - beta1**step)) / (np.sqrt(square / (1 - beta2**step)) + eps)
    cfg.update(m=mean, v=square, t=step)
    return new_w, cfg
