"""Public checks of what the update rules mean, beyond the direction of a step.

The checks in test_public.py look at a step's direction, at its size on the first step,
and at the state alone. A rule that moves every coordinate by a fixed amount against the
sign of its gradient, and keeps a correct-looking state it never uses, satisfies them all.
These tie the step to the rule: SGD's and momentum's steps grow with the gradient,
RMSProp's and Adam's depend on the state they are given, and one step from a known state
lands where the documented formula says.

``uses_what_the_rule_uses`` is part of each rule's ``*_implemented`` gate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade import (
    CheckFailed,
    Shrink,
    check_each,
    expect,
    format_array,
    format_value,
    frozen,
)

from .common import (
    STATE_KEYS,
    Config,
    Steps,
    TwoRuns,
    copy_config,
    hyper,
    require,
    show_config,
    step_of,
    step_tolerance,
    steps,
)

# --- the gate: what each rule's step must depend on -------------------------------------


def uses_what_the_rule_uses(drawn: TwoRuns, student: Any, fn: str) -> None:
    """SGD and momentum: doubling the gradients adds to each step what they added to it.
    RMSProp and Adam: another state in config, another step. Loose on purpose: a rule built
    from the documented pieces passes however wrong its details, unless its step ignores
    the state altogether."""
    if fn in ("sgd", "sgd_momentum"):
        _steps_grow_with_the_gradient(drawn.case, student, fn)
    else:
        _step_depends_on_the_state(drawn.case, student, fn)


def _chain(student: Any, fn: str, w: np.ndarray, grads: Any) -> list[np.ndarray]:
    """The steps next_w - w of a chain from a fresh state, read as leniently as the gate."""
    out = []
    config: Config = None
    for dw in grads:
        value = student.call(fn, w, dw, copy_config(config))
        require(
            isinstance(value, tuple) and len(value) == 2,
            f"{fn} did not return a pair (next_w, config)",
            expected="(next_w, config)",
            got=format_value(value),
        )
        next_w = expect.array_value(value[0], f"next_w returned by {fn}", w.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            out.append(next_w - w)
        w, config = next_w, value[1] if isinstance(value[1], dict) else None
    return out


def _steps_grow_with_the_gradient(case: Steps, student: Any, fn: str) -> None:
    """Zero, once and twice the gradients: the second doubling moves each step as much as
    the first did. Affine, not linear: a step that also carries w along (``next_w = v``)
    is a mistake the other checks grade, not a fake."""
    zero, once, twice = (
        _chain(student, fn, case.w, [c * g for g in case.grads]) for c in (0.0, 1.0, 2.0)
    )
    for i, (a, b, c) in enumerate(zip(zero, once, twice, strict=True), start=1):
        with np.errstate(invalid="ignore", over="ignore"):
            off = float(np.max(np.abs((c - b) - (b - a)), initial=0.0))
            size = float(np.max(np.abs(c - a), initial=0.0))
        # NaN compares False: a rule that returns NaN does work, wrongly, and other checks
        # say how. 1e-3: float32 rounding and any order of the operations pass.
        require(
            not off > 1e-3 * size + step_tolerance(case.w),
            f"with every gradient doubled, step {i} of {fn} (from a fresh state) did not grow "
            "by as much as the gradients themselves moved it: its steps do not follow the "
            "gradient's size, only its sign",
            expected=(
                f"step {i} = {format_value(b)} + ({format_value(b)} - {format_value(a)}) "
                "(the step with dw, plus what dw added to the step with dw = 0)"
            ),
            got=format_value(c),
        )


def _step_depends_on_the_state(case: Steps, student: Any, fn: str) -> None:
    """A part of the state that the rule keeps must go into its step.

    Each part, changed alone (the gradient stays), must change the step, or else not
    change what the rule stores either: a rule without memory (a state update that drops
    its decay term) is a mistake the state check grades, while a state kept up to date
    and never used is a front.
    """
    w, dw = case.w, case.grads[0]
    if fn == "rmsprop":
        base: dict[str, Any] = {"cache": dw**2}
        changes = {"cache": ("100 * dw**2", 100.0 * dw**2)}
    else:
        base = {"m": 0.5 * dw, "v": dw**2, "t": 3}
        changes = {"m": ("-dw", -dw), "v": ("4 * dw**2", 4.0 * dw**2)}
    first, first_kept = _one_step(student, fn, w, dw, base)
    for key, (shown, value) in changes.items():
        other, other_kept = _one_step(student, fn, w, dw, {**base, key: value})
        kept_a, kept_b = first_kept.get(key), other_kept.get(key)
        remembers = kept_a is not None and kept_b is not None and _differ(kept_a, kept_b)
        require(
            not (remembers and not _differ(first, other)),
            f"{fn} took the same step from config {show_config(base)} and with "
            f"config[{key!r}] = {shown} instead, while the {key!r} it returned changed: it "
            f"keeps {key!r} up to date, but its step ignores {key!r}",
            expected=f"a step that depends on config[{key!r}]",
            got=f"{format_value(first)} both times",
        )


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two steps or states differ beyond rounding (NaN differs from everything)."""
    with np.errstate(invalid="ignore", over="ignore"):
        off = float(np.max(np.abs(a - b), initial=0.0))
        size = float(np.max(np.abs(a), initial=0.0))
    return not off <= 1e-3 * size


def _one_step(
    student: Any, fn: str, w: np.ndarray, dw: np.ndarray, state: Config
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The step next_w - w, and the state arrays of the config returned (those readable)."""
    value = student.call(fn, w, dw, copy_config(state))
    require(
        isinstance(value, tuple) and len(value) == 2,
        f"{fn} did not return a pair (next_w, config)",
        expected="(next_w, config)",
        got=format_value(value),
    )
    next_w = expect.array_value(value[0], f"next_w returned by {fn}", w.shape)
    kept: dict[str, np.ndarray] = {}
    if isinstance(value[1], dict):
        for key in STATE_KEYS[fn]:
            # no readable state (t, or none at all): nothing kept that must be used
            with contextlib.suppress(CheckFailed):
                kept[key] = expect.array_value(value[1].get(key), f"config[{key!r}]", w.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return next_w - w, kept


# --- one step, exactly -------------------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class OneStep:
    """A w, its gradient, and a config of hyperparameters and (but for SGD) a state."""

    w: np.ndarray
    dw: np.ndarray
    config: dict[str, Any]

    # Fewer elements: w, dw and the state in config cut alike (as 1-D arrays), then a
    # simpler w. dw and the state keep their values: their sizes are what the step is about.
    shrink = Shrink(
        w="*E",
        dw="*E",
        config={"cache": "*E", "m": "*E", "v": "*E"},
        fixed=("dw", "config"),
    )

    def __repr__(self) -> str:
        return (
            f"w = {format_array(self.w)}\ndw = {format_array(self.dw)}\n"
            f"config = {show_config(self.config)}"
        )


# Gradients of 1e-2..1e3 and states of the same scale: epsilon (1e-8) changes a step by
# less than 1e-6 of itself, so where a correct rule puts it (Adam's paper form) never shows.
_RANGES = ((-2.0, 3.0), (-2.0, 0.0), (1.0, 3.0))


@st.composite
def one_steps(draw: st.DrawFn, fn: str) -> OneStep:
    base = draw(steps(fn, count=(1, 1), epsilon=False, zeros=False, ranges=_RANGES))
    w, dw = base.w, base.dw
    dw = np.where(np.abs(dw) < 1e-2, np.where(dw < 0, -1e-2, 1e-2), dw)
    config = dict(base.config or {})
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # a state as earlier steps would leave it: averages of gradients of dw's own scale
    scale = np.abs(dw) * 10.0 ** rng.uniform(-1.0, 1.0, size=dw.shape)
    if fn == "rmsprop":
        config["cache"] = scale**2
    elif fn == "adam":
        config["m"] = scale * rng.uniform(-1.0, 1.0, size=dw.shape)
        config["v"] = scale**2
        config["t"] = draw(st.sampled_from([1, 2, 9, 99]))
    return OneStep(frozen(w), frozen(dw), config)


def _expected(fn: str, case: OneStep) -> tuple[np.ndarray, str]:
    """next_w by the documented formula, and the formula in words."""
    w, dw, config = case.w, case.dw, case.config
    lr = hyper(fn, config, "learning_rate")
    if fn == "sgd":
        return w - lr * dw, "w - learning_rate * dw"
    eps = hyper(fn, config, "epsilon")
    if fn == "rmsprop":
        rho = hyper(fn, config, "decay_rate")
        cache = rho * config["cache"] + (1 - rho) * dw**2
        return (
            w - lr * dw / (np.sqrt(cache) + eps),
            "w - learning_rate * dw / (sqrt(cache) + epsilon), with the new cache "
            "decay_rate * cache + (1 - decay_rate) * dw**2",
        )
    b1, b2 = hyper(fn, config, "beta1"), hyper(fn, config, "beta2")
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return (
        w - lr * m_hat / (np.sqrt(v_hat) + eps),
        f"w - learning_rate * m_hat / (sqrt(v_hat) + epsilon), with t = {t}, the new m and v, "
        "m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t)",
    )


@check_each(
    {"sgd": "sgd", "rmsprop": "rmsprop", "adam": "adam"},
    "{key}_one_step",
    "One step of {fn} from a known config (RMSProp: a cache; Adam: m, v and t) lands exactly "
    "where its documented formula puts next_w.",
    one_steps,
    hint=(
        "Work the documented formula by hand for the input shown, one operation at a time, "
        "and compare with each intermediate of your function: which state (the given one, "
        "or the one this step updates) goes into the step, the step counter t used in the "
        "bias correction, and where epsilon goes."
    ),
)
def one_step(case: OneStep, student: Any, fn: str) -> None:
    w = case.w
    next_w, _ = step_of(student.call(fn, w, case.dw, copy_config(case.config)), w, fn)
    expected, formula = _expected(fn, case)
    with np.errstate(invalid="ignore", over="ignore"):
        got = next_w - w
    # As the reference check does: compared as steps, 1e-6 for any order of the same float64
    # operations, 1e-4 for Adam's paper form.
    expect.close(
        got,
        expected - w,
        f"the step next_w - w (next_w = {formula})",
        rtol=1e-4 if fn == "adam" else 1e-6,
        atol=step_tolerance(w),
    )
