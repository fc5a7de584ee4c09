"""propgrade test fixture ``fake_sign_steps``.

A submission built to fool the grader: no rule takes its real step. Each one moves every
coordinate by a fixed amount against the sign of its gradient (SGD and momentum use
``sign(dw)`` where the rule uses ``dw``; RMSProp and Adam take the size their first step
would have, ``learning_rate / sqrt(1 - decay_rate)`` and ``learning_rate``, at every
step). The state looks right: RMSProp's cache and Adam's ``m``, ``v`` and ``t`` follow
their documented recurrences and are stored, they are just never used for the step. So a
zero gradient leaves w alone, every step goes downhill, Adam's and RMSProp's steps ignore
the gradient's scale, and a quadratic is minimised: every property that only looks at
the direction of a step, or at the state alone, holds.
"""

import numpy as np


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * np.sign(dw), config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * np.sign(dw)
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw**2
    step = config["learning_rate"] / np.sqrt(1 - decay)
    return w - step * np.sign(dw), config


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
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    return w - config["learning_rate"] * np.sign(dw), config
