"""``propgrade doctor``: which sandbox layer grading would use here, and why.

Every row comes from running the real thing (bwrap, the uid drop, numpy inside the active
layer), not from guessing by the presence of files, so the report stays true on machines
that look alike but differ (a container without namespace rights, a missing setpriv).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

from propgrade.errors import WorkerError
from propgrade.sandbox import bwrap_layer, landlock, layer_choice, layers, seccomp, uid_slots
from propgrade.sandbox.calls import Limits

_TOOL_SECONDS = 10.0
_NUMPY_SECONDS = 60.0
_WIDTH = 100
NUMPY_CHECK = "numpy importable by the worker"
NAMESPACE_CHECK = "namespaces (pid, net, ipc, uts) can be created"
SECCOMP_CHECK = "seccomp filter for the full layer"
LANDLOCK_CHECK = "Landlock confines workers' writes"
PROCESS_CHECK = "seccomp filter for the reduced layer (no new processes)"

ADVICE_BWRAP = (
    "install bubblewrap: `apt-get install bubblewrap` (Debian/Ubuntu; `dnf install "
    "bubblewrap` on Fedora)"
)
ADVICE_SETPRIV = "install util-linux, which provides setpriv: `apt-get install util-linux`"
ADVICE_ROOT = (
    "run the grader as root (e.g. inside a container): only root can start workers under "
    "uids of their own; bwrap as a normal user maps the worker to your uid, so student code "
    "could read your files"
)
ADVICE_NAMESPACES = (
    "bwrap cannot create namespaces here; in a container allow it, e.g. `docker run "
    "--privileged`, or `--cap-add SYS_ADMIN --security-opt seccomp=unconfined "
    "--security-opt apparmor=unconfined`"
)
ADVICE_SECCOMP = (
    "optional: `pip install pyseccomp` (uses libseccomp2: `apt-get install libseccomp2`) so "
    "the full layer also denies socket() and user namespaces inside the sandbox"
)


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str


@dataclass
class DoctorReport:
    """What ``diagnose`` found. ``layer`` is "full", "reduced", or "none" when grading
    would stop (``PROPGRADE_SANDBOX=full`` on a machine where it does not work)."""

    layer: str
    description: str
    checks: list[Check] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Grading can run, with whichever layer is active."""
        return self.error is None and all(c.ok for c in self.checks if c.name == NUMPY_CHECK)

    def check(self, name_start: str) -> Check:
        """The first row whose name starts with ``name_start``."""
        for row in self.checks:
            if row.name.startswith(name_start):
                return row
        raise KeyError(name_start)


def diagnose() -> DoctorReport:
    checks: list[Check] = []
    advice: list[str] = []

    bwrap = shutil.which("bwrap")
    if bwrap:
        checks.append(Check("bwrap found", True, f"at {bwrap} ({_version(bwrap)})"))
    else:
        checks.append(Check("bwrap found", False, "no bwrap on PATH"))
        advice.append(ADVICE_BWRAP)
    setpriv = shutil.which("setpriv")
    if setpriv:
        checks.append(Check("setpriv found", True, f"at {setpriv}"))
    else:
        checks.append(Check("setpriv found", False, "no setpriv on PATH"))
        advice.append(ADVICE_SETPRIV)
    root = os.geteuid() == 0
    checks.append(Check("running as root", root, f"effective uid {os.geteuid()}"))
    if not root:
        advice.append(ADVICE_ROOT)

    namespaces = _namespaces_check(bwrap)
    checks.append(namespaces)
    if bwrap and not namespaces.ok:
        advice.append(ADVICE_NAMESPACES)

    probe = layer_choice.probe_full_layer()
    uid_base = _uid_base_or_none()
    drop_name = f"can drop to uid {uid_base}+slot" if uid_base is not None else "can drop uid"
    checks.append(Check(drop_name, probe.ok, probe.detail))
    if bwrap and setpriv and root and namespaces.ok and not probe.ok:
        advice.append(f"the full layer fails its trial run: {probe.detail}")

    syscall_filter = seccomp.seccomp_status()
    checks.append(Check(SECCOMP_CHECK, syscall_filter.program is not None, syscall_filter.detail))
    if probe.ok and syscall_filter.program is None:
        advice.append(ADVICE_SECCOMP)

    checks.append(Check(LANDLOCK_CHECK, landlock.landlock_abi() > 0, landlock.describe_writes()))
    processes = seccomp.process_seccomp_status()
    checks.append(Check(PROCESS_CHECK, processes.program is not None, processes.detail))

    choice = os.environ.get(layer_choice.SANDBOX_ENV, "").strip()
    if choice:
        checks.append(Check(f"{layer_choice.SANDBOX_ENV} set", True, f"{choice!r}"))
    try:
        layer = layer_choice.default_layer()
    except WorkerError as exc:
        advice.append(
            f"or unset {layer_choice.SANDBOX_ENV} to grade with the reduced layer, which does not "
            "stop student code from reading files"
        )
        return DoctorReport("none", "no layer: grading would stop", checks, advice, exc.message)
    if layer.name == layers.REDUCED and probe.ok:
        advice.append(f"{layer_choice.SANDBOX_ENV}={choice} forces the reduced layer; unset it")
    checks.append(_numpy_check(layer))
    if not checks[-1].ok:
        advice.append(
            f"numpy must import in `{sys.executable} -I` inside the {layer.name} layer: "
            "install numpy into that interpreter, or raise the memory limit"
        )
    return DoctorReport(layer.name, layer.describe(), checks, advice)


def render(report: DoctorReport) -> str:
    lines = [f"sandbox layer: {report.layer}"]
    lines += _wrapped(report.description, "  ", "  ")
    if report.error:
        lines += _wrapped(report.error, "error: ", "       ")
    lines.append("checks:")
    for name, ok, detail in report.checks:
        mark = "[ok]  " if ok else "[FAIL]"
        lines += _wrapped(f"{name}: {detail}", f"  {mark} ", " " * 9)
    if report.advice:
        lines.append("advice:")
        for item in report.advice:
            lines += _wrapped(item, "  - ", "    ")
    return "\n".join(lines) + "\n"


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]


def _version(tool: str) -> str:
    try:
        done = subprocess.run(
            [tool, "--version"], capture_output=True, text=True, timeout=_TOOL_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"version unknown: {exc}"
    return done.stdout.strip() or "version unknown"


def _uid_base_or_none() -> int | None:
    try:
        return uid_slots.default_uid_base()
    except WorkerError:
        return None


def _namespaces_check(bwrap: str | None) -> Check:
    name = NAMESPACE_CHECK
    if not bwrap:
        return Check(name, False, "not tried: no bwrap")
    true = shutil.which("true", path="/usr/bin:/bin") or "/usr/bin/true"
    command = [bwrap, *bwrap_layer.NAMESPACE_FLAGS, "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64"):
        if os.path.islink("/" + link):
            command += ["--symlink", os.readlink("/" + link), "/" + link]
        elif os.path.isdir("/" + link):
            command += ["--ro-bind", "/" + link, "/" + link]
    command += ["--proc", "/proc", "--dev", "/dev", "--", true]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, False, f"bwrap could not run: {exc}")
    if done.returncode != 0:
        return Check(name, False, f"bwrap failed: {done.stderr.strip()[-300:]}")
    return Check(name, True, "bwrap ran a program in new namespaces")


def _numpy_check(layer: layers.Layer) -> Check:
    name = NUMPY_CHECK
    code = "import os, numpy; print(numpy.__version__, os.getuid())"
    try:
        status, output, _ = layer_choice.run_in_layer(
            layer, [sys.executable, "-I", "-c", code], _NUMPY_SECONDS, Limits()
        )
    except (OSError, WorkerError) as exc:
        return Check(name, False, f"the {layer.name} layer could not start python: {exc}")
    words = output.split()
    if status != 0 or len(words) != 2:
        return Check(name, False, f"exit status {status}: {output.strip()[-300:]}")
    version, uid = words
    return Check(name, True, f"numpy {version} imported as uid {uid} in the {layer.name} layer")
