"""Public checks: released to students, runnable with ``propgrade check``.

None of them needs the reference solution: each is a property any correct update rule
has, or the documented form of its state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from propgrade import check, check_each, expect, format_value

from .common import (
    DEFAULTS,
    RULES,
    STATE_KEYS,
    STATEFUL,
    ConstantGradient,
    Quadratic,
    Scaled,
    Steps,
    TwoRuns,
    TwoSizes,
    config_of,
    constant_gradients,
    copy_config,
    hyper,
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
    two_runs,
    two_sizes,
)


@check_each(
    RULES,
    "{key}_implemented",
    "{fn} does the work: two steps with nonzero gradients move w, and differently for "
    "different gradients. The other checks of {fn} count once this one passes.",
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


@check_each(
    RULES,
    "{key}_output_shapes",
    "{fn} returns next_w as a finite float64 array of the shape of w (a new array), and the "
    "config as a dict.",
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
        value = number(returned, name, fn)
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
    "{key}_arguments_unchanged",
    "{fn} does not modify its arguments w and dw.",
    lambda fn: steps(fn, count=(1, 1)),
)
def arguments_unchanged(case: Steps, student: Any, fn: str) -> None:
    outcome = student.outcome(fn, case.w, case.dw, copy_config(case.config), echo_args=True)
    after = outcome.args_after
    require(after is not None and len(after) >= 2, "the arguments could not be read back")
    assert after is not None
    expect.unchanged(case.w, after[0], "w")
    expect.unchanged(case.dw, after[1], "dw")


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
                require(
                    t == t_before + 1,
                    f"config['t'] returned by {fn} {where} is {format_value(t)}: t counts "
                    "the steps taken",
                    expected=t_before + 1,
                    got=t,
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
                expect.close(
                    next_w - w,
                    new,
                    f"the step next_w - w {where} (it is the new velocity)",
                    rtol=1e-9,
                    atol=tol,
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
)
def first_step(case: Steps, student: Any, fn: str) -> None:
    ((w, next_w, _, _),) = run_steps(student, fn, case.w, case.grads, case.config)
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
    require(bool(np.all(np.isfinite(size))), f"{what} is not finite", got=format_value(size))
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
    )


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
    few = student.outcome(fn, small.w, small.dw, copy_config(small.config), trace=True)
    many = student.outcome(fn, big.w, big.dw, copy_config(big.config), trace=True)
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
