"""Which checks count: a check with ``requires:`` earns points only once those pass.

Properties such as "loss >= 0" or "the inputs are unchanged" hold for code that does
nothing. Gating them on a check that shows the function does the work (e.g. "its loss
changes with its inputs") keeps a stub at zero, and spares the worker calls a blocked
check would make.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from propgrade.engine.checks import Check
from propgrade.engine.results import Feedback


def stages(checks: Sequence[Check], requires: Mapping[str, tuple[str, ...]]) -> list[list[Check]]:
    """Checks grouped so that every check comes after all the checks it requires.

    Stage 0 holds the checks that require nothing; the engine evaluates one stage at a
    time, so each stage still batches all its calls into few round trips.
    """
    depth: dict[str, int] = {}
    for c in checks:
        # config validation guarantees that a required check is listed earlier
        depth[c.id] = 1 + max((depth[r] for r in requires.get(c.id, ()) if r in depth), default=-1)
    out: list[list[Check]] = [[] for _ in range(1 + max(depth.values(), default=0))]
    for c in checks:
        out[depth[c.id]].append(c)
    return [stage for stage in out if stage]


def first_unmet(
    check_id: str, requires: Mapping[str, tuple[str, ...]], passed: Mapping[str, bool]
) -> str | None:
    """The first required check that did not pass, or None when the check may run."""
    return next((r for r in requires.get(check_id, ()) if not passed.get(r, True)), None)


def blocked_feedback(required: Check, *, grader_fault: bool = False) -> Feedback:
    """Why a check was not graded. When the grader itself failed on the required check, this
    one is no grade either: an internal error, not a 0 the student must work off."""
    if grader_fault:
        return Feedback(
            message=f"Not graded: the grader failed on {required.id}, which this check needs.",
            blocked_by=required.id,
            internal_error=True,
        )
    return Feedback(
        message=(
            f"Not counted yet: this check needs {required.id} to pass first "
            f"({required.sentence.rstrip('.')}). Fix that one and this check is graded."
        ),
        blocked_by=required.id,
    )
