"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

import math
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
# Adam: its steps are accepted as they are, computed from the reference's own state, so
# the cases reach the small gradients where epsilon's place shows. Epsilon inside the
# square root fails here as it fails rmsprop_reference.


def _paper_step(config: dict[str, Any]) -> np.ndarray:
    t = float(config["t"])
    scale = math.sqrt(1 - config["beta2"] ** t) / (1 - config["beta1"] ** t)
    return (
        -config["learning_rate"] * scale * config["m"] / (np.sqrt(config["v"]) + config["epsilon"])
    )


def _matches(got: np.ndarray, step: np.ndarray, w: np.ndarray) -> bool:
    try:
        expect.close(got, step, "the step", rtol=1e-6, atol=step_tolerance(w))
    except expect.CheckFailed:
        return False
    return True


@check_each(
    RULES,
    "{key}_reference",
    "Over several chained steps (each from the previous step's w and config), {fn} takes the "
    "same steps and keeps the same state as the reference solution.",
    lambda fn: steps(fn, count=(2, 6)),
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
        rtol = 1e-6
        # The paper's form of Adam is tried first, silently: when it is not the student's,
        # the failure shown is the one against the reference.
        if fn != "adam" or not _matches(got, _paper_step(ref_config), w):
            expect.close(
                got, ref_w - w, f"the {where} next_w - w", rtol=rtol, atol=step_tolerance(w)
            )
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
