"""The tasks a Dask worker runs for ``propgrade grade --dask``.

A Dask worker is a trusted propgrade process on its machine, like a child of the
``--jobs`` pool: it loads the graders and the reference and starts propgrade's sandbox,
and student code runs only inside that sandbox, never in the Dask worker itself. Every
task takes and returns plain data (str, bytes, JSON text), so nothing that crosses the
network was built from what a student process wrote.

The plan is built on the worker from its own copy of the course files, once per process,
and used only when its fingerprint equals the client's: a worker with another propgrade,
Hypothesis or course file would give other grades, so it refuses instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import tempfile
import threading
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import numpy

import propgrade
from propgrade.config import load_course
from propgrade.engine.fingerprint import FINGERPRINT_KEYS
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.errors import PropgradeError
from propgrade.sandbox import scratch
from propgrade.sandbox.bwrap_layer import INSTALL_HINT, BwrapLayer
from propgrade.sandbox.layer_choice import SANDBOX_ENV, probe_full_layer
from propgrade.sandbox.layers import REDUCED, Layer
from propgrade.sandbox.process_layer import ProcessLayer

# Where a worker finds the course file when it is not at the client's path (a node with
# its own copy of the course folder).
COURSE_ENV = "PROPGRADE_COURSE"
# What a worker's plan must share with the client's: everything a grade depends on
# except the submission's own file.
COMPARED = tuple(k for k in FINGERPRINT_KEYS if k != "file_sha256")
_KEEP_PLANS = 2


@dataclass(frozen=True)
class CourseRef:
    """What a worker needs to build the client's plan, and the fingerprint it must match."""

    config: str  # the client's course file, absolute
    assignment: str
    sandbox: str  # the layer every worker must use: "full", or "reduced" when allowed
    expected: tuple[tuple[str, Any], ...]  # the client's plan_fingerprint


class Refusal(Exception):
    """This worker must not grade: told to the client as data, never as a pickled error."""

    def __init__(self, message: str, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"message": self.message, "hint": self.hint, "detail": self.detail}


_LOCK = threading.RLock()  # _build takes it again through _layer
_LAYERS: dict[str, Layer | Refusal] = {}
_PLANS: OrderedDict[CourseRef, Plan | Refusal] = OrderedDict()


def _choose_layer(sandbox: str) -> Layer:
    """The layer the client asked for. Unlike a local run, a worker never falls back to the
    reduced layer on its own: the instructor chose the cluster and cannot see its nodes."""
    if sandbox == REDUCED:
        return ProcessLayer()
    probe = probe_full_layer()
    if probe.ok:
        return BwrapLayer(bwrap=probe.bwrap, setpriv=probe.setpriv)
    from propgrade.doctor import diagnose, render

    raise Refusal(
        f"the full sandbox layer does not work on this worker: {probe.detail}",
        hint=f"{INSTALL_HINT}; or, to grade with the reduced layer (it does not stop student "
        f"code from reading files), set {SANDBOX_ENV}=reduced and pass --allow-reduced where "
        "you run propgrade grade",
        detail=render(diagnose()),
    )


def _layer(sandbox: str) -> Layer:
    with _LOCK:
        layer = _LAYERS.get(sandbox)
        if layer is None:
            try:
                layer = _choose_layer(sandbox)
            except Refusal as refusal:
                layer = refusal
            _LAYERS[sandbox] = layer
    if isinstance(layer, Refusal):
        raise layer
    return layer


def course_file(ref: CourseRef) -> Path:
    return Path(os.environ.get(COURSE_ENV) or ref.config)


def _build(ref: CourseRef) -> Plan:
    layer = _layer(ref.sandbox)
    path = course_file(ref)
    try:
        assignment = load_course(path).assignment(ref.assignment)
        # What an earlier worker process killed mid-task left in the temp dir.
        scratch.sweep()
        with warnings.catch_warnings():
            # Hypothesis warns when the global `random` state changes while it draws, and
            # here the worker's event loop thread moves it. The cases do not depend on it:
            # their digest, compared with the client's, would tell.
            warnings.simplefilter("ignore", hypothesis.errors.HypothesisDeprecationWarning)
            plan = prepare(assignment, layer=layer)
    except PropgradeError as exc:
        raise Refusal(
            f"cannot build the plan of {ref.assignment} from {path}: {exc.message}",
            hint=f"copy the course folder to {ref.config} on every worker, or set {COURSE_ENV} "
            "in the worker's environment to its course file",
        ) from None
    except Exception:
        raise Refusal(
            f"building the plan of {ref.assignment} from {path} failed",
            detail=traceback.format_exc(limit=20),
        ) from None
    seen = plan_fingerprint(plan)
    differ = [
        f"{key}={seen.get(key)!r} here but {value!r} on the client"
        for key, value in ref.expected
        if seen.get(key) != value
    ]
    if differ:
        raise Refusal(
            "its propgrade, Hypothesis or course files differ from the client's, so it would "
            f"grade differently ({path}): " + "; ".join(differ),
            hint="install the same propgrade and Hypothesis on every worker and give it the "
            "same course files (grading.yaml, graders, reference)",
        )
    return plan


def plan_fingerprint(plan: Plan) -> dict[str, Any]:
    """What must be equal on the client and a worker: the versions and course digests a
    stored result carries, and the drawn cases themselves, which another numpy or
    Hypothesis could draw differently from the same seed."""
    return {**{k: plan.meta.get(k) for k in COMPARED}, "cases_hash": cases_digest(plan.cases)}


def cases_digest(cases: Mapping[str, Sequence[Any]]) -> str:
    h = hashlib.sha256()
    for check_id in sorted(cases):
        h.update(b"\0check " + check_id.encode())
        for case in cases[check_id]:
            _feed(h, case)
    return h.hexdigest()[:16]


def _feed(h: Any, value: Any) -> None:
    # Not pickle: a case's class lives in a grader module whose name depends on where the
    # course folder is, and that may differ from machine to machine.
    if isinstance(value, numpy.ndarray):
        h.update(f"A{value.dtype.str}{value.shape}".encode())
        h.update(numpy.ascontiguousarray(value).tobytes())
    elif isinstance(value, list | tuple):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif hasattr(value, "__dict__") and not callable(value):
        h.update(f"O{type(value).__qualname__}".encode())
        _feed(h, vars(value))
    else:
        h.update(f"V{value!r}".encode())


def plan_for(ref: CourseRef) -> Plan:
    """The plan of ``ref``, built once per worker process; ``Refusal`` if it must not grade.

    Built under the lock, so the threads of one worker never draw the same cases twice.
    """
    with _LOCK:
        cached = _PLANS.get(ref)
        if cached is None:
            try:
                cached = _build(ref)
            except Refusal as refusal:
                cached = refusal
            _PLANS[ref] = cached
            while len(_PLANS) > _KEEP_PLANS:
                _PLANS.popitem(last=False)
    if isinstance(cached, Refusal):
        raise cached
    return cached


def versions() -> dict[str, str]:
    return {
        "propgrade": propgrade.__version__,
        "hypothesis": hypothesis.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def identify(ref: CourseRef | None, sandbox: str) -> str:
    """This worker's host, versions, sandbox layer and (with ``ref``) plan fingerprint,
    as JSON; a worker that must not grade says why under ``refused``."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    info["versions"] = versions()
    try:
        layer = _layer(sandbox)
        info["layer"] = layer.name
        info["layer_description"] = layer.describe()
        if ref is not None:
            plan = plan_for(ref)
            info["fingerprint"] = plan_fingerprint(plan)
    except Refusal as refusal:
        info["refused"] = refusal.as_dict()
    return json.dumps(info)


def grade_bytes(ref: CourseRef, student: str, graded: bytes) -> str:
    """Grade one submission's graded file, given as bytes, in this machine's sandbox.

    Returns JSON: ``{"result": <SubmissionResult.to_dict()>}``, or ``{"refused": ...}``.
    """
    from propgrade.batch import internal_error_result

    try:
        plan = plan_for(ref)
    except Refusal as refusal:
        where = f"{socket.gethostname()} (pid {os.getpid()})"
        return json.dumps({"refused": refusal.as_dict(), "worker": where})
    with tempfile.TemporaryDirectory(prefix="propgrade-dask-") as tmp:
        folder = Path(tmp)
        (folder / plan.assignment.graded_file).write_bytes(graded)
        try:
            result = grade_submission(plan, student, folder)
        except Exception:
            result = internal_error_result(plan, student, traceback.format_exc(limit=20))
    return json.dumps({"result": result.to_dict()})
