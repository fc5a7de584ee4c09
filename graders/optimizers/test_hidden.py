"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

from typing import Any

import numpy as np

from propgrade import check_each, expect

from .common import (
    RULES,
    STATE_KEYS,
    Steps,
    config_of,
    copy_config,
    run_steps,
    step_tolerance,
    steps,
)

# Adam's paper writes its efficient form with epsilon added to sqrt(v) before the bias
# correction: lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps). A legitimate
# Adam, which differs from CS231n's by about 3e-7 / |dw| of the step. With |dw| >= 1e-2 and
# a relative tolerance of 1e-4 it passes; the public adam_first_step still fails epsilon
# inside the square root, which is off by 30% at |dw| = 1e-4.
_ADAM_RANGES = ((-2.0, 3.0), (-1.0, 1.0), (1.0, 3.0))
_RTOL = {"adam": 1e-4}


@check_each(
    RULES,
    "{key}_reference",
    "Over several chained steps (each from the previous step's w and config), {fn} takes the "
    "same steps and keeps the same state as the reference solution.",
    lambda fn: (
        steps(fn, count=(2, 6))
        if fn != "adam"
        else steps(fn, count=(2, 6), epsilon=False, ranges=_ADAM_RANGES)
    ),
)
def reference_steps(case: Steps, student: Any, fn: str, reference: Any) -> None:
    mine = run_steps(student, fn, case.w, case.grads, case.config)
    w, config = case.w, copy_config(case.config)
    for i, ((w_s, next_s, config_s, _), dw) in enumerate(zip(mine, case.grads, strict=True)):
        returned = config_of(config_s, fn) if STATE_KEYS[fn] else {}
        ref_w, ref_config = getattr(reference, fn)(w, dw, copy_config(config))
        where = f"step {i + 1}"
        with np.errstate(invalid="ignore", over="ignore"):
            got = next_s - w_s
        # Compared as steps, not as next_w: a step of 1e-3 on w of size 10 must still be
        # graded to its own precision. 1e-6 allows any order of the same float64 operations.
        rtol = _RTOL.get(fn, 1e-6)
        expect.close(got, ref_w - w, f"the {where} next_w - w", rtol=rtol, atol=step_tolerance(w))
        for key in STATE_KEYS[fn]:
            if key == "t":
                expect.close(
                    expect.scalar_value(returned.get("t"), "config['t']"),
                    float(ref_config["t"]),
                    f"config['t'] after {where}",
                    rtol=0.0,
                )
            elif key in returned:
                value = expect.array_value(returned[key], f"config[{key!r}]", w.shape)
                expect.close(value, ref_config[key], f"config[{key!r}] after {where}", rtol=rtol)
            else:
                raise expect.CheckFailed(f"config[{key!r}] is missing after {where}")
        # Each side goes on from its own w and state: the first difference is the one shown.
        w, config = ref_w, ref_config
