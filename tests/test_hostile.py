"""Hostile submissions graded as one class: scores stay honest and nothing leaks or survives.

Every folder under ``tests/submissions/linear_classifiers/hostile/`` is a plausible
``losses.py`` whose author tries to gain points without correct code or to do harm; its
docstring says how. The whole
corpus plus three correct submissions is graded in ONE batch through ``propgrade grade``
with ``--jobs 2`` and the default sandbox (the full bubblewrap layer here and in CI), then
checked from the outside: grades, files, processes, network, environment. The attacks the
reduced layer claims to contain (loops, exits, memory, output, lying values,
monkeypatching, shipped files) are graded again under ``PROPGRADE_SANDBOX=reduced``.

The test writes what the attacks would need to know into its copies: the class, output
and repository paths, a port it listens on, a marker. An attack that knows exactly where
to write or connect must still fail.

A hole found later belongs here as an expected failure (``xfail(strict=True)``), so it
stays visible until fixed.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import select
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import skip_without_full_layer

from propgrade.cli import main
from propgrade.config import load_course
from propgrade.sandbox import bwrap_layer, layer_choice, layers, uid_slots
from propgrade.sandbox.calls import Call, Limits
from propgrade.sandbox.worker import Worker

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "submissions" / "linear_classifiers"
HOSTILE = CORPUS / "hostile"
ASSIGNMENT = "linear_classifiers"
CORRECT = ("correct_reference", "correct_einsum", "correct_onehot")
FULL, REDUCED = layers.FULL, layers.REDUCED
JOBS = 2
# Far above what correct code needs even on a loaded machine. With 1 s per call and 20 s
# per submission, trace_detect_dummy (correct values from Python loops, every traced call
# run twice) lost svm_naive_numerical_gradient on a busy machine: a check it does not
# target. Attacks that loop stay cheap: a function is skipped after two timeouts.
CALL_SECONDS = 5
SUBMISSION_SECONDS = 120
# Each run of this module reserves a sandbox uid range of its own (an flock per range),
# so every process under it after the batch is a leftover of this run, and only of this
# run, even while other graders (default 64000-64255) or other runs of this test go on.
UID_SPAN = uid_slots.DEFAULT_SLOTS
UID_FIRST_BASE = 64512
UID_RANGES = 32
LAYOUT_NAME = "layout.yaml"  # a folder-shaped attack: links, FIFOs, sizes, made at test time
SHIPPED_SUFFIX = ".ship"  # shipped files are inert in the repository (pytest must not load them)
SHIPPED_MARKER = "HOSTILE-SHIPPED-FILE-LOADED"
ESCAPEE_GRACE_SECONDS = 1.5  # the escapee starts writing a second after it is spawned

_ASSIGNMENT_CONFIG = load_course(ROOT / "grading.yaml").assignment(ASSIGNMENT)
CHECK_IDS = tuple(c.id for c in _ASSIGNMENT_CONFIG.checks)
MAX_SCORE = _ASSIGNMENT_CONFIG.max_score
OUTPUT_CAP = _ASSIGNMENT_CONFIG.limits.output_bytes
FUNCTIONS = ("svm_naive", "svm_vec", "softmax_naive", "softmax_vec")


def checks(
    functions: Iterable[str] = FUNCTIONS,
    *,
    only: tuple[str, ...] = (),
    but: tuple[str, ...] = (),
) -> frozenset[str]:
    """Check ids of the given functions ("svm_naive", ...), optionally by kind."""
    return frozenset(
        cid
        for cid in CHECK_IDS
        for fn in functions
        if cid.startswith(fn + "_")
        and (not only or cid.endswith(only))
        and not (but and cid.endswith(but))
    )


EVERY_CHECK = checks()
# A (0.0, zeros) answer, a timeout or an answer that is not data fails the function's
# *_implemented check, so every check of that function fails: properties such as
# loss >= 0 or 0 == 0 earn nothing for it.
# What a loss and dW twice too large fail (the function does work, so its checks count).
DOUBLED = ("zero_weights", "regularization", "one_sample", "reference_noreg", "reference_reg")
LOOP_CHECKS = frozenset({"svm_vec_no_per_sample_loop", "softmax_vec_no_per_sample_loop"})


@dataclass(frozen=True)
class Attack:
    name: str
    must_fail: frozenset[str]  # the checks it targets: they must fail
    evidence: tuple[str, ...] = ()  # all appear in the stored result: the attack really ran
    reduced: bool = False  # the reduced layer claims to contain it
    exact: bool = True  # every other check passes: grading went on undisturbed
    hole: str = ""  # known to gain points: its tests are expected failures


ATTACKS = (
    Attack(
        "loop_in_call",
        checks(("svm_vec", "softmax_vec")),
        # The first timeout fails *_implemented: the other checks make no further calls.
        (f"did not return within {CALL_SECONDS} s", "ran past its time limit"),
        reduced=True,
    ),
    Attack(
        "loop_signal_proof",
        checks(("svm_naive", "softmax_naive"))
        | checks(("svm_vec", "softmax_vec"), only=("matches_naive",)),
        ("blocking all of them", f"did not return within {CALL_SECONDS} s"),
        reduced=True,
    ),
    Attack(
        "exit_sys_at_import",
        EVERY_CHECK,
        ("importing losses.py failed: SystemExit: 0",),
        reduced=True,
    ),
    Attack(
        "exit_os_at_import",
        EVERY_CHECK,
        ("the worker exited with status 0 while importing losses.py",),
        reduced=True,
    ),
    Attack(
        "exit_sys_in_call",
        checks(("softmax_naive", "softmax_vec")),
        ("raised SystemExit: 0",),
        reduced=True,
    ),
    Attack(
        "exit_os_in_call",
        checks(("svm_vec", "softmax_vec")),
        ("the worker exited with status 0 during",),
        reduced=True,
    ),
    Attack(
        "memory_bomb",
        checks(("svm_vec", "softmax_naive")) | {"softmax_vec_matches_naive"},
        ("8 GiB bytearray at import: MemoryError", "raised MemoryError"),
        reduced=True,
    ),
    Attack(
        "memory_loss_array",
        checks(("svm_vec",)),
        ("2.0 MiB of data, where this call may return at most",),
        reduced=True,
    ),
    Attack(
        "fork_flood_escapee",
        checks(("svm_naive",)) | {"svm_vec_matches_naive"},
        # Neither layer lets the worker start a second process (the full layer's process
        # limit, the reduced layer's seccomp filter): not even the escapee starts.
        ("escapee failed", "forked 0 children, then: "),
        reduced=True,
        exact=False,  # the flood may or may not fit in one call's time limit
    ),
    Attack(
        "output_flood",
        checks(("softmax_vec",)),
        ("more bytes of output discarded",),
        reduced=True,
        exact=False,  # 256 MiB per call may or may not fit in one call's time limit
    ),
    Attack(
        "lying_always_equal",
        checks(),
        ("the loss returned by svm_loss_naive should be a number",),
        reduced=True,
    ),
    Attack("lying_ndarray_subclass", checks(), ("is not finite",), reduced=True),
    Attack("lying_float_subclass", checks(), ("should be a number",), reduced=True),
    Attack(
        "monkeypatch_numpy",
        checks(("softmax_naive", "softmax_vec")),
        ("numpy and json patched",),
        reduced=True,
    ),
    Attack(
        "monkeypatch_pytest_hypothesis",
        checks(),
        # Whether the real packages are importable in the sandbox depends on where they are
        # installed (a private /tmp hides a virtualenv under /tmp); the fakes always are.
        ("faked 9 modules",),
        reduced=True,
    ),
    Attack(
        "import_guard_evasion",
        # A zero answer fails each softmax function's implemented gate, hence all its checks.
        checks(("softmax_naive", "softmax_vec")),
        ("yaml imported by 0 of 10 ways []",),
        reduced=True,
    ),
    Attack("hunt_reference_disk", EVERY_CHECK, ("no reference found",)),
    Attack("hunt_reference_memory", EVERY_CHECK, ("no reference found",)),
    Attack(
        "shipped_extra_files",
        EVERY_CHECK,
        ("NotImplementedError: conftest.py and friends",),
        reduced=True,
    ),
    Attack(
        "write_outside",
        checks(("softmax_naive", "softmax_vec"), only=DOUBLED),
        ("replace reference", "sabotage", "FileNotFoundError"),
    ),
    Attack(
        "network_exfiltration",
        checks(("softmax_naive", "softmax_vec")),
        ("no answers from the accomplice",),
    ),
    Attack("env_snoop", checks(("softmax_naive", "softmax_vec")), ("variables [",)),
    Attack(
        "trace_tamper_naive",
        LOOP_CHECKS,
        # A file that touches the tracing machinery gets no trusted count at all.
        ("could not be measured",),
    ),
    Attack("trace_evasion", LOOP_CHECKS),
    Attack("trace_forged_reply", LOOP_CHECKS),
    Attack(
        "trace_detect_dummy",
        LOOP_CHECKS,
        # The traced call's dummy is caught by running the same call again untraced.
        ("returned a different result while its Python work was counted",),
        reduced=True,
    ),
    Attack(
        "trace_memo_dummy",
        LOOP_CHECKS,
        # The dummy is not the reference's value; the rerun in a fresh process remembers
        # nothing and computes the real one.
        ("counted: answering with a dummy", "was 0 while counted and"),
        reduced=True,
    ),
    Attack(
        "trace_lines_off",
        LOOP_CHECKS,
        # C calls are counted whatever the frame's flags; a frame returning with its line
        # events off makes the count untrusted.
        ("more Python line/call events for 64 samples", "could not be measured"),
        reduced=True,
    ),
    Attack(
        "trace_thread_loop",
        LOOP_CHECKS,
        ("thread refused: can't start new thread: student code may not start threads",),
        reduced=True,
    ),
    Attack(
        "trace_forged_frame",
        LOOP_CHECKS,
        ("forged a reply frame for call",),
        reduced=True,
        hole=(
            "the trace count is made inside the student's process: a reply frame written "
            "to the reply pipe can carry any count (README: what the loop check is worth)"
        ),
    ),
    Attack(
        "memory_fork_aggregate",
        checks(("svm_naive",)) | {"svm_vec_matches_naive"},
        exact=False,
    ),
    # A stub's forged results (the Gradescope bundle runs them too, test_gradescope.py).
    Attack("results_daemon", EVERY_CHECK, ("fork: ",), reduced=True),
    Attack("results_direct_write", EVERY_CHECK, ("results.json: ",), reduced=True),
    # Its nbgrader run, with the gradebook's path, is in test_nbgrader.py.
    Attack("gradebook_rewrite", EVERY_CHECK, ("gradebook grade_cells: ", "fork: "), reduced=True),
    # Attacks on the trusted side, before any sandbox: the folder's shape is the attack
    # (its layout.yaml), so every layer must refuse it the same way.
    Attack("link_to_reference", EVERY_CHECK, ("is a symbolic link",), reduced=True),
    Attack("link_under_folder", EVERY_CHECK, ("work (a symbolic link, not read)",), reduced=True),
    Attack("hard_link_to_course_file", EVERY_CHECK, ("is a hard link",), reduced=True),
    Attack("fifo_named_losses", EVERY_CHECK, ("is a named pipe (FIFO)",), reduced=True),
    Attack("oversize_file", EVERY_CHECK, ("the limit is 1048576 bytes",), reduced=True),
)
BY_NAME = {a.name: a for a in ATTACKS}
LAYER_ATTACKS = {FULL: [a.name for a in ATTACKS], REDUCED: [a.name for a in ATTACKS if a.reduced]}


def test_every_hostile_folder_is_graded_and_documented() -> None:
    folders = sorted(p.name for p in HOSTILE.iterdir() if p.is_dir())
    assert folders == sorted(BY_NAME)
    for name in folders:
        layout = HOSTILE / name / LAYOUT_NAME
        if layout.is_file():
            assert layout.read_text().startswith(f"# Hostile submission ``{name}``"), name
            assert yaml.safe_load(layout.read_text()), name
            continue
        text = (HOSTILE / name / "losses.py").read_text()
        assert text.startswith(f'"""Hostile submission ``{name}``'), name
        compile(text, name, "exec")


# -- running a batch ------------------------------------------------------------------------


@dataclass
class Listener:
    """An accomplice on 127.0.0.1 (TCP and UDP) and an abstract unix socket; never accepts
    on its own, so anything that reached it is still queued when ``drain`` looks."""

    tcp: socket.socket
    udp: socket.socket | None
    unix: socket.socket
    port: int
    received: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> Listener:
        tcp = socket.create_server(("127.0.0.1", 0), backlog=64)
        port = tcp.getsockname()[1]
        udp: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        assert udp is not None
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            udp = None
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(f"\0propgrade-hostile-{port}")
        unix.listen(64)
        return cls(tcp, udp, unix, port)

    def drain(self) -> list[str]:
        """Everything that reached the listener so far."""
        sockets = [s for s in (self.tcp, self.udp, self.unix) if s is not None]
        while True:
            ready, _, _ = select.select(sockets, [], [], 0)
            if not ready:
                return self.received
            for sock in ready:
                if sock is self.udp:
                    data, peer = sock.recvfrom(4096)
                    self.received.append(f"udp from {peer}: {data[:80]!r}")
                    continue
                conn, peer = sock.accept()
                with conn:
                    conn.settimeout(0.5)
                    with contextlib.suppress(OSError):
                        data = conn.recv(4096)
                        self.received.append(f"connection from {peer!r}: {data[:80]!r}")

    def close(self) -> None:
        for sock in (self.tcp, self.udp, self.unix):
            if sock is not None:
                sock.close()


@dataclass
class Run:
    """One ``propgrade grade`` run and what it left behind."""

    klass: Path
    out: Path
    code: int
    stdout: str
    stderr: str

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        return {
            p.parent.name: json.loads(p.read_text())
            for p in sorted(self.out.glob("*/propgrade.json"))
        }


@dataclass
class Batch:
    layer: str
    default_layer: str
    base: Path
    students: list[str]
    hostile: Run
    clean: Run  # the same class, fresh copies and output folder, graded again
    alone: Run  # the correct submissions graded alone
    records: dict[str, dict[str, Any]]
    before: dict[str, str]  # sha256 of every watched file before the batch
    after: dict[str, str]
    output_files: dict[str, bytes]  # the hostile run's output folder, right after the batch
    survivors: list[str]
    received: list[str]
    markers: list[str]
    foreign_modules: list[str]
    canary: str
    marker: str

    def points(self, student: str) -> dict[str, float]:
        return {c["id"]: c["points"] for c in self.records[student]["checks"]}

    def failed(self, student: str) -> set[str]:
        return {c["id"] for c in self.records[student]["checks"] if c["status"] != "passed"}

    def score(self, student: str) -> float:
        return sum(self.points(student).values())


def write_config(path: Path) -> Path:
    """grading.yaml with the same checks, small limits, and paths back into the repository."""
    data = yaml.safe_load((ROOT / "grading.yaml").read_text())
    spec = data["assignments"][ASSIGNMENT]
    for key in ("solution", "release", "graders"):
        spec[key] = str(ROOT / spec[key])
    spec["limits"].update(call_seconds=CALL_SECONDS, submission_seconds=SUBMISSION_SECONDS)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lay_out(target: Path, layout: Path, values: dict[str, str]) -> None:
    """Make the entries a repository cannot hold (links, FIFOs, huge files) that
    ``layout`` describes, with the test's placeholders filled in."""
    reference = ROOT / "solutions" / ASSIGNMENT / "losses.py"

    def value(text: str) -> str:
        for key, replacement in values.items():
            text = text.replace(key, replacement)
        return text

    for name, spec in yaml.safe_load(layout.read_text()).items():
        entry = target / name
        if "symlink" in spec:
            entry.symlink_to(value(spec["symlink"]))
        elif "hardlink" in spec:
            os.link(value(spec["hardlink"]), entry)
        elif "fifo" in spec:
            os.mkfifo(entry)
        elif "padded_reference" in spec:
            text = reference.read_text()
            padding = int(spec["padded_reference"]) - len(text.encode())
            entry.write_text(text + "\n#" + "x" * max(padding, 0) + "\n")
        else:
            raise AssertionError(f"{layout}: unknown entry {spec!r}")


def make_class(klass: Path, names: Iterable[str], values: dict[str, str]) -> None:
    """Copy the submissions into ``klass``, filling in the placeholders of hostile files."""
    course_copy = klass.parent / f"{klass.name}-course-files"
    course_copy.mkdir(parents=True, exist_ok=True)
    reference_copy = course_copy / "losses.py"
    reference_copy.write_text((ROOT / "solutions" / ASSIGNMENT / "losses.py").read_text())
    values = {**values, "__HOSTILE_REFERENCE_COPY__": str(reference_copy)}
    for name in names:
        source = HOSTILE / name if name in BY_NAME else CORPUS / name
        target = klass / name
        target.mkdir(parents=True)
        if (source / LAYOUT_NAME).is_file():
            lay_out(target, source / LAYOUT_NAME, values)
            continue
        for path in sorted(source.iterdir()):
            if path.name in ("README.md", "expect.yaml"):
                continue
            text = path.read_text()
            for key, value in values.items():
                text = text.replace(key, value)
            (target / path.name.removesuffix(SHIPPED_SUFFIX)).write_text(text)


def grade(klass: Path, out: Path, config: Path) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["grade", str(klass), "-a", ASSIGNMENT, "-o", str(out), "-j", str(JOBS)]
    if os.environ.get(layer_choice.SANDBOX_ENV) == REDUCED:
        argv.append("--allow-reduced")
    code = main([*argv, "-c", str(config)], out=stdout, err=stderr)
    return Run(klass, out, code, stdout.getvalue(), stderr.getvalue())


def hashes(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders``; bytecode caches the grader writes are skipped."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _uids(pid: str) -> set[int]:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return {int(u) for u in line.split()[1:]}
    return set()


def batch_processes(needles: Iterable[str], uids: range) -> dict[int, str]:
    """Processes whose command line or cwd names one of ``needles`` (the class, output and
    scratch folders all live under the batch's base folder; the escapee's marker), and
    every process under the batch's sandbox uids."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        cwd = ""
        with contextlib.suppress(OSError):
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        process_uids = _uids(entry.name)
        if any(n in cmdline or n in cwd for n in needles) or any(u in uids for u in process_uids):
            found[int(entry.name)] = (
                f"pid {entry.name} uids {sorted(process_uids)}: {cmdline[:160]}"
            )
    return found


def kill_batch_processes(needles: list[str], uids: range) -> None:
    """SIGKILL what ``batch_processes`` finds, re-checked through a pidfd (no pid reuse)."""
    for pid in batch_processes(needles, uids):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if pid in batch_processes(needles, uids):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pidfd)


def undo_hostile_writes(folder: Path, saved: dict[str, bytes]) -> list[str]:
    """Undo what a failed containment did to ``folder``: files emptied or overwritten with
    hostile code get their saved content back, hostile files are removed. Other changes
    (an engineer editing at the same time) are left alone."""
    undone = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel, data = str(path.relative_to(folder)), path.read_bytes()
        if saved.get(rel) == data or (data and b"hostile" not in data.lower()):
            continue
        if rel in saved:
            path.write_bytes(saved[rel])
        else:
            path.unlink()
        undone.append(rel)
    return undone


def uids_in_use() -> set[int]:
    found: set[int] = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found |= _uids(entry.name)
    return found


@contextlib.contextmanager
def exclusive_uid_range() -> Iterator[range]:
    """A range of sandbox uids that no other run of this test holds and nothing runs under."""
    busy = uids_in_use()
    for index in range(UID_RANGES):
        base = UID_FIRST_BASE + index * UID_SPAN
        uids = range(base, base + UID_SPAN)
        path = Path("/tmp") / f"propgrade-test-hostile-uids-{base}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if busy & set(uids):
            os.close(fd)
            continue
        try:
            yield uids
        finally:
            os.close(fd)
        return
    pytest.skip("every sandbox uid range of this test is in use by other runs")


def run_batch(layer: str, base: Path, uids: range) -> Batch:
    names = [*LAYER_ATTACKS[layer], *CORRECT]
    config = write_config(base / "grading.yaml")
    scratch = base / "scratch"
    markers = base / "markers"
    for folder in (scratch, markers):
        folder.mkdir()
    markers.chmod(0o777)  # writable for any uid: a shipped file that ever runs can say so
    canary = f"canary-{uuid.uuid4().hex}"
    marker = f"propgrade-hostile-escapee-{uuid.uuid4().hex[:12]}"
    listener = Listener.start()

    def values(klass: Path, out: Path) -> dict[str, str]:
        return {
            "__HOSTILE_PORT__": str(listener.port),
            "__HOSTILE_OUT_DIR__": str(out),
            "__HOSTILE_CLASS_DIR__": str(klass),
            "__HOSTILE_REPO__": str(ROOT),
            "__HOSTILE_MARKER__": marker,
            "__HOSTILE_MARKER_DIR__": str(markers),
        }

    try:
        klass, out = base / "class", base / "out"
        make_class(klass, names, values(klass, out))
        watched = (klass, ROOT / "solutions", ROOT / "graders")
        before = hashes(*watched)
        survivors: dict[int, str] = {}
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PROPGRADE_CANARY", canary)
            mp.setenv(uid_slots.UID_BASE_ENV, str(uids.start))
            if layer == REDUCED:
                mp.setenv(layer_choice.SANDBOX_ENV, REDUCED)
            else:
                mp.delenv(layer_choice.SANDBOX_ENV, raising=False)
            # Scratch folders under the base folder: every worker's command line names it.
            mp.setattr(tempfile, "tempdir", str(scratch))
            default = layer_choice.default_layer().name
            hostile = grade(klass, out, config)
            survivors |= batch_processes([str(base), marker], uids)
            # A surviving escapee would start forging a second after it was spawned.
            time.sleep(ESCAPEE_GRACE_SECONDS)
            survivors |= batch_processes([str(base), marker], uids)
            after = hashes(*watched)
            output_files = snapshot(out)
            foreign = [
                name
                for name, module in list(sys.modules.items())
                if str(base) in str(getattr(module, "__file__", "") or "")
            ]
            clean_klass, clean_out = base / "rerun" / "class", base / "rerun" / "out"
            make_class(clean_klass, names, values(clean_klass, clean_out))
            clean = grade(clean_klass, clean_out, config)
            alone_klass = base / "alone" / "class"
            make_class(alone_klass, CORRECT, {})
            alone = grade(alone_klass, base / "alone" / "out", config)
            survivors |= batch_processes([str(base), marker], uids)
        received = list(listener.drain())
    finally:
        listener.close()
    return Batch(
        layer=layer,
        default_layer=default,
        base=base,
        students=sorted(names),
        hostile=hostile,
        clean=clean,
        alone=alone,
        records=hostile.records,
        before=before,
        after=after,
        output_files=output_files,
        survivors=sorted(survivors.values()),
        received=received,
        markers=sorted(p.name for p in markers.iterdir()),
        foreign_modules=foreign,
        canary=canary,
        marker=marker,
    )


class Batches:
    """Each layer's batch, run on first use and kept for the module."""

    def __init__(self, factory: pytest.TempPathFactory, uids: range) -> None:
        self.factory = factory
        self.uids = uids
        self.done: dict[str, Batch] = {}
        self.needles: list[str] = []

    def get(self, layer: str) -> Batch:
        if layer not in self.done:
            if layer == FULL:
                # Under the reduced layer the file, network and process attacks would
                # really succeed: they are run under the full layer only.
                skip_without_full_layer()
            base = self.factory.mktemp(f"hostile-{layer}")
            self.needles.append(str(base))
            self.done[layer] = batch = run_batch(layer, base, self.uids)
            self.needles.append(batch.marker)
        return self.done[layer]


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batches]:
    saved = {name: snapshot(ROOT / name) for name in ("solutions", "graders")}
    with exclusive_uid_range() as uids:
        runs = Batches(tmp_path_factory, uids)
        yield runs
        # Leftovers of a failed containment: the tests report them; here they are undone.
        kill_batch_processes(runs.needles, uids)
    for name, content in saved.items():
        for rel in undo_hostile_writes(ROOT / name, content):
            print(f"\nundid a hostile write to {name}/{rel}", file=sys.stderr)


LAYERS = [FULL, REDUCED]
ATTACK_CASES = [
    pytest.param(
        layer,
        attack.name,
        id=f"{layer}-{attack.name}",
        marks=[pytest.mark.xfail(strict=True, reason=attack.hole)] if attack.hole else [],
    )
    for layer in LAYERS
    for attack in ATTACKS
    if attack.name in LAYER_ATTACKS[layer]
]
CORRECT_CASES = [
    pytest.param(layer, name, id=f"{layer}-{name}") for layer in LAYERS for name in CORRECT
]


# -- scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_batch_is_graded_in_the_expected_sandbox_layer(
    layer: str, batches: Batches, record_property: Any
) -> None:
    batch = batches.get(layer)
    record_property(f"default_sandbox_layer_{layer}", batch.default_layer)
    assert batch.hostile.code == 0, batch.hostile.stderr[-3000:]
    assert f"sandbox: {layer}:" in batch.hostile.stderr
    assert sorted(batch.records) == batch.students
    assert {r["meta"]["sandbox"] for r in batch.records.values()} == {layer}
    assert not [s for s, r in batch.records.items() if "internal_error" in r["meta"]]
    if layer == FULL:
        assert batch.default_layer == FULL


@pytest.mark.parametrize(("layer", "name"), ATTACK_CASES)
def test_attack_scores_below_full_marks(layer: str, name: str, batches: Batches) -> None:
    batch = batches.get(layer)
    assert batch.score(name) < MAX_SCORE, f"{name} got full marks without correct code"


@pytest.mark.parametrize(("layer", "name"), ATTACK_CASES)
def test_attack_fails_exactly_the_checks_it_targets(
    layer: str, name: str, batches: Batches
) -> None:
    batch, attack = batches.get(layer), BY_NAME[name]
    record = batch.records[name]
    failed = batch.failed(name)
    assert attack.must_fail <= failed, (
        f"passed although attacked: {sorted(attack.must_fail - failed)}"
    )
    if attack.exact:
        assert failed == attack.must_fail, (
            f"collateral failures: {sorted(failed - attack.must_fail)}"
        )
    stored = json.dumps(record)
    for text in attack.evidence:
        assert json.dumps(text)[1:-1] in stored, f"no sign that the attack ran: {text!r}"
    feedback = [c["feedback"] or {} for c in record["checks"]]
    assert not [f for f in feedback if f.get("internal_error")], "the grader blamed itself"


@pytest.mark.parametrize(("layer", "name"), CORRECT_CASES)
def test_correct_submission_gets_the_same_full_marks_as_when_graded_alone(
    layer: str, name: str, batches: Batches
) -> None:
    batch = batches.get(layer)
    points = batch.points(name)
    assert batch.score(name) == MAX_SCORE, sorted(batch.failed(name))
    alone = {c["id"]: c["points"] for c in batch.alone.records[name]["checks"]}
    assert points == alone


@pytest.mark.parametrize("layer", LAYERS)
def test_scores_match_a_clean_rerun(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    clean = batch.clean.records
    assert sorted(clean) == batch.students
    for student in batch.students:
        rerun = {c["id"]: c["points"] for c in clean[student]["checks"]}
        attack = BY_NAME.get(student)
        if attack is None or attack.exact:
            assert batch.points(student) == rerun, student
        else:  # graded with a time limit per call: only what it attacks is certain to fail
            failed = {cid for cid, points in rerun.items() if points == 0}
            assert attack.must_fail <= failed, student


# Code that touches frames, tracing or threads is flagged for a person, whatever it scores.
FLAGGED_FOR_REVIEW = frozenset(
    {
        "trace_memo_dummy",
        "trace_lines_off",
        "trace_thread_loop",
        "trace_detect_dummy",
        "trace_evasion",
        "trace_tamper_naive",
        "trace_forged_frame",
    }
)


@pytest.mark.parametrize("layer", LAYERS)
def test_code_that_fights_the_grader_is_flagged_for_review_by_hand(
    layer: str, batches: Batches
) -> None:
    batch = batches.get(layer)
    table = {line.split()[0]: line for line in batch.hostile.stdout.splitlines() if line.strip()}
    report = batch.output_files["report.html"].decode()
    for student in batch.students:
        results = json.loads(batch.output_files[f"{student}/results.json"])
        flagged = results["extra_data"]["propgrade"]["review_by_hand"]
        if student in FLAGGED_FOR_REVIEW:
            assert flagged and batch.records[student]["meta"]["review"], student
            assert "REVIEW BY HAND" in table[student]
            assert f"{student}</a> (" in report
        elif student in CORRECT:
            assert not flagged and "review" not in batch.records[student]["meta"], student
    assert "Review by hand (" in report


# -- nothing forged, nothing changed ---------------------------------------------------------


def _grades_csv(data: bytes) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(data.decode()))}


def _table(stdout: str) -> dict[str, float]:
    """The score table printed by ``propgrade grade``: built from results in memory."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^(\S+)\s+([\d.]+)/([\d.]+)\s", line)
        if match:
            found[match[1]] = float(match[2])
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_output_folder_holds_only_genuine_results(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    files = batch.output_files
    expected = {"grades.csv", "report.html"} | {
        f"{s}/{name}"
        for s in batch.students
        for name in ("results.json", "propgrade.json", "feedback.html")
    }
    assert set(files) == expected
    rows = _grades_csv(files["grades.csv"])
    assert sorted(rows) == batch.students
    table = _table(batch.hostile.stdout)
    for student in batch.students:
        points = batch.points(student)
        results = json.loads(files[f"{student}/results.json"])
        record = json.loads(files[f"{student}/propgrade.json"])
        assert record["student"] == student == results["extra_data"]["propgrade"]["student"]
        tests = {t["name"].split(":")[0]: t["score"] for t in results["tests"]}
        assert tests == points
        assert results["score"] == sum(points.values()) == table[student]
        assert float(rows[student]["score"]) == results["score"]
        # A 0-point gate's cell says passed or failed; every other cell is its points.
        cells = {cid: rows[student][cid] for cid in CHECK_IDS}
        assert {c: 0.0 if v in ("passed", "failed") else float(v) for c, v in cells.items()} == (
            points
        )


@pytest.mark.parametrize("layer", LAYERS)
def test_class_folder_and_repository_files_are_unchanged(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    changed = sorted(
        p
        for p in batch.before.keys() | batch.after.keys()
        if batch.before.get(p) != batch.after.get(p)
    )
    assert not changed


@pytest.mark.parametrize("layer", LAYERS)
def test_no_process_of_the_batch_survives(layer: str, batches: Batches) -> None:
    assert batches.get(layer).survivors == []


def test_listener_accepted_nothing(batches: Batches) -> None:
    batch = batches.get(FULL)
    assert "network_exfiltration" in batch.students
    assert batch.received == []


@pytest.mark.parametrize("layer", LAYERS)
def test_grader_environment_never_reaches_an_output_file(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    leaks = []
    for path in sorted(batch.base.rglob("*")):
        if path.is_file() and path.name != "grading.yaml":
            data = path.read_bytes()
            if batch.canary.encode() in data or b"PROPGRADE_CANARY" in data:
                leaks.append(str(path))
    for run in (batch.hostile, batch.clean):
        assert batch.canary not in run.stdout + run.stderr
    assert leaks == []


@pytest.mark.parametrize("layer", LAYERS)
def test_shipped_files_are_never_loaded(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    shipped = sorted(p.name for p in (batch.hostile.klass / "shipped_extra_files").iterdir())
    assert "conftest.py" in shipped and "sitecustomize.py" in shipped  # they were there
    assert batch.markers == []
    assert batch.foreign_modules == []
    everything = b"".join(batch.output_files.values()).decode("utf-8", "replace")
    assert SHIPPED_MARKER not in everything + batch.hostile.stdout + batch.hostile.stderr


@pytest.mark.parametrize("layer", LAYERS)
def test_student_output_is_capped(layer: str, batches: Batches) -> None:
    batch = batches.get(layer)
    flood = batch.records["output_flood"]["output"]
    assert len(flood.encode()) <= OUTPUT_CAP + 200
    assert max(len(data) for data in batch.output_files.values()) < 1 << 20


# -- formerly known holes -------------------------------------------------------------------


def test_worker_processes_together_stay_within_the_memory_limit() -> None:
    skip_without_full_layer()
    # RLIMIT_AS bounds each process; the full layer lets a worker have no second process.
    limits = Limits(call_seconds=30, submission_seconds=60, memory_mb=1024)
    W, X, y = np.zeros((3, 2)), np.ones((2, 3)), np.array([0, 1])
    graded = HOSTILE / "memory_fork_aggregate" / "losses.py"
    with Worker(graded, limits, layer=bwrap_layer.BwrapLayer()) as worker:
        (outcome,) = worker.run([Call("svm_loss_naive", (W, X, y, 0.0))])
        output = worker.output()
    if not outcome.ok:
        assert outcome.failure is not None
        assert "Resource temporarily unavailable" in outcome.failure.message, output
        return
    assert isinstance(outcome.value, tuple), output
    held_mib = outcome.value[0]  # what the children held at once, in MiB
    assert isinstance(held_mib, float), output
    assert held_mib <= limits.memory_mb, output
