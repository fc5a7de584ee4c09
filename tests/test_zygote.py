"""Workers forked from a zygote: as isolated as started ones, and nothing outlives anything.

The worker boundary itself (calls, crashes, timeouts, hostile values) is covered by
test_worker.py and test_sandbox_full.py, which run with and without the zygote. This
module covers what is new: that workers really come from one long-lived zygote, that a
student cannot touch that zygote or leave anything behind for the next student, and that
zygotes follow their grading process (forked pools, exit, a killed grader).
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from conftest import MISSING, full_layer_missing

from propgrade.errors import WorkerError
from propgrade.sandbox import (
    bwrap_layer,
    landlock,
    layers,
    process_layer,
    processes,
    seccomp,
    zygote,
)
from propgrade.sandbox.calls import Call, CallOutcome, FailureKind, Limits
from propgrade.sandbox.worker import Worker

pytestmark = pytest.mark.sandbox

FAST = Limits(call_seconds=2.0, submission_seconds=60.0, memory_mb=1024, output_bytes=4096)
REDUCED, FULL = layers.REDUCED, layers.FULL


_MISSING = full_layer_missing()
needs_full = pytest.mark.skipif(bool(_MISSING), reason=f"{MISSING}{_MISSING}")
LAYERS = [
    pytest.param(REDUCED, id=REDUCED),
    pytest.param(FULL, id=FULL, marks=needs_full),
]

MakeWorker = Callable[..., Worker]
_LAYERS: dict[str, layers.Layer] = {}


def layer_named(name: str) -> layers.Layer:
    """One layer instance per kind for the module, with the zygote on (whatever the
    environment says: this module is about the zygote). The full layer leaves room for a
    few processes so that escapees can be tested; by default a worker may not fork."""
    if name not in _LAYERS:
        made: layers.Layer = (
            bwrap_layer.BwrapLayer(zygote=True, processes=64)
            if name == FULL
            else process_layer.ProcessLayer(zygote=True)
        )
        _LAYERS[name] = made
    return _LAYERS[name]


@pytest.fixture
def make_worker(tmp_path: Path) -> Iterator[MakeWorker]:
    workers: list[Worker] = []

    def make(layer: str, source: str, limits: Limits = FAST) -> Worker:
        path = tmp_path / f"losses{len(workers)}" / "losses.py"
        path.parent.mkdir()
        path.write_text(textwrap.dedent(source))
        worker = Worker(path, limits, layer=layer_named(layer))
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def parent_of(pid: int) -> int:
    return int(stat_fields(pid)[1])


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return {
            key: value.strip()
            for key, value in (line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        }


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def started_zygote_of(worker: Worker) -> int:
    """The host pid of the zygote that forked ``worker`` (the worker's parent)."""
    assert worker.start().ok
    assert worker.pid is not None
    parent = parent_of(worker.pid)
    assert "zygote_main.py" in cmdline(parent)
    return parent


def zygote_object_of(worker: Worker) -> zygote.Zygote:
    """The ``Zygote`` (of this process) that forked ``worker``."""
    parent = started_zygote_of(worker)
    [found] = [z for z in zygote.running() if z.zygote_pid == parent]
    return found


def message(outcome: CallOutcome) -> str:
    assert outcome.failure is not None, f"expected a failure, got {outcome.value!r}"
    return outcome.failure.message


SIMPLE = """
import os, random, stat
import numpy as np

def add(a, b):
    return a + b

def whoami():
    return os.getuid(), os.getppid()

def descriptors():
    kinds = []
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            mode = os.fstat(int(name)).st_mode
        except OSError:
            continue  # the directory listing's own descriptor
        # Numbers: strings do not cross the boundary. 0 char device, 1 pipe, 2 other.
        kinds.append(0 if stat.S_ISCHR(mode) else 1 if stat.S_ISFIFO(mode) else 2)
    return tuple(kinds)

def draw():
    return float(np.random.rand()), random.random()
"""


# -- workers come from one zygote ---------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_workers_are_forked_from_one_long_lived_zygote(layer: str, make_worker: MakeWorker) -> None:
    parents, pids, draws = set(), set(), set()
    for _ in range(4):
        worker = make_worker(layer, SIMPLE)
        parents.add(started_zygote_of(worker))
        assert worker.pid is not None
        pids.add(worker.pid)
        # Forked, not started: the worker still runs the zygote's program.
        assert "zygote_main.py" in cmdline(worker.pid)
        added, fds, drawn = worker.run(
            [Call("add", (2, 3)), Call("descriptors", ()), Call("draw", ())]
        )
        assert added.value == 5
        # Its pipes (fd 0 is /dev/null) and nothing else: above all not the zygote's socket.
        assert fds.value == (0, 1, 1, 1, 1)
        draws.add(drawn.value)
        worker.close()
    assert len(parents) == 1 and len(pids) == 4
    # Seeded afresh in every worker, as in a new process, not copied from the zygote.
    assert len(draws) == 4
    assert layer_named(layer).zygote_problem is None  # type: ignore[attr-defined]


@needs_full
def test_worker_runs_without_privileges_under_another_uid_than_the_zygote(
    make_worker: MakeWorker,
) -> None:
    worker = make_worker(FULL, SIMPLE)
    zygote_pid = started_zygote_of(worker)
    assert worker.pid is not None
    mine, theirs = status(worker.pid), status(zygote_pid)
    [outcome] = worker.run([Call("whoami", ())])
    assert isinstance(outcome.value, tuple)
    uid = outcome.value[0]
    assert isinstance(uid, int) and uid >= 1000
    assert mine["Uid"].split() == [str(uid)] * 4 and mine["Gid"].split() == [str(uid)] * 4
    assert mine["Groups"] == ""
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(mine[caps], 16) == 0, caps
    assert mine["NoNewPrivs"] == "1"
    if seccomp.seccomp_status().program is not None:
        assert mine["Seccomp"] == "2"
    # The zygote: root inside the sandbox, with the four capabilities it needs and an
    # empty bounding set (nothing more can be gained, not even through an exec).
    assert theirs["Uid"].split() == ["0"] * 4
    wanted = sum(1 << n for n in (6, 7, 8, 21))  # SETGID, SETUID, SETPCAP, SYS_ADMIN
    assert int(theirs["CapEff"], 16) == wanted and int(theirs["CapPrm"], 16) == wanted
    assert int(theirs["CapBnd"], 16) == 0
    assert theirs["NoNewPrivs"] == "1"


ATTACK = """
import ctypes, errno, os, signal

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long

def _errno(call):
    try:
        call()
    except OSError as exc:
        return exc.errno
    return 0

def attack():
    zygote = os.getppid()
    kill_parent = _errno(lambda: os.kill(zygote, signal.SIGKILL))
    stop_parent = _errno(lambda: os.kill(zygote, signal.SIGSTOP))
    killed = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            if _errno(lambda: os.kill(int(name), signal.SIGKILL)) == 0:
                killed.append(int(name))
    ptraced = []
    for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
        result = libc.ptrace(ctypes.c_long(request), ctypes.c_long(zygote), None, None)
        ptraced.append(ctypes.get_errno() if result == -1 else 0)
    memory = _errno(lambda: open(f"/proc/{zygote}/mem", "rb").read(1))
    descriptors = _errno(lambda: os.listdir(f"/proc/{zygote}/fd"))
    try:
        os.kill(-1, signal.SIGKILL)  # everything this uid may signal: nothing but itself
    except OSError:
        pass
    return kill_parent, stop_parent, tuple(killed), tuple(ptraced), memory, descriptors
"""


@needs_full
def test_a_student_cannot_signal_ptrace_or_read_the_zygote(make_worker: MakeWorker) -> None:
    worker = make_worker(FULL, ATTACK)
    zygote_pid = started_zygote_of(worker)
    [outcome] = worker.run([Call("attack", ())])
    assert outcome.ok, outcome.failure
    kill_parent, stop_parent, killed, ptraced, memory, descriptors = outcome.value  # type: ignore[misc]
    assert (kill_parent, stop_parent) == (1, 1)  # EPERM
    assert killed == ()
    assert ptraced == (1, 1)
    assert memory == 13 and descriptors == 13  # EACCES
    worker.close()
    assert alive(zygote_pid) and stat_fields(zygote_pid)[0] != "T"
    # The next submission still starts from the very same zygote.
    after = make_worker(FULL, SIMPLE)
    assert started_zygote_of(after) == zygote_pid
    assert after.run([Call("add", (1, 1))])[0].value == 2


LEAVER = """
import ctypes, os, signal, socket, time

libc = ctypes.CDLL(None, use_errno=True)
SHM_KEY = 0x5EED

def leave_traces():
    with open("/tmp/left-behind", "w") as f:
        f.write("answers")
    segment = libc.shmget(SHM_KEY, 4096, 0o1666)  # IPC_CREAT, readable by everyone
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\\0propgrade-left-behind")
    listener.listen(1)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            libc.prctl(4, 0)  # not dumpable: /proc shows it as root's
            time.sleep(600)  # holds the listener
        os._exit(0)
    os.waitpid(pid, 0)
    listener.close()
    return os.getuid(), segment

def find_traces(uid):
    others = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/status") as f:
                    uids = [line for line in f if line.startswith("Uid:")][0].split()[1:]
            except (OSError, IndexError):
                continue
            if str(uid) in uids:
                others.append(int(name))
    segment = libc.shmget(SHM_KEY, 0, 0)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect("\\0propgrade-left-behind")
        connected = 0
    except OSError as exc:
        connected = exc.errno
    probe.close()
    return tuple(others), os.path.exists("/tmp/left-behind"), segment, connected
"""


@needs_full
def test_nothing_of_one_submission_reaches_the_next(make_worker: MakeWorker) -> None:
    first = make_worker(FULL, LEAVER)
    zygote_pid = started_zygote_of(first)
    [left] = first.run([Call("leave_traces", ())])
    assert isinstance(left.value, tuple)
    uid, segment = left.value
    assert isinstance(uid, int) and isinstance(segment, int) and segment >= 0
    assert len(processes.processes_of_uid(uid)) == 2  # the worker and its escapee
    # A concurrent worker of the same zygote sees none of it either.
    neighbour = make_worker(FULL, LEAVER)
    assert started_zygote_of(neighbour) == zygote_pid
    [seen] = neighbour.run([Call("find_traces", (uid,))])
    assert isinstance(seen.value, tuple) and seen.value[1:] == (False, -1, 111)  # ECONNREFUSED
    neighbour.close()
    first.close()
    # Closed: everything of its uid is gone before any later worker starts.
    assert processes.processes_of_uid(uid) == []
    later = make_worker(FULL, LEAVER)
    assert started_zygote_of(later) == zygote_pid
    [found] = later.run([Call("find_traces", (uid,))])
    assert found.value == ((), False, -1, 111)


# -- statuses, respawns, a dying zygote -----------------------------------------------------


CRASHES = """
import os, signal, time

def add(a, b):
    return a + b

def exit_3():
    os._exit(3)

def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)

def oom_killed():
    os.kill(os.getpid(), signal.SIGKILL)

def spin():
    while True:
        pass
"""


@pytest.mark.parametrize("layer", LAYERS)
def test_crashes_and_timeouts_are_reported_and_respawned_from_the_zygote(
    layer: str, make_worker: MakeWorker
) -> None:
    limits = Limits(call_seconds=1.0, submission_seconds=60.0, max_failures_per_function=5)
    worker = make_worker(layer, CRASHES, limits)
    zygote_pid = started_zygote_of(worker)
    pids = [worker.pid]
    failures = []
    for name in ("exit_3", "segfault", "oom_killed", "spin"):
        [failed] = worker.run([Call(name, ())])
        failures.append(failed)
        [after] = worker.run([Call("add", (1, 2))])
        assert after.value == 3
        # A fresh worker after every crash or timeout, forked by the same zygote.
        assert worker.pid is not None and parent_of(worker.pid) == zygote_pid
        pids.append(worker.pid)
    assert len(set(pids)) == 5
    assert "the worker exited with status 3 during exit_3()" in message(failures[0])
    assert "the worker was killed by SIGSEGV (segmentation fault)" in message(failures[1])
    assert "the worker was killed by SIGKILL (out of memory?)" in message(failures[2])
    assert failures[3].failure is not None
    assert failures[3].failure.kind is FailureKind.TIMEOUT


KILL_PARENT = """
import os

def kill():
    try:
        os.kill(os.getppid(), 9)
    except OSError as exc:
        return exc.errno
    return 0
"""


def test_a_student_cannot_signal_the_zygote(make_worker: MakeWorker) -> None:
    # The reduced layer shares the grader's uid; Landlock's signal scope (ABI 6) keeps a
    # worker's signals among its own threads.
    if landlock.landlock_abi() < 6:
        pytest.skip("this kernel's Landlock cannot scope signals")
    worker = make_worker(REDUCED, KILL_PARENT)
    zygote_pid = started_zygote_of(worker)
    assert worker.run([Call("kill", ())])[0].value == errno.EPERM
    assert alive(zygote_pid)


def test_a_killed_zygote_is_replaced(make_worker: MakeWorker) -> None:
    # Where a student can kill its zygote (no Landlock signal scope), or anything else
    # does, the next worker gets a new one.
    worker = make_worker(REDUCED, SIMPLE)
    zygote_pid = started_zygote_of(worker)
    os.kill(zygote_pid, signal.SIGKILL)
    worker.close()
    deadline = time.monotonic() + 10
    while alive(zygote_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(zygote_pid)
    after = make_worker(REDUCED, SIMPLE)
    assert started_zygote_of(after) != zygote_pid
    assert after.run([Call("add", (1, 1))])[0].value == 2


@needs_full
def test_a_dead_full_zygote_is_replaced(make_worker: MakeWorker) -> None:
    worker = make_worker(FULL, SIMPLE)
    zygote_pid = started_zygote_of(worker)
    worker_pid = worker.pid
    assert worker_pid is not None
    os.kill(zygote_object_of(worker).pid, signal.SIGKILL)  # bwrap; bugs happen
    # The worker dies with its namespace; wait for that, or the call may still be answered.
    deadline = time.monotonic() + 60
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    [outcome] = worker.run([Call("add", (1, 1))])
    assert outcome.failure is not None and outcome.failure.kind is FailureKind.CRASH
    worker.close()
    after = make_worker(FULL, SIMPLE)
    assert started_zygote_of(after) != zygote_pid
    assert after.run([Call("add", (1, 1))])[0].value == 2


@needs_full
def test_the_zygote_refuses_a_forged_request_for_another_uid(make_worker: MakeWorker) -> None:
    full = zygote_object_of(make_worker(FULL, SIMPLE))
    pipes = [os.pipe() for _ in range(3)]
    fds = [pipes[0][0], pipes[1][1], pipes[2][1]]
    try:
        request = {"cwd": "/", "graded": "/x.py", "module": "m", "env": {}, "rlimits": []}
        for uid in (0, 1000, 65534):
            with pytest.raises(WorkerError, match="outside the sandbox range"):
                full.spawn({**request, "uid": uid, "gid": uid}, fds)
        with pytest.raises(WorkerError, match="needs 3 file descriptors"):
            full.spawn({**request, "uid": 64000, "gid": 64000}, fds[:1])
    finally:
        for read, write in pipes:
            os.close(read)
            os.close(write)
    assert full.alive()


# -- zygotes follow their grading process ----------------------------------------------------


_POOL_LAYER: list[layers.Layer] = []


def _worker_in_pool_child(path: str) -> tuple[int, int, list[int], list[str]]:
    # Runs in a forked pool process, like batch.py's: the layer object is inherited.
    with Worker(Path(path), FAST, layer=_POOL_LAYER[0]) as worker:
        zygote_pid = started_zygote_of(worker)
        assert worker.run([Call("add", (1, 1))])[0].value == 2
    running = zygote.running()
    roots = [str(z.launch.scratch_root) for z in running if z.launch.scratch_root]
    return os.getpid(), zygote_pid, [z.pid for z in running], roots


@pytest.mark.parametrize("layer", LAYERS)
def test_a_forked_pool_process_starts_and_closes_its_own_zygote(
    layer: str, make_worker: MakeWorker, tmp_path: Path
) -> None:
    mine = started_zygote_of(make_worker(layer, SIMPLE))
    graded = tmp_path / "pool" / "losses.py"
    graded.parent.mkdir()
    graded.write_text(SIMPLE)
    _POOL_LAYER[:] = [layer_named(layer)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        child, theirs, started, roots = pool.submit(_worker_in_pool_child, str(graded)).result()
    assert child != os.getpid() and theirs != mine
    # The pool process closed its zygote when it exited (it leaves through os._exit,
    # past atexit): the zygote is gone, reaped, and its scratch root removed.
    for pid in [theirs, *started]:
        assert not os.path.exists(f"/proc/{pid}")
    assert len(roots) == (1 if layer == FULL else 0)
    assert not any(os.path.exists(root) for root in roots)
    # And this process's zygote was left alone by the child.
    after = make_worker(layer, SIMPLE)
    assert started_zygote_of(after) == mine


_GRADER = """
import json, multiprocessing, os, sys, tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from propgrade.sandbox import bwrap_layer, layer_choice, layers, process_layer, processes, seccomp
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Call, Limits
from propgrade.sandbox.worker import Worker

SOURCE = "def add(a, b):\\n    return a + b\\n"
layers = [process_layer.ProcessLayer(zygote=True)]
if sys.argv[1] == "full":
    layers.append(bwrap_layer.BwrapLayer(zygote=True))
graded = Path(tempfile.mkdtemp()) / "losses.py"
graded.write_text(SOURCE)

def in_child(index):
    with Worker(graded, Limits(), layer=layers[index]) as worker:
        return worker.run([Call("add", (1, 1))])[0].value

context = multiprocessing.get_context("fork")
with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
    assert list(pool.map(in_child, range(len(layers)))) == [2] * len(layers)
# Left running on purpose: exit (or a SIGKILL) must still take them down.
running = [Worker(graded, Limits(), layer=layer) for layer in layers]
for worker in running:
    assert worker.start().ok
roots = [str(z.launch.scratch_root) for z in zygote.running() if z.launch.scratch_root]
print(json.dumps(roots), flush=True)
if sys.argv[2] == "sigkill":
    sys.stdin.readline()  # until killed
"""

_SUBREAPER = """
import ctypes, json, os, subprocess, sys, time

# Orphans of the grader come to us instead of to pid 1: whatever outlives it shows here.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
grader = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
)
ready = grader.stdout.readline().strip()
if sys.argv[3] == "sigkill":
    grader.kill()
grader.wait()
grader.stdin.close()
grader.stdout.close()

def children():
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    command = f.read().replace(b"\\0", b" ").decode()[:150]
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] not in ("Z", "X"):
                found.append(f"{entry.name}: {command}")
    return found

deadline = time.monotonic() + float(sys.argv[4])
while True:
    while True:  # reap the orphans that died
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    left = children()
    if not left or time.monotonic() > deadline:
        break
    time.sleep(0.02)
print(json.dumps({"ready": ready, "left": left}))
"""


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_zygote_bwrap_or_worker_outlives_the_grader(ending: str) -> None:
    # "exit": the grader returns normally with workers still running (atexit closes its
    # zygotes); "sigkill": it is killed mid-run, and everything must follow it down. The
    # wait for them to go ends as soon as they are gone: a long one costs nothing when they
    # go, and a busy machine is not a leak.
    grace = 60.0
    layers = REDUCED if _MISSING else FULL
    result = subprocess.run(
        [sys.executable, "-c", _SUBREAPER, _GRADER, layers, ending, str(grace)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    roots = json.loads(report["ready"])
    assert len(roots) == (0 if _MISSING else 1), result.stderr
    assert report["left"] == []
    if ending == "exit":
        assert not any(os.path.exists(root) for root in roots)  # removed at exit
    for root in roots:  # a killed grader cannot remove its workers' scratch root
        shutil.rmtree(root, ignore_errors=True)


def test_the_zygote_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for text, expected in [("0", False), ("off", False), ("no", False), ("1", True), ("", True)]:
        monkeypatch.setenv(zygote.ZYGOTE_ENV, text)
        assert zygote.enabled() is expected
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "0")
    layer = process_layer.ProcessLayer()
    graded = tmp_path / "losses.py"
    graded.write_text(SIMPLE)
    with Worker(graded, FAST, layer=layer) as worker:
        assert worker.start().ok
        assert worker.pid is not None
        assert parent_of(worker.pid) == os.getpid()  # started by exec, not forked
        assert "worker_main.py" in cmdline(worker.pid)


def test_a_zygote_that_cannot_start_leaves_workers_to_exec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(zygote, "_FAILED", {})
    layer = process_layer.ProcessLayer(zygote=True)
    broken = [sys.executable, "-c", "raise SystemExit('no numpy here')"]
    monkeypatch.setattr(layer, "_zygote_key", lambda limits: ("broken", tmp_path))
    monkeypatch.setattr(layer, "_zygote_launch", lambda limits: zygote.Launch(broken, {}, {}))
    graded = tmp_path / "losses.py"
    graded.write_text(SIMPLE)
    for _ in range(2):
        with Worker(graded, FAST, layer=layer) as worker:
            assert worker.run([Call("add", (1, 2))])[0].value == 3
            assert worker.pid is not None and parent_of(worker.pid) == os.getpid()
    assert layer.zygote_problem is not None and "no numpy here" in layer.zygote_problem
    # Remembered for the process: another layer alike does not pay for a failed start.
    again = process_layer.ProcessLayer(zygote=True)
    monkeypatch.setattr(again, "_zygote_key", lambda limits: ("broken", tmp_path))
    with Worker(graded, FAST, layer=again) as worker:
        assert worker.start().ok
    assert again.zygote_problem == layer.zygote_problem


@needs_full
def test_a_full_zygote_whose_children_cannot_isolate_themselves_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without CAP_SYS_ADMIN no child could make its private namespaces: the zygote's
    # self-test fails before it serves anyone, and workers start by exec instead.
    monkeypatch.setattr(zygote, "_FAILED", {})
    monkeypatch.setattr(bwrap_layer, "_ZYGOTE_CAPS", ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"))
    layer = bwrap_layer.BwrapLayer(zygote=True)
    monkeypatch.setattr(layer, "_zygote_key", lambda limits: ("no-sys-admin", tmp_path))
    graded = tmp_path / "losses.py"
    graded.write_text(SIMPLE)
    with Worker(graded, FAST, layer=layer) as worker:
        [outcome] = worker.run([Call("whoami", ())])
        assert isinstance(outcome.value, tuple) and outcome.value[0] >= 1000  # type: ignore[operator]
        assert worker.pid is not None and "bwrap" in cmdline(worker.pid)
    assert layer.zygote_problem is not None and "unshare" in layer.zygote_problem
