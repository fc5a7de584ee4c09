"""Public checks: released to students, runnable with ``propgrade check``.

None of them needs the reference solution: each is a property any correct update rule
has, or the documented form of its state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from propgrade import CheckFailed, check, check_each, expect, format_value

from .common import (
    DEFAULTS,
    HINTS,
    OTHER_VALUE,
    RULES,
    STATE_KEYS,
    STATEFUL,
    Config,
    ConstantGradient,
    Quadratic,
    Scaled,
    Steps,
    TwoRuns,
    TwoSizes,
    Varied,
    config_of,
    constant_gradients,
    copy_config,
    hyper,
    matching_mistake,
    number,
    quadratics,
    require,
    run_steps,
    scaled,
    significant_steps,
    state_array,
    step_of,
    step_tolerance,
    steps,
    t_late_hint,
    two_runs,
    two_sizes,
    varied,
    with_hint,
)
from .test_public_meaning import uses_what_the_rule_uses


@check_each(
    RULES,
    "{key}_implemented",
    "{fn} does the work: two steps with nonzero gradients move w, and differently for "
    "different gradients; SGD's and momentum's steps change in proportion to the gradients, and "
    "RMSProp's and Adam's change with the state passed in config. The other checks of {fn} "
    "count once this one passes.",
    two_runs,
    max_examples=3,
)
def implemented(drawn: TwoRuns, student: Any, fn: str) -> None:
    # Loose on purpose: a wrong form or a step that starts late passes. The other checks
    # grade those; this one only decides whether they count.
    case = drawn.case
    ends = []
    for grads in (case.grads, drawn.other):
        w, config = case.w, None
        for dw in grads:
            value = student.call(fn, w, dw, copy_config(config))
            require(
                isinstance(value, tuple) and len(value) == 2,
                f"{fn} did not return a pair (next_w, config): is it still the starter code?",
                expected="(next_w, config)",
                got=format_value(value),
            )
            w = expect.array_value(value[0], f"next_w returned by {fn}", case.w.shape)
            config = value[1] if isinstance(value[1], dict) else None
        ends.append(w)
    # NaN never equals anything here: a rule that returns NaN does work, wrongly, and its
    # other checks say how; only code that does nothing is kept out.
    require(
        not np.array_equal(ends[0], case.w),
        f"{fn} returned w unchanged after two steps with nonzero gradients",
        expected="next_w different from w",
        got=format_value(ends[0]),
    )
    require(
        not np.array_equal(ends[0], ends[1]),
        f"{fn} ended at the same w for two different sequences of gradients: it does not "
        "use dw yet",
        expected="a next_w that depends on dw",
        got=f"{format_value(ends[0])} for both",
    )
    uses_what_the_rule_uses(drawn, student, fn)


@check_each(
    RULES,
    "{key}_output_shapes",
    "{fn} returns next_w as a finite float64 array of the shape of w, and the config as a dict.",
    lambda fn: steps(fn),
)
def output_shapes(case: Steps, student: Any, fn: str) -> None:
    w, config = case.w, copy_config(case.config)
    for dw in case.grads:
        next_w, returned = expect.pair(student.call(fn, w, dw, config), fn)
        w = expect.array(next_w, f"next_w returned by {fn}", case.w.shape, dtype=np.float64)
        expect.finite(w, f"next_w returned by {fn}")
        config = config_of(returned, fn)


@check_each(
    RULES,
    "{key}_defaults",
    "With config=None, or a config missing some hyperparameters, {fn} fills in the "
    "documented defaults and keeps the values given.",
    lambda fn: steps(fn, count=(1, 1)),
    max_examples=10,
)
def defaults(case: Steps, student: Any, fn: str) -> None:
    _, returned = step_of(student.call(fn, case.w, case.dw, copy_config(case.config)), case.w, fn)
    for name in DEFAULTS[fn]:
        stored = isinstance(returned, dict) and name in returned
        try:
            value = number(returned, name, fn)
        except CheckFailed as error:
            hint = "" if stored else HINTS["config_get"].format(name=name)
            raise with_hint(error, hint) from None
        given = case.config is not None and name in case.config
        expected = hyper(fn, case.config, name)
        require(
            value == expected,
            f"config[{name!r}] returned by {fn} is {format_value(value)}: "
            + ("the value given was changed" if given else f"the default is {expected:g}"),
            expected=expected,
            got=value,
        )


@check_each(
    RULES,
    "{key}_zero_gradient",
    "From a fresh state, steps with a zero gradient leave w where it is.",
    lambda fn: steps(fn, zeros=False),
    max_examples=10,
)
def zero_gradient(case: Steps, student: Any, fn: str) -> None:
    grads = [np.zeros_like(case.w)] * len(case.grads)
    for i, (before, after, _, _) in enumerate(run_steps(student, fn, case.w, grads, case.config)):
        expect.close(
            after,
            before,
            f"next_w after {i + 1} step(s) with dw = 0",
            rtol=0.0,
            atol=step_tolerance(before),
        )


@check_each(
    RULES,
    "{key}_descent",
    "From a fresh state, one step of {fn} moves every coordinate of w against its gradient "
    "(and leaves it where the gradient is 0).",
    lambda fn: steps(fn, count=(1, 1)),
)
def descent(case: Steps, student: Any, fn: str) -> None:
    ((w, next_w, _, _),) = run_steps(student, fn, case.w, case.grads, case.config)
    with np.errstate(invalid="ignore"):
        moved = next_w - w
    require(bool(np.all(np.isfinite(moved))), f"next_w returned by {fn} is not finite", got=next_w)
    dw = case.dw
    wrong = np.sign(moved) != -np.sign(dw)
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise expect.CheckFailed(
            f"at index {index} the gradient is {format_value(dw[index])} but w moved by "
            f"{format_value(moved[index])}",
            expected="a step of the opposite sign to dw (no step where dw is 0)",
            got=f"next_w - w = {format_value(moved)}",
        )


@check_each(
    RULES,
    "{key}_in_place",
    "{fn} leaves dw unchanged, and w either unchanged or updated in place to exactly the "
    "next_w it returns (the course's convention: an update rule may write into w).",
    lambda fn: steps(fn, count=(1, 1)),
    hint=HINTS["in_place"],
)
def in_place(case: Steps, student: Any, fn: str) -> None:
    outcome = student.outcome(fn, case.w, case.dw, copy_config(case.config), echo_args=True)
    after = outcome.args_after
    require(after is not None and len(after) >= 2, "the arguments could not be read back")
    assert after is not None
    w_after = expect.array_value(after[0], "w after the call", case.w.shape)
    dw_after = expect.array_value(after[1], "dw after the call", case.dw.shape)
    require(
        np.array_equal(dw_after, case.dw, equal_nan=True),
        f"{fn} modified its argument dw in place: only w may be updated in place",
        expected=format_value(case.dw),
        got=format_value(dw_after),
    )
    if np.array_equal(w_after, case.w, equal_nan=True):
        return  # w left alone: next_w is a new array, which the other checks grade
    next_w, _ = expect.pair(outcome.value, fn)
    next_w = expect.array_value(next_w, f"next_w returned by {fn}", case.w.shape)
    require(
        np.array_equal(w_after, next_w, equal_nan=True),
        f"{fn} changed w in place but returned a different next_w: after an in-place "
        "update, w must hold exactly the next_w returned",
        expected=f"w after the call = next_w = {format_value(next_w)}",
        got=f"w after the call = {format_value(w_after)}",
    )


@check_each(
    STATEFUL,
    "{key}_state",
    "{fn} stores its state in the config as documented, each step updating it by its rule "
    "(and Adam's t counts the steps).",
    lambda fn: steps(fn),
    max_examples=15,
)
def state(case: Steps, student: Any, fn: str) -> None:
    for i, (w, next_w, returned, sent) in enumerate(
        run_steps(student, fn, case.w, case.grads, case.config), start=1
    ):
        dw = case.grads[i - 1]
        where = f"after step {i}"
        tol = step_tolerance(w)
        for key in STATE_KEYS[fn]:
            if key == "t":
                t_before = 0.0 if sent is None or "t" not in sent else number(sent, "t", fn)
                t = number(returned, "t", fn)
                mistake = ""
                if t == t_before:
                    mistake = HINTS["t_not_incremented"]
                elif t == 2 and (sent is None or "t" not in sent):
                    mistake = HINTS["t_starts_at_1"]
                require(
                    t == t_before + 1,
                    f"config['t'] returned by {fn} {where} is {format_value(t)}: t counts "
                    "the steps taken",
                    expected=t_before + 1,
                    got=t,
                    hint=mistake,
                )
                continue
            new = state_array(returned, key, w, fn)
            old = (
                state_array(sent, key, w, fn)
                if sent is not None and key in sent
                else np.zeros_like(w)
            )
            if key == "velocity":
                mu, lr = hyper(fn, sent, "momentum"), hyper(fn, sent, "learning_rate")
                rule, expected = "momentum * velocity - learning_rate * dw", mu * old - lr * dw
            elif key == "cache":
                rho = hyper(fn, sent, "decay_rate")
                rule, expected = (
                    "decay_rate * cache + (1 - decay_rate) * dw**2",
                    (rho * old + (1 - rho) * dw**2),
                )
            elif key == "m":
                b1 = hyper(fn, sent, "beta1")
                rule, expected = "beta1 * m + (1 - beta1) * dw", b1 * old + (1 - b1) * dw
            else:
                b2 = hyper(fn, sent, "beta2")
                rule, expected = "beta2 * v + (1 - beta2) * dw**2", b2 * old + (1 - b2) * dw**2
            expect.close(new, expected, f"config[{key!r}] {where} (new {rule})", rtol=1e-9)
            if key == "velocity":
                try:
                    expect.close(
                        next_w - w,
                        new,
                        f"the step next_w - w {where} (it is the new velocity)",
                        rtol=1e-9,
                        atol=tol,
                    )
                except CheckFailed as error:
                    mu = hyper(fn, sent, "momentum")
                    nesterov = -mu * old + (1 + mu) * new
                    raise with_hint(
                        error, matching_mistake(next_w - w, {"nesterov": nesterov})
                    ) from None


@check_each(
    RULES,
    "{key}_hyperparameters",
    "Each hyperparameter given in the config changes the steps of {fn} as its rule says: "
    "learning_rate scales every step, and momentum, decay_rate, beta1, beta2 and epsilon "
    "act where the formula puts them (epsilon is added to the square root's value).",
    varied,
    max_examples=3,
    hint=(
        "A step did not change as the rule says when one hyperparameter in config changed: "
        "check that each one is read from config and sits exactly where the docstring's "
        "formula puts it."
    ),
)
def hyperparameters(case: Varied, student: Any, fn: str) -> None:
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # a wrong rule's inf
        # epsilon first: its mistakes (inside the square root, hard-coded) also upset the
        # other relations, and its own says which one it is
        for name in sorted(DEFAULTS[fn], key=lambda name: name != "epsilon"):
            _relation(case, student, fn, name)


def _relation(case: Varied, student: Any, fn: str, name: str) -> None:
    """The steps under the default and another value of ``name`` relate as the rule says."""
    default, other = DEFAULTS[fn][name], OTHER_VALUE[name]
    if name == "epsilon":
        _epsilon_relation(case, student, fn, default, other)
        return
    zero = np.zeros_like(case.dw)
    runs = {}
    for value in (default, other):
        taken = run_steps(student, fn, case.w, [case.dw, zero], {name: value})
        _require_finite(taken, case.dw, fn, name, value)
        runs[value] = [n - w for w, n, _, _ in taken]
    try:
        _steps_relation(runs, case, name, default, other, fn)
    except CheckFailed as error:
        same = all(np.array_equal(a, b) for a, b in zip(runs[default], runs[other], strict=True))
        raise with_hint(error, HINTS["hardcoded"].format(name=name) if same else "") from None


def _require_finite(
    taken: list[tuple[np.ndarray, np.ndarray, Config, Config]],
    dw: np.ndarray,
    fn: str,
    name: str,
    value: float,
) -> None:
    """A step that is inf or NaN says nothing about a hyperparameter: say what it is
    instead (and, for Adam's first step, whether t was still 0), rather than report a
    relation off by NaN."""
    for i, (w, next_w, returned, _) in enumerate(taken, start=1):
        with np.errstate(invalid="ignore", over="ignore"):
            step = next_w - w
        require(
            bool(np.all(np.isfinite(step))),
            f"step {i} of {fn} with config {{{name!r}: {value:g}}} is not finite, so how "
            f"{name} changes the steps cannot be measured",
            got=format_value(step),
            hint=t_late_hint(returned, w, dw, {name: value}, fn) if i == 1 else "",
        )


def _steps_relation(
    runs: dict[float, list[np.ndarray]],
    case: Varied,
    name: str,
    default: float,
    other: float,
    fn: str,
) -> None:
    told = f"with config {{{name!r}: {other:g}}} instead of the default {default:g}"
    if name == "learning_rate":
        for i, (a, b) in enumerate(zip(runs[default], runs[other], strict=True), start=1):
            expect.close(
                b,
                (other / default) * a,
                f"step {i} {told} (learning_rate scales every step: {other / default:g} "
                "times the step at the default)",
                rtol=1e-6,
                atol=step_tolerance(case.w),
            )
    elif name == "momentum":
        for value, (first, second) in runs.items():
            expect.close(
                second,
                value * first,
                f"the second step (dw = 0) with momentum = {value:g}: momentum * the first step",
                rtol=1e-6,
                atol=step_tolerance(case.w),
            )
    elif name == "decay_rate":
        ratio = math.sqrt(1 - default) / math.sqrt(1 - other)
        expect.close(
            runs[other][0],
            ratio * runs[default][0],
            f"the first step {told} (cache = (1 - decay_rate) * dw**2 makes it "
            f"{ratio:.4g} times the step at the default)",
            rtol=1e-4,
        )
    else:  # beta1, beta2: the second step, from the state alone, relative to the first
        betas = {"beta1": DEFAULTS[fn]["beta1"], "beta2": DEFAULTS[fn]["beta2"]}
        for value, (first, second) in runs.items():
            b1, b2 = {**betas, name: value}["beta1"], {**betas, name: value}["beta2"]
            # m_hat = beta1 * dw / (1 + beta1), v_hat = beta2 * dw**2 / (1 + beta2)
            ratio = (b1 / (1 + b1)) / math.sqrt(b2 / (1 + b2))
            expect.close(
                second,
                ratio * first,
                f"the second step (dw = 0) with {name} = {value:g}: the bias-corrected "
                f"moments make it {ratio:.4g} times the first step",
                rtol=1e-4,
            )


def _epsilon_relation(case: Varied, student: Any, fn: str, default: float, other: float) -> None:
    """One step with tiny gradients, at two epsilons: lr * |dw| / |step| is the
    denominator sqrt(...) + epsilon, so it must grow by exactly the change of epsilon
    (for Adam up to 1 / sqrt(1 - beta2), the factor the paper's form puts on it)."""
    lr = DEFAULTS[fn]["learning_rate"]
    denominators = {}
    for value in (default, other):
        taken = run_steps(student, fn, case.w, [case.tiny], {"epsilon": value})
        _require_finite(taken, case.tiny, fn, "epsilon", value)
        ((w, next_w, _, _),) = taken
        with np.errstate(divide="ignore", invalid="ignore"):
            denominators[value] = lr * np.abs(case.tiny) / np.abs(next_w - w)
    with np.errstate(invalid="ignore"):
        factor = (denominators[other] - denominators[default]) / (other - default)
    high = 1.0 if fn == "rmsprop" else 1 / math.sqrt(1 - DEFAULTS[fn]["beta2"])
    bad = ~((factor >= 1 - 1e-3) & (factor <= high * (1 + 1e-3)))
    if bad.any():
        if np.all(np.abs(factor) < 1e-3):
            hint = HINTS["hardcoded"].format(name="epsilon")
        elif np.all(factor > high):
            hint = HINTS["eps_inside_sqrt"]
        else:
            hint = ""
        i = int(np.argmax(bad.ravel()))
        raise expect.CheckFailed(
            f"with config {{'epsilon': {other:g}}} instead of the default {default:g}, the "
            f"denominator learning_rate * |dw| / |step| of the first step grew by "
            f"{format_value(factor.ravel()[i] * (other - default))} where dw = "
            f"{format_value(case.tiny.ravel()[i])}: epsilon is added to the square root, so "
            f"it grows by {other - default:g}",
            expected=f"a growth of {other - default:g}"
            + ("" if fn == "rmsprop" else f" (up to {high:.3g} times that)"),
            got=format_value(factor * (other - default)),
            hint=hint,
        )


@check(
    "momentum_velocity_limit",
    "With the same gradient g at every step, the velocity of sgd_momentum tends to "
    "-learning_rate * g / (1 - momentum), and so does each step.",
    constant_gradients(),
    max_examples=3,
)
def velocity_limit(case: ConstantGradient, student: Any) -> None:
    fn = "sgd_momentum"
    runs = run_steps(student, fn, case.w, [case.dw] * case.steps, case.config)
    w, next_w, returned, _ = runs[-1]
    mu, lr = hyper(fn, case.config, "momentum"), hyper(fn, case.config, "learning_rate")
    limit = -lr * case.dw / (1 - mu)
    where = f"after {case.steps} steps"
    # 0.9**100 = 3e-5: the velocity is that close to its limit by now
    expect.close(state_array(returned, "velocity", w, fn), limit, f"velocity {where}", rtol=1e-3)
    expect.close(next_w - w, limit, f"the step next_w - w {where}", rtol=1e-3)


@check_each(
    {"rmsprop": "rmsprop", "adam": "adam"},
    "{key}_first_step",
    "From a fresh state, the first step of {fn} moves every coordinate by about the same "
    "amount, whatever the size of its gradient (Adam: learning_rate; RMSProp: "
    "learning_rate / sqrt(1 - decay_rate)).",
    significant_steps,
    hint=(
        "Work the first step out by hand from a zero state: which averages does the rule "
        "keep, how are they corrected at t = 1, and where does epsilon go? The step size "
        "should not depend on the size of the gradient."
    ),
)
def first_step(case: Steps, student: Any, fn: str) -> None:
    ((w, next_w, returned, _),) = run_steps(student, fn, case.w, case.grads, case.config)
    lr, eps = hyper(fn, case.config, "learning_rate"), hyper(fn, case.config, "epsilon")
    # Adam's bias correction makes m_hat = dw and v_hat = dw**2 at t = 1; RMSProp's first
    # cache is (1 - decay_rate) * dw**2. Only epsilon keeps the size from being exact.
    root = (
        np.abs(case.dw)
        if fn == "adam"
        else np.sqrt(1 - hyper(fn, case.config, "decay_rate")) * np.abs(case.dw)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(case.dw == 0, 0.0, lr * np.abs(case.dw) / (root + eps))
        size = np.abs(next_w - w)
    what = "the step size |next_w - w|"
    require(
        bool(np.all(np.isfinite(size))),
        f"{what} is not finite",
        got=format_value(size),
        hint=t_late_hint(returned, w, case.dw, case.config, fn),
    )
    mistake = matching_mistake(size, _first_step_mistakes(case, fn))
    # 1% of each coordinate's own step: room for where epsilon goes (Adam's paper folds it
    # differently), none for epsilon inside the square root or a missing bias correction
    relative = np.abs(size - expected) / np.where(expected == 0, 1.0, expected)
    worst = int(np.argmax(relative))
    require(
        bool(relative.ravel()[worst] <= 1e-2),
        f"{what} is off by {relative.ravel()[worst]:.3g} of itself where dw = "
        f"{format_value(case.dw.ravel()[worst])}",
        expected=format_value(expected),
        got=format_value(size),
        hint=mistake,
    )


def _first_step_mistakes(case: Steps, fn: str) -> dict[str, np.ndarray]:
    """The first step's size under each real mistake that shows in it."""
    lr, eps = hyper(fn, case.config, "learning_rate"), hyper(fn, case.config, "epsilon")
    g = np.abs(case.dw)
    if fn == "rmsprop":
        rho = hyper(fn, case.config, "decay_rate")
        return {"eps_inside_sqrt": lr * g / np.sqrt((1 - rho) * g**2 + eps)}
    b1, b2 = hyper(fn, case.config, "beta1"), hyper(fn, case.config, "beta2")
    return {
        "eps_inside_sqrt": lr * g / np.sqrt(g**2 + eps),
        "no_bias_correction": lr * (1 - b1) * g / (np.sqrt(1 - b2) * g + eps),
        # t = 2 at the first step: m_hat = dw / (1 + beta1), v_hat = dw**2 / (1 + beta2)
        "t_starts_at_1": lr * (g / (1 + b1)) / (g / np.sqrt(1 + b2) + eps),
    }


@check_each(
    {"rmsprop": "rmsprop", "adam": "adam"},
    "{key}_scale_invariance",
    "Multiplying every gradient by c > 0 barely changes the steps {fn} takes (the update "
    "divides by the root of the squared-gradient average).",
    scaled,
)
def scale_invariance(drawn: Scaled, student: Any, fn: str) -> None:
    case = drawn.case
    plain = run_steps(student, fn, case.w, case.grads, case.config)
    times_c = run_steps(student, fn, case.w, [drawn.factor * g for g in case.grads], case.config)
    for i, ((w1, n1, _, _), (w2, n2, _, _)) in enumerate(zip(plain, times_c, strict=True)):
        with np.errstate(invalid="ignore", over="ignore"):
            step_1, step_c = n1 - w1, n2 - w2
        expect.close(
            step_c,
            step_1,
            f"step {i + 1} with the gradients times c = {drawn.factor:g}, compared to the "
            "step without",
            rtol=1e-3,
            atol=1e-3 * hyper(fn, case.config, "learning_rate"),
        )


@check_each(
    RULES,
    "{key}_convex_quadratic",
    "200 steps of {fn} on a convex quadratic, each from the previous step's w and config, "
    "lower the objective by at least 1%.",
    quadratics,
    # 200 dependent calls, a round trip to the worker each: the costliest check
    max_examples=2,
)
def convex_quadratic(case: Quadratic, student: Any, fn: str) -> None:
    w, config = case.w0, case.config
    for _ in range(case.steps):
        next_w, returned = step_of(
            student.call(fn, w, case.gradient(w), copy_config(config)), w, fn
        )
        if not np.all(np.isfinite(next_w)):
            break  # diverged: the objective below says so
        w, config = next_w, returned
    start, end = case.value(case.w0), case.value(w)
    require(
        bool(np.isfinite(end)) and end <= 0.99 * start,
        f"after {case.steps} steps of {fn} the objective went from {start:.6g} to {end:.6g}",
        expected=f"at most {0.99 * start:.6g}",
        got=f"{end:.6g} at w = {format_value(w)}",
    )


@check_each(
    RULES,
    "{key}_no_per_element_loop",
    "{fn} does no per-element Python work: one step runs the same Python lines for w of 8 "
    "and of 64 elements.",
    two_sizes,
    max_examples=2,
)
def no_per_element_loop(drawn: TwoSizes, student: Any, fn: str) -> None:
    small, big = drawn.small, drawn.big
    few, many = student.outcomes(
        fn,
        [(case.w, case.dw, copy_config(case.config)) for case in (small, big)],
        trace=True,
    )
    a, b = few.trace_events, many.trace_events
    require(
        a is not None and b is not None and a >= 0 and b >= 0,
        f"the Python work of {fn} could not be measured (was sys.settrace changed?)",
    )
    assert a is not None and b is not None
    require(
        b - a < (big.w.size - small.w.size) // 2,
        f"{fn} runs {b - a} more Python line/call events for 64 elements than for 8: it "
        "loops over the elements of w in Python",
        expected=f"about {a} events for both sizes",
        got=f"{a} events for 8 elements, {b} for 64",
    )
