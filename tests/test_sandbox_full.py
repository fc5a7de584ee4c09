"""The full sandbox layer (bubblewrap + a dropped uid) against hostile student code.

Needs root and bubblewrap; CI has both. A representative part of test_worker.py runs here
again under the full layer (the tests imported below use this module's ``make_worker``).
Every test runs twice: with workers forked from the zygote (the default) and started by
exec (``PROPGRADE_ZYGOTE=0``); the properties are the same.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MISSING, needs_full

# Re-run under the full layer; pytest resolves their ``make_worker`` in this module.
from test_worker import (  # noqa: F401
    FAST,
    test_a_traced_call_that_answers_differently_untraced_fails,
    test_broken_imports_give_a_failed_report,
    test_budget_exhaustion_fails_remaining_calls,
    test_exit_calls_are_crash_or_exception_and_later_calls_still_run,
    test_forged_bytes_on_the_protocol_fd_are_a_protocol_failure,
    test_infinite_loop_times_out_and_worker_respawns,
    test_memory_bomb_fails_and_the_worker_continues,
    test_normal_call_returns_float_and_array,
    test_objects_are_unsupported_not_compared,
    test_only_the_graded_file_is_visible_and_env_is_scrubbed,
    test_output_flood_is_capped_and_protocol_survives,
    test_signal_ignoring_loop_is_still_stopped,
    test_student_code_does_not_see_the_tracer_through_gettrace,
    test_trace_counts_separate_loops_from_vectorized_code,
    test_warm_worker_serves_many_runs_and_large_batches,
)

from propgrade.errors import WorkerError
from propgrade.sandbox import (
    bwrap_layer,
    layer_choice,
    layers,
    process_layer,
    processes,
    seccomp,
    uid_slots,
    zygote,
)
from propgrade.sandbox.calls import Call, CallOutcome, FailureKind, Limits
from propgrade.sandbox.worker import Worker

pytestmark = [needs_full, pytest.mark.sandbox]

MakeWorker = Callable[..., Worker]


FORKING_PROCESSES = 64


@pytest.fixture(scope="module", params=["zygote", "exec"])
def layer(request: pytest.FixtureRequest) -> bwrap_layer.BwrapLayer:
    # Room for a few processes, so the tests below can check that whatever a worker
    # starts dies with it; the default layer allows the worker no second process at all.
    return bwrap_layer.BwrapLayer(zygote=request.param == "zygote", processes=FORKING_PROCESSES)


@pytest.fixture
def make_worker(tmp_path: Path, layer: bwrap_layer.BwrapLayer) -> Iterator[MakeWorker]:
    workers: list[Worker] = []

    def make(source: str, limits: Limits = FAST, **kwargs: object) -> Worker:
        path = tmp_path / "losses.py"
        path.write_text(textwrap.dedent(source))
        kwargs.setdefault("layer", layer)
        worker = Worker(path, limits, **kwargs)  # type: ignore[arg-type]
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def kind(outcome: CallOutcome) -> FailureKind | None:
    return None if outcome.failure is None else outcome.failure.kind


def message(outcome: CallOutcome) -> str:
    assert outcome.failure is not None, f"expected a failure, got {outcome.value!r}"
    return outcome.failure.message


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose parent is ``pid``, zombies included."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append((int(entry.name), fields[0]))
    return found


def descendants_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for child in children_of(pid):
        found += [child, *descendants_of(child[0])]
    return found


def zygote_processes() -> set[int]:
    """This process's zygotes: bwrap, its pid-namespace init and the zygote itself."""
    pids = set()
    for running in zygote.running():
        pids.add(running.pid)
        pids |= {pid for pid, _ in descendants_of(running.pid)}
    return pids


def _python_helper(pid: int) -> bool:
    """multiprocessing's resource tracker or forkserver: started for this test process by
    an earlier test (a Dask LocalCluster), they live as long as it does and are no worker."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return False
    return b"from multiprocessing." in cmdline


def assert_nothing_left(uid: int) -> None:
    assert processes.processes_of_uid(uid) == []
    # Only zygotes may remain: no worker, no zombie, no bwrap of a closed worker.
    zygotes = zygote_processes()
    assert [
        c for c in children_of(os.getpid()) if c[0] not in zygotes and not _python_helper(c[0])
    ] == []
    assert all(state != "Z" for pid, state in descendants_of(os.getpid()) if pid in zygotes)


PROBE = """
import errno, os

def uid():
    return os.getuid(), os.getgid(), tuple(os.getgroups())

def read(path):
    try:
        with open(path, "rb") as f:
            return len(f.read())
    except OSError as exc:
        return -exc.errno

def write(path):
    try:
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("pwned")
        return 0
    except OSError as exc:
        return -exc.errno
"""


# -- identity and the filesystem view -----------------------------------------------------


def test_worker_runs_as_an_unprivileged_uid_of_its_own(make_worker: MakeWorker) -> None:
    first, second = make_worker(PROBE), make_worker(PROBE)
    [a] = first.run([Call("uid", ())])
    [b] = second.run([Call("uid", ())])
    assert isinstance(a.value, tuple) and isinstance(b.value, tuple)
    (uid_a, gid_a, groups_a), (uid_b, gid_b, groups_b) = a.value, b.value
    assert uid_a >= 1000 and uid_b >= 1000 and uid_a != uid_b  # type: ignore[operator]
    assert (gid_a, gid_b) == (uid_a, uid_b)
    assert groups_a == groups_b == ()


def test_concurrent_grader_processes_never_share_a_uid(make_worker: MakeWorker) -> None:
    # Another grader process holds a worker while this one starts its own.
    # As a context manager, so that its pipes are closed too (-W error).
    with subprocess.Popen(
        [sys.executable, "-c", _OTHER_GRADER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        try:
            assert other.stdout is not None and other.stdin is not None
            other_uid = int(other.stdout.readline())
            [mine] = make_worker(PROBE).run([Call("uid", ())])
            assert isinstance(mine.value, tuple)
            assert mine.value[0] != other_uid
            other.stdin.write("done\n")
            other.stdin.flush()
            assert other.wait(timeout=30) == 0
        finally:
            other.kill()


_OTHER_GRADER = f"""
import sys, tempfile
from pathlib import Path
from propgrade.sandbox import bwrap_layer
from propgrade.sandbox.calls import Call, Limits
from propgrade.sandbox.worker import Worker

with tempfile.TemporaryDirectory() as tmp:
    graded = Path(tmp) / "losses.py"
    graded.write_text({PROBE!r})
    with Worker(graded, Limits(), layer=bwrap_layer.BwrapLayer()) as worker:
        [outcome] = worker.run([Call("uid", ())])
        print(outcome.value[0], flush=True)
        sys.stdin.readline()
"""


def test_root_only_files_stay_closed_even_where_visible(
    layer: bwrap_layer.BwrapLayer, tmp_path: Path
) -> None:
    # With a user namespace alone the sandbox's uid maps to host root and could read this.
    scratch = tmp_path / "scratch"
    vault = scratch / "vault"
    vault.mkdir(parents=True)
    vault.chmod(0o755)
    secret = vault / "secret-test-file"
    secret.write_text("root only\n")
    secret.chmod(0o600)
    assert secret.stat().st_uid == 0
    script = "import os\ntry:\n    open('vault/secret-test-file').read()\n    print('READ')\n"
    script += "except PermissionError:\n    print('DENIED', os.getuid())\n"
    argv = [sys.executable, "-I", "-S", "-c", script]
    process = layer.spawn(argv, scratch=scratch, limits=FAST)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        layer.kill(process)
    assert out.decode().split()[0] == "DENIED", err.decode()
    assert int(out.split()[1]) != 0


def test_files_outside_the_view_do_not_exist(
    make_worker: MakeWorker, tmp_path: Path, root: Path
) -> None:
    sibling = tmp_path / "secret_reference.py"
    sibling.write_text("ANSWER = 42\n")
    reference = tmp_path / "solutions" / "linear_classifiers" / "losses.py"
    reference.parent.mkdir(parents=True)
    reference.write_text("def svm_loss_naive(W, X, y, reg): ...\n")
    targets = [
        str(sibling),
        str(reference),
        str(root / "solutions" / "linear_classifiers" / "losses.py"),
        str(root / "grading.yaml"),
        str(Path(layers.__file__)),  # the grader's own code, beside inside/worker_main.py
        "/etc/passwd",
        "/root/.bash_history",
    ]
    worker = make_worker(PROBE)
    outcomes = worker.run([Call("read", (path,)) for path in targets])
    assert [o.value for o in outcomes] == [-errno.ENOENT] * len(targets)
    # Not even the original of the graded file: only its copy in the scratch directory.
    original, copy = worker.run(
        [Call("read", (str(tmp_path / "losses.py"),)), Call("read", ("losses.py",))]
    )
    assert original.value == -errno.ENOENT and isinstance(copy.value, int) and copy.value > 0


def test_writes_reach_only_a_private_tmp(
    make_worker: MakeWorker, tmp_path: Path, layer: bwrap_layer.BwrapLayer
) -> None:
    outside = tmp_path / "pwned" / "note.txt"
    worker = make_worker(PROBE)
    calls = [
        Call("write", (str(outside),)),  # succeeds inside, in the sandbox's own /tmp
        Call("write", ("losses.py",)),  # the scratch copy is read-only
        Call("write", ("./new.py",)),
        Call("write", (sys.prefix + "/lib/evil.py",)),
        Call("write", ("/usr/lib/evil.py",)),
        Call("write", ("/tmp/fine.txt",)),
    ]
    values = [o.value for o in worker.run(calls)]
    assert values[1:3] == [-errno.EROFS] * 2
    # A zygote's worker mounts a fresh /tmp, and mounts a Python installed under /tmp (a
    # virtualenv in a temporary checkout) read-only again inside it.
    assert values[3] == -errno.EROFS
    assert not Path(sys.prefix, "lib", "evil.py").exists()
    assert values[4] == -errno.EROFS
    assert values[5] == 0
    assert not outside.exists() and not (tmp_path / "pwned").exists()
    assert (tmp_path / "losses.py").read_text().startswith("\nimport errno")


def test_tmp_is_capped(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import errno
        def fill():
            block = b"x" * (1 << 20)
            try:
                for i in range(1000):
                    with open(f"/tmp/fill{i}", "wb") as f:
                        for _ in range(8):
                            f.write(block)
            except OSError as exc:
                return exc.errno
            return 0
        """
    )
    [outcome] = worker.run([Call("fill", ())])
    assert outcome.value == errno.ENOSPC


# -- network ------------------------------------------------------------------------------


def test_no_connection_reaches_a_host_listener(make_worker: MakeWorker) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    worker = make_worker(
        """
        import socket
        def connect(port):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
            except OSError as exc:
                return -(exc.errno or 1)
            s.sendall(b"stolen reference")
            return 1

        def unix_pair():
            a, b = socket.socketpair()
            a.sendall(b"ok")
            return len(b.recv(2))
        """
    )
    try:
        connect, pair = worker.run([Call("connect", (port,)), Call("unix_pair", ())])
        assert isinstance(connect.value, int) and connect.value < 0
        if layer_filters_sockets():
            assert connect.value == -errno.EACCES
        assert pair.value == 2  # AF_UNIX stays usable (multiprocessing, subprocess)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def layer_filters_sockets() -> bool:
    return seccomp.seccomp_status().program is not None


@pytest.mark.skipif(not layer_filters_sockets(), reason=f"{MISSING}pyseccomp")
def test_user_namespaces_cannot_be_created(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def unshare_user():
            return libc.unshare(0x10000000), ctypes.get_errno()
        """
    )
    [outcome] = worker.run([Call("unshare_user", ())])
    assert outcome.value == (-1, errno.EPERM)


@pytest.mark.skipif(not layer_filters_sockets(), reason=f"{MISSING}pyseccomp")
def test_kernel_keyrings_are_closed(make_worker: MakeWorker) -> None:
    # Not namespaced: a key in the slot uid's user keyring would outlive the worker and
    # reach the next submission that is given the same uid.
    worker = make_worker(
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        USER_KEYRING = ctypes.c_long(-4)
        def add_key():
            r = libc.syscall(248, b"user", b"propgrade-test", b"x", 1, USER_KEYRING)
            return r, ctypes.get_errno()
        def keyctl_search():
            r = libc.syscall(250, 10, USER_KEYRING, b"user", b"propgrade-test", 0)
            return r, ctypes.get_errno()
        """
    )
    added, searched = worker.run([Call("add_key", ()), Call("keyctl_search", ())])
    assert added.value == (-1, errno.EPERM) and searched.value == (-1, errno.EPERM)


# -- processes ----------------------------------------------------------------------------


ESCAPE = PROBE + textwrap.dedent(
    """
    import signal, time

    def escape():
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                import ctypes
                ctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE 0: /proc shows it as root
                time.sleep(600)
            os._exit(0)
        os.waitpid(pid, 0)
        return 1

    def fork_bomb():
        forked = 0
        while True:
            try:
                pid = os.fork()
            except OSError:
                return forked
            if pid == 0:
                while True:  # every child keeps trying too
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.05)
            forked += 1
    """
)


def test_setsid_double_fork_escapee_is_gone_after_close(
    make_worker: MakeWorker, layer: bwrap_layer.BwrapLayer
) -> None:
    worker = make_worker(ESCAPE)
    identity, escaped = worker.run([Call("uid", ()), Call("escape", ())])
    assert escaped.value == 1 and isinstance(identity.value, tuple)
    uid = identity.value[0]
    assert isinstance(uid, int)
    alive = processes.processes_of_uid(uid)
    assert len(alive) == 2  # the worker and the escapee
    worker_pid = worker.pid
    assert worker_pid is not None
    if layer.use_zygote:
        # Forked by the zygote: the worker is the zygote's child, and the escapee, an
        # orphan, now belongs to the zygote's pid-namespace init.
        gone_after = alive
    else:
        inner = [pid for pid, _ in children_of(worker_pid)]  # bwrap's pid-namespace init
        assert inner
        gone_after = [worker_pid, *inner]
    worker.close()
    assert_nothing_left(uid)
    # Not even as zombies: an orphaned init would be left to the host's pid 1 to reap.
    for pid in gone_after:
        assert not os.path.exists(f"/proc/{pid}")


def test_fork_bomb_is_contained_and_the_next_call_works(make_worker: MakeWorker) -> None:
    # A call limit far above what the bomb needs: RLIMIT_NPROC must stop it, not the clock.
    limits = Limits(call_seconds=60.0, submission_seconds=120.0)
    worker = make_worker(ESCAPE, limits)
    identity, bomb, after = worker.run(
        [Call("uid", ()), Call("fork_bomb", ()), Call("read", ("losses.py",))]
    )
    assert isinstance(identity.value, tuple)
    uid = identity.value[0]
    assert isinstance(uid, int)
    # RLIMIT_NPROC stopped it: the worker itself plus at most the limit.
    assert isinstance(bomb.value, int) and 0 < bomb.value < FORKING_PROCESSES
    assert isinstance(after.value, int) and after.value > 0
    worker.close()
    assert_nothing_left(uid)


def test_signal_ignoring_loop_is_killed_within_the_call_timeout(make_worker: MakeWorker) -> None:
    worker = make_worker(
        """
        import signal
        def stubborn():
            for sig in range(1, signal.NSIG):
                try:
                    signal.signal(sig, signal.SIG_IGN)
                except (OSError, ValueError, RuntimeError):
                    pass
            while True:
                pass
        def ok():
            return 1
        """
    )
    worker.start()
    stubborn, ok = worker.run([Call("stubborn", ()), Call("ok", ())])
    assert kind(stubborn) is FailureKind.TIMEOUT
    assert ok.value == 1


def test_crash_by_signal_is_named(make_worker: MakeWorker) -> None:
    worker = make_worker(
        "import os, signal\ndef die():\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    [outcome] = worker.run([Call("die", ())])
    assert kind(outcome) is FailureKind.CRASH
    assert "SIGSEGV" in message(outcome)


# -- environment --------------------------------------------------------------------------


def test_environment_holds_nothing_of_the_grader(
    make_worker: MakeWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROPGRADE_SECRET", "the hidden seed")
    worker = make_worker(
        """
        import os
        def env():
            raise RuntimeError(repr(sorted(os.environ.items())))
        def find_secret():
            hits = 0
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/environ", "rb") as f:
                            hits += b"PROPGRADE_SECRET" in f.read()
                    except OSError:
                        pass
            return hits
        """
    )
    env, found = worker.run([Call("env", ()), Call("find_secret", ())])
    text = message(env)
    assert "PROPGRADE_SECRET" not in text and "hidden seed" not in text
    keys = {"PATH", "HOME", "LANG", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    for key in keys:
        assert f"('{key}'," in text
    assert found.value == 0


# -- slots --------------------------------------------------------------------------------


def test_slots_are_exclusive_and_reused_after_release(tmp_path: Path) -> None:
    pool = uid_slots.SlotPool(tmp_path / "slots", uid_base=64900, count=2)
    first, second = pool.acquire(), pool.acquire()
    assert {first.uid, second.uid} == {64900, 64901}
    other_pool = uid_slots.SlotPool(tmp_path / "slots", uid_base=64900, count=2)
    with pytest.raises(WorkerError, match="in use"):
        other_pool.acquire()
    pool.release(first)
    assert other_pool.acquire().uid == first.uid
    assert stat.S_IMODE((tmp_path / "slots").stat().st_mode) == 0o700


def test_a_slot_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    slots = tmp_path / "slots"
    slots.mkdir(mode=0o777)
    slots.chmod(0o777)
    with pytest.raises(WorkerError, match="not a private directory"):
        uid_slots.SlotPool(slots, uid_base=64900, count=1).acquire()


def test_forcing_full_uses_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "full")
    assert isinstance(layer_choice.default_layer(), bwrap_layer.BwrapLayer)
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "reduced")
    assert isinstance(layer_choice.default_layer(), process_layer.ProcessLayer)


def test_without_seccomp_the_network_namespace_alone_blocks_connections(
    tmp_path: Path,
) -> None:
    layer = bwrap_layer.BwrapLayer(seccomp=False)
    assert "socket() is not filtered" in layer.describe()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    graded = tmp_path / "losses.py"
    graded.write_text(
        "import socket\n"
        "def connect(port):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=0.5)\n"
        "    except OSError as exc:\n"
        "        return -(exc.errno or 1)\n"
        "    return 1\n"
    )
    try:
        with Worker(graded, FAST, layer=layer) as worker:
            [outcome] = worker.run([Call("connect", (listener.getsockname()[1],))])
        # The sandbox's loopback is its own: nothing listens there.
        assert outcome.value in (-errno.ECONNREFUSED, -errno.ENETUNREACH)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize("zygote", [True, False], ids=["zygote", "exec"])
def test_default_full_layer_allows_no_second_process(tmp_path: Path, zygote: bool) -> None:
    # RLIMIT_AS is per process: a worker that could fork could hold a multiple of it.
    graded = tmp_path / "losses.py"
    graded.write_text(
        "import os\n"
        "def fork():\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    return pid\n"
    )
    with Worker(graded, Limits(), layer=bwrap_layer.BwrapLayer(zygote=zygote)) as worker:
        assert worker.start().ok
        [outcome] = worker.run([Call("fork", ())])
    assert outcome.failure is not None
    assert "Resource temporarily unavailable" in outcome.failure.message


def test_warnings_read_the_same_as_in_the_reduced_layer(make_worker: MakeWorker) -> None:
    worker = make_worker(
        "import warnings\n\ndef f():\n    warnings.warn('careful')\n    return 1\n"
    )
    assert worker.run([Call("f", ())])[0].value == 1
    assert worker.output() == "losses.py:4: UserWarning: careful\n  warnings.warn('careful')\n"
