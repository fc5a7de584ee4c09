"""Choosing a layer: does the full layer work here, and which one to grade with.

``default_layer()`` picks the strongest layer that works (``PROPGRADE_SANDBOX`` forces
one); ``propgrade doctor`` explains the choice with ``probe_full_layer()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from propgrade.errors import WorkerError
from propgrade.sandbox.bwrap_layer import INSTALL_HINT, BwrapLayer
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.layers import FULL, REDUCED, Layer
from propgrade.sandbox.process_layer import ProcessLayer
from propgrade.sandbox.uid_slots import default_uid_base

SANDBOX_ENV = "PROPGRADE_SANDBOX"

_PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class Probe:
    """Whether the full layer works here, and why (not)."""

    ok: bool
    detail: str
    bwrap: str | None = None
    setpriv: str | None = None


_PROBES: dict[tuple[str | None, str | None, int, int], Probe] = {}


def probe_full_layer() -> Probe:
    """Run a tiny program under the full layer, once per process and tool location."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    key = (bwrap, setpriv, os.geteuid(), default_uid_base())
    if key not in _PROBES:
        _PROBES[key] = _probe(bwrap, setpriv)
    return _PROBES[key]


def _probe(bwrap: str | None, setpriv: str | None) -> Probe:
    try:
        layer = BwrapLayer(bwrap=bwrap, setpriv=setpriv)
    except WorkerError as exc:
        return Probe(False, exc.message, bwrap, setpriv)
    argv = [sys.executable, "-I", "-S", "-c", "import os; print(os.getuid(), os.getgid())"]
    try:
        code, output, uid = run_in_layer(layer, argv, _PROBE_SECONDS)
    except (OSError, WorkerError) as exc:
        return Probe(False, f"bwrap could not be started: {exc}", bwrap, setpriv)
    if code != 0:
        detail = f"bwrap failed (exit status {code}): {output.strip()[-500:]}"
        return Probe(False, detail, bwrap, setpriv)
    if uid is None or output.split() != [str(uid), str(uid)]:
        detail = f"the sandboxed process did not run as its uid {uid}: {output.strip()[-200:]}"
        return Probe(False, detail, bwrap, setpriv)
    return Probe(True, f"a sandboxed python ran as uid {uid}", bwrap, setpriv)


def run_in_layer(
    layer: Layer, argv: Sequence[str], seconds: float, limits: Limits | None = None
) -> tuple[int | None, str, int | None]:
    """Run a trusted program under ``layer``: (exit status, output, sandbox uid if any)."""
    with tempfile.TemporaryDirectory(prefix="propgrade-probe-") as scratch:
        process = layer.spawn(argv, scratch=Path(scratch), limits=limits or Limits())
        uid = layer.uid_of(process) if isinstance(layer, BwrapLayer) else None
        try:
            stdout, stderr = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            stdout, stderr = b"", f"no answer within {seconds:g} s".encode()
        finally:
            layer.kill(process)
    text = (stdout + stderr).decode("utf-8", "replace")
    return process.returncode, text, uid


def default_layer() -> Layer:
    """The strongest layer that works here, or the one ``PROPGRADE_SANDBOX`` asks for."""
    choice = os.environ.get(SANDBOX_ENV, "").strip().lower()
    if choice == REDUCED:
        return ProcessLayer()
    if choice not in ("", "auto", FULL):
        raise WorkerError(
            f"{SANDBOX_ENV}={choice!r} is not a sandbox layer",
            hint=f"set {SANDBOX_ENV} to {FULL}, {REDUCED} or auto, or leave it unset",
        )
    probe = probe_full_layer()
    if probe.ok:
        return BwrapLayer(bwrap=probe.bwrap, setpriv=probe.setpriv)
    if choice == FULL:
        raise WorkerError(
            f"{SANDBOX_ENV}=full, but the full sandbox does not work here: {probe.detail}",
            hint=INSTALL_HINT,
        )
    return ProcessLayer()
