"""Cases and helpers shared by the public and hidden checks of the update rules.

Released to students together with the public checks: nothing here may depend on the
reference solution.

Gradients are drawn two ways: readable numbers on a 0.01 grid (short counterexamples), and
full-precision ones whose magnitudes span 1e-9..1e3 with both signs, as real gradients do.
The second kind is what tells an epsilon inside the square root, or a missing bias
correction, from the real thing: on a grid of 0.01..5 these hide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade import CheckFailed, Shrink, expect, format_array, format_value, frozen

RULES = {"sgd": "sgd", "momentum": "sgd_momentum", "rmsprop": "rmsprop", "adam": "adam"}
STATEFUL = {key: fn for key, fn in RULES.items() if key != "sgd"}

# The documented defaults (CS231n's), filled in with config.setdefault.
DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE_KEYS = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v", "t"),
}

# Hyperparameters a case may set instead of the default (each a value students meet).
CHOICES: dict[str, tuple[float, ...]] = {
    "learning_rate": (1e-3, 1e-2, 5e-2, 0.1),
    "momentum": (0.5, 0.9, 0.95),
    "decay_rate": (0.9, 0.99, 0.999),
    "beta1": (0.8, 0.9, 0.95),
    "beta2": (0.99, 0.999),
    "epsilon": (1e-8, 1e-6),
}

Config = dict[str, Any] | None

# Hints for the mistakes real submissions make, each raised by the check that catches it
# when the failure shows which mistake it is (the check's own hint covers the rest). They
# point at the mistake, not at the code that fixes it.
HINTS: dict[str, str] = {
    "t_late": (
        "Adam's step came out as inf or NaN on the first step: its bias correction divided "
        "by 1 - beta**t while t was still 0. t must count the step being taken before the "
        "corrections are computed."
    ),
    "no_bias_correction": (
        "Adam's first steps are about three times too large: m and v start at zero, so early "
        "on they underestimate the averages. Each one needs its bias correction before it "
        "is used in the step."
    ),
    "t_not_incremented": (
        "config['t'] did not change from one step to the next: t counts the steps taken, so "
        "each call adds one to it and stores it back in config."
    ),
    "t_starts_at_1": (
        "t is already 2 after the first step: t counts the steps taken, so it starts at 0 and "
        "the first step is computed with t = 1. Look at the default you give t."
    ),
    "eps_inside_sqrt": (
        "Steps for small gradients come out too small: epsilon goes outside the square root, "
        "added to the root of the average. Inside it, 1e-8 weighs as much as a gradient of "
        "1e-4."
    ),
    "hardcoded": (
        "Your steps did not change when config['{name}'] changed: read every hyperparameter "
        "from config (after its default is filled in) rather than writing a number into the "
        "formula."
    ),
    "config_get": (
        "The config your function returned has no {name!r}: the defaults must be stored in "
        "the config, not only read. Reading a key with a default leaves the dict as it was; "
        "the docstring says how to fill a default in."
    ),
    "nesterov": (
        "w did not move by exactly the new velocity: this assignment asks for classical "
        "momentum (the step is the velocity just computed), not Nesterov's variant with its "
        "look-ahead term."
    ),
    "in_place": (
        "An update rule may write its result into w (w -= ..., w += v), but then w must end "
        "up holding exactly the next_w you return: update w once, and return w itself or a "
        "copy of it. The gradient dw belongs to the caller: never write into it."
    ),
}


def with_hint(error: CheckFailed, hint: str) -> CheckFailed:
    """``error`` again, naming the mistake it shows."""
    return CheckFailed(error.message, expected=error.expected, got=error.got, hint=hint)


def matching_mistake(got: np.ndarray, predictions: dict[str, np.ndarray]) -> str:
    """The hint of the first mistake whose predicted value ``got`` matches (to 1e-6 of
    itself in every element), or ""."""
    for key, predicted in predictions.items():
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if np.all(np.isfinite(got)) and np.allclose(got, predicted, rtol=1e-6, atol=0.0):
                return HINTS[key]
    return ""


def t_late_hint(returned: Config, w: np.ndarray, dw: np.ndarray, config: Config, fn: str) -> str:
    """The hint for a first step (from a zero state) that came out inf or NaN: Adam's bias
    correction at t = 0 when m and v were stored as their recurrences make them, else "".
    With wrong moments the step's inf or NaN has another cause (v without its square
    makes sqrt(v) NaN), and the hint would point at a mistake nobody made."""
    if fn != "adam":
        return ""
    b1, b2 = hyper(fn, config, "beta1"), hyper(fn, config, "beta2")
    try:
        m, v = (state_array(returned, key, w, fn) for key in ("m", "v"))
    except CheckFailed:
        return ""
    documented = np.allclose(m, (1 - b1) * dw, rtol=1e-6, atol=0.0) and np.allclose(
        v, (1 - b2) * dw**2, rtol=1e-6, atol=0.0
    )
    return HINTS["t_late"] if documented else ""


def _frozen(a: np.ndarray) -> np.ndarray:
    return frozen(a, np.float64)


def hyper(fn: str, config: Config, name: str) -> float:
    """The value of a hyperparameter a case sets, or its documented default."""
    if config is not None and name in config:
        # the student's own config on later steps: read as data, never trusted to be a number
        return expect.scalar_value(config[name], f"config[{name!r}] returned by {fn}")
    return DEFAULTS[fn][name]


def copy_config(config: Config) -> Config:
    """A copy to send: a property never lets a callee write into the case's own dict."""
    if config is None:
        return None
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in config.items()}


def show_config(config: Config) -> str:
    if config is None:
        return "None"
    return "{" + ", ".join(f"{k!r}: {format_value(v)}" for k, v in config.items()) + "}"


@dataclass(frozen=True, repr=False, eq=False)
class Steps:
    """A start ``w``, the gradients of successive steps, and the first call's config.

    ``config`` holds hyperparameters only (or is None): the state starts at zero.
    """

    w: np.ndarray
    grads: tuple[np.ndarray, ...]
    config: Config

    # How a failing case shrinks: fewer steps, fewer elements (w and every gradient cut
    # alike, as 1-D arrays), the default config, then a simpler w. The gradients' values
    # stay as drawn: their magnitudes are what a check is about.
    shrink = Shrink(w="*E", grads="*E", fixed=("grads",), optional=("config",))

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", _frozen(self.w))
        object.__setattr__(self, "grads", tuple(_frozen(g) for g in self.grads))

    @property
    def dw(self) -> np.ndarray:
        return self.grads[0]

    def replace(self, **changes: Any) -> Steps:
        parts = {"w": self.w, "grads": self.grads, "config": self.config, **changes}
        return type(self)(**parts)

    def valid(self) -> bool:
        return True

    def __repr__(self) -> str:
        lines = [f"w = {format_array(self.w)}"]
        for i, g in enumerate(self.grads, start=1):
            name = "dw" if len(self.grads) == 1 else f"dw (step {i})"
            lines.append(f"{name} = {format_array(g)}")
        lines.append(f"config = {show_config(self.config)}")
        return "\n".join(lines)


class SignificantSteps(Steps):
    """Steps whose nonzero gradient entries are at least 1e-4 in size."""

    def valid(self) -> bool:
        return all(np.all((g == 0) | (np.abs(g) >= 1e-4)) for g in self.grads)


def _grid(bound: float) -> st.SearchStrategy[float]:
    """Numbers on a 0.01 grid: counterexamples stay readable and shrink towards 0."""
    steps = round(bound * 100)
    return st.integers(-steps, steps).map(lambda k: k / 100)


@st.composite
def shapes(draw: st.DrawFn) -> tuple[int, ...]:
    return draw(
        st.one_of(
            st.tuples(st.integers(1, 6)),
            st.tuples(st.integers(2, 4), st.integers(2, 3)),
            st.sampled_from([(10,), (5, 8), (30, 10)]),  # a weight matrix's worth
        )
    )


@st.composite
def configs(draw: st.DrawFn, fn: str, epsilon: bool = True) -> Config:
    """None, an empty dict, or some hyperparameters set (the rest left to the defaults)."""
    kind = draw(st.sampled_from(["none", "none", "empty", "some"]))
    if kind == "none":
        return None
    config: dict[str, Any] = {}
    if kind == "some":
        for name in DEFAULTS[fn]:
            if name == "epsilon" and not epsilon:
                continue
            if draw(st.booleans()):
                config[name] = draw(st.sampled_from(CHOICES[name]))
    return config


@st.composite
def readable_array(draw: st.DrawFn, shape: tuple[int, ...], bound: float) -> np.ndarray:
    size = math.prod(shape)
    values = draw(st.lists(_grid(bound), min_size=size, max_size=size))
    return np.array(values, dtype=np.float64).reshape(shape)


def wide_array(
    rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float
) -> np.ndarray:
    """Random signs, magnitudes log-uniform in [10**low, 10**high]."""
    magnitude = 10.0 ** rng.uniform(low, high, size=shape)
    return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)


# Gradient magnitude ranges of realistic cases (powers of ten): from vanishing to
# exploding gradients, and one range across all of them at once. It reaches below epsilon
# (1e-8), where a denominator sqrt(v) - epsilon turns negative and the step turns around.
RANGES = ((-9.0, 3.0), (-4.0, -1.0), (-1.0, 1.0), (1.0, 3.0))


@st.composite
def steps(
    draw: st.DrawFn,
    fn: str,
    *,
    count: tuple[int, int] = (1, 4),
    epsilon: bool = True,
    zeros: bool = True,
    ranges: tuple[tuple[float, float], ...] = RANGES,
    kind: type[Steps] = Steps,
) -> Steps:
    """A readable or a realistic case for ``fn``, with ``count`` steps."""
    shape = draw(shapes())
    k = draw(st.integers(*count))
    config = draw(configs(fn, epsilon=epsilon))
    if draw(st.booleans()) and math.prod(shape) <= 12:
        w = draw(readable_array(shape, 5.0))
        grads = [draw(readable_array(shape, 5.0)) for _ in range(k)]
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        w = rng.normal(0.0, draw(st.sampled_from([1e-3, 0.1, 1.0, 10.0])), size=shape)
        low, high = draw(st.sampled_from(ranges))
        grads = [wide_array(rng, shape, low, high) for _ in range(k)]
        if zeros and draw(st.booleans()):
            grads[0] = np.where(rng.random(shape) < 0.25, 0.0, grads[0])
    return kind(w, tuple(grads), config)


@st.composite
def significant_steps(draw: st.DrawFn, fn: str) -> Steps:
    """One step whose gradient entries are 0 or >= 1e-4 in size, some just above 1e-4.

    Near 1e-4 an epsilon of 1e-8 inside the square root shows (sqrt(1e-8) = 1e-4), the
    documented epsilon outside it does not.
    """
    # epsilon stays 1e-8: Adam's paper form (epsilon added to sqrt(v) before the bias
    # correction) differs from CS231n's by 0.3% at 1e-4 then, by 24% with epsilon = 1e-6
    base = draw(steps(fn, count=(1, 1), epsilon=False, ranges=((-4.0, 3.0), (-4.0, -2.0))))
    dw = np.where(np.abs(base.dw) < 1e-4, 0.0, base.dw)
    if dw.size > 1:
        # at least one entry in the range that tells
        dw.ravel()[0] = draw(st.sampled_from([1.0, -1.0])) * draw(st.floats(1e-4, 3e-4))
    return SignificantSteps(base.w, (dw,), base.config)


# --- reading what a rule returns ---------------------------------------------------------


def step_of(value: Any, w: np.ndarray, fn: str) -> tuple[np.ndarray, Config]:
    """``(next_w, config)`` read leniently: next_w as any real array of w's shape (a list,
    float32) is graded by its value, and a config of None is passed on as None (the next
    step starts afresh). The form is ``output_shapes``' and ``defaults``' business."""
    next_w, config = expect.pair(value, fn)
    w_next = expect.array_value(next_w, f"next_w returned by {fn}", w.shape)
    return w_next, None if config is None else config_of(config, fn)


def config_of(config: Any, fn: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise CheckFailed(
            f"the config returned by {fn} should be a dict",
            expected="a dict (the config, with defaults and state)",
            got=type(config).__name__ if config is not None else "None",
        )
    return config


def number(config: Config, key: str, fn: str) -> float:
    config = config_of(config, fn)
    if key not in config:
        raise CheckFailed(
            f"the config returned by {fn} has no {key!r}",
            expected=f"config[{key!r}] set",
            got=f"keys {sorted(map(str, config))}",
        )
    return expect.scalar_value(config[key], f"config[{key!r}] returned by {fn}")


def state_array(config: Config, key: str, w: np.ndarray, fn: str) -> np.ndarray:
    config = config_of(config, fn)
    if key not in config:
        raise CheckFailed(
            f"the config returned by {fn} has no {key!r}: the state is not stored",
            expected=f"config[{key!r}] set",
            got=f"keys {sorted(map(str, config))}",
        )
    return expect.array_value(config[key], f"config[{key!r}] returned by {fn}", w.shape)


def run_steps(
    student: Any, fn: str, w: np.ndarray, grads: Any, config: Config
) -> list[tuple[np.ndarray, np.ndarray, Config, Config]]:
    """Chain the steps, each call's (next_w, config) feeding the next call.

    Returns, per step, ``(w_before, next_w, config_returned, config_sent)``.
    """
    out = []
    sent = config
    for dw in grads:
        next_w, returned = step_of(student.call(fn, w, dw, copy_config(sent)), w, fn)
        out.append((w, next_w, returned, sent))
        w, sent = next_w, returned
    return out


def step_tolerance(w: np.ndarray) -> float:
    """An absolute tolerance for a step next_w - w: w + v - w is v only up to w's rounding."""
    return 1e-13 * (1.0 + float(np.max(np.abs(w), initial=0.0)))


def require(
    condition: bool, message: str, expected: Any = None, got: Any = None, hint: str = ""
) -> None:
    if not condition:
        raise CheckFailed(message, expected=expected, got=got, hint=hint)


# --- cases of particular checks -----------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class Quadratic:
    """f(w) = 0.5 * sum(curvature * (w - center)**2), minimized from w0 by many steps."""

    w0: np.ndarray
    center: np.ndarray
    curvature: np.ndarray
    config: Config
    steps: int = 200

    def value(self, w: np.ndarray) -> float:
        with np.errstate(over="ignore"):  # a diverging rule's w: inf, which the check reports
            return 0.5 * float(np.sum(self.curvature * (w - self.center) ** 2))

    def gradient(self, w: np.ndarray) -> np.ndarray:
        return self.curvature * (w - self.center)

    def __repr__(self) -> str:
        return (
            f"f(w) = 0.5 * sum(a * (w - c)**2), {self.steps} steps from w0, dw = a * (w - c)\n"
            f"w0 = {format_array(self.w0)}\nc = {format_array(self.center)}\n"
            f"a = {format_array(self.curvature)}\nconfig = {show_config(self.config)}"
        )


@st.composite
def quadratics(draw: st.DrawFn, fn: str) -> Quadratic:
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    center = rng.normal(0.0, 2.0, size=n)
    # every coordinate starts 0.5..3 away from the minimum
    w0 = center + wide_array(rng, (n,), math.log10(0.5), math.log10(3.0))
    curvature = 10.0 ** rng.uniform(-0.3, 0.7, size=n)  # 0.5 .. 5
    config = draw(configs(fn))
    if config and config.get("learning_rate", 0.0) > 5e-2:
        config["learning_rate"] = 5e-2  # SGD stays stable for curvature up to 5
    return Quadratic(_frozen(w0), _frozen(center), _frozen(curvature), config)


@dataclass(frozen=True, repr=False, eq=False)
class ConstantGradient:
    """The same gradient at every one of ``steps`` steps."""

    w: np.ndarray
    dw: np.ndarray
    config: Config
    steps: int = 100

    def __repr__(self) -> str:
        return (
            f"w = {format_array(self.w)}\ndw = {format_array(self.dw)} (at each of "
            f"{self.steps} steps)\nconfig = {show_config(self.config)}"
        )


@st.composite
def constant_gradients(draw: st.DrawFn) -> ConstantGradient:
    base = draw(steps("sgd_momentum", count=(1, 1), zeros=False))
    config = base.config
    if config and config.get("momentum") not in (None, 0.5, 0.9):
        # 0.95**100 is 6e-3: the limit is not reached in 100 steps
        config["momentum"] = 0.9
    return ConstantGradient(base.w, base.dw, config)


@dataclass(frozen=True, repr=False, eq=False)
class Scaled:
    """A case, and a factor c > 0 by which every gradient is multiplied."""

    case: Steps
    factor: float

    shrink = Shrink(fixed=("factor",))  # the steps shrink, c stays

    def __repr__(self) -> str:
        return f"{self.case!r}\nc = {self.factor!r} (the same steps again with c * dw)"


@st.composite
def scaled(draw: st.DrawFn, fn: str) -> Scaled:
    # |dw| in 1e-2..1e2 and c in 0.1..1000: |c * dw| >= 1e-3, where an epsilon of 1e-8
    # changes a step by less than 1e-4 of itself.
    base = draw(steps(fn, count=(1, 3), epsilon=False, zeros=False, ranges=((-2.0, 2.0),)))
    grads = tuple(np.where(np.abs(g) < 1e-2, np.sign(g) * 1e-2, g) for g in base.grads)
    grads = tuple(np.where(g == 0, 1.0, g) for g in grads)
    return Scaled(base.replace(grads=grads), draw(st.sampled_from([0.1, 10.0, 1000.0])))


@dataclass(frozen=True, repr=False, eq=False)
class TwoSizes:
    """One step on a w of 8 elements and one on a w of 64 (the first 8 the same)."""

    small: Steps
    big: Steps

    def __repr__(self) -> str:
        return (
            f"one step on w of shape {self.small.w.shape} and on w of shape "
            f"{self.big.w.shape} (random normal w, dw of 1e-3..10), config = "
            f"{show_config(self.small.config)}"
        )


@st.composite
def two_sizes(draw: st.DrawFn, fn: str) -> TwoSizes:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    config = draw(configs(fn))
    w, dw = rng.normal(size=(8, 8)), wide_array(rng, (8, 8), -3.0, 1.0)
    return TwoSizes(Steps(w[:2, :4], (dw[:2, :4],), config), Steps(w, (dw,), config))


@dataclass(frozen=True, repr=False, eq=False)
class TwoRuns:
    """A start w and two different sequences of two gradients."""

    case: Steps
    other: tuple[np.ndarray, ...]

    def __repr__(self) -> str:
        return f"{self.case!r}\nsecond run: " + ", ".join(format_array(g) for g in self.other)


@st.composite
def two_runs(draw: st.DrawFn, fn: str) -> TwoRuns:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(3, 8))
    w = rng.normal(size=n)
    grads = tuple(rng.normal(size=n) for _ in range(2))
    other = tuple(_frozen(rng.normal(size=n)) for _ in range(2))
    return TwoRuns(Steps(w, grads, None), other)


# Each hyperparameter, and the value a case compares with its default (both values
# students meet; far enough apart that the change shows).
OTHER_VALUE: dict[str, float] = {
    "learning_rate": 5e-2,
    "momentum": 0.5,
    "decay_rate": 0.9,
    "beta1": 0.5,
    "beta2": 0.99,
    "epsilon": 1e-6,
}


@dataclass(frozen=True, repr=False, eq=False)
class Varied:
    """A start w and gradient, run by a rule under two values of one hyperparameter.

    ``dw`` is the gradient of the first step (a second step, where one is taken, has a
    zero gradient: what it moves comes from the state alone). ``tiny`` holds gradients of
    1e-5..1e-3 in size, where epsilon changes the step.
    """

    w: np.ndarray
    dw: np.ndarray
    tiny: np.ndarray

    def __post_init__(self) -> None:
        for name in ("w", "dw", "tiny"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __repr__(self) -> str:
        return (
            f"w = {format_array(self.w)}\ndw = {format_array(self.dw)} (epsilon: "
            f"{format_array(self.tiny)})\neach hyperparameter at its default, then changed "
            "(all else at the defaults)"
        )


@st.composite
def varied(draw: st.DrawFn, fn: str) -> Varied:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = draw(st.sampled_from([(1,), (3,), (2, 3), (5, 4)]))
    return Varied(
        rng.normal(size=shape),
        wide_array(rng, shape, -2.0, 1.0),
        wide_array(rng, shape, -5.0, -3.0),
    )
