"""How a worker process is started and stopped.

A ``Layer`` owns both ends of a worker's life, so a stronger isolation can replace another
without touching the worker client. Two layers exist:

- ``BwrapLayer`` ("full"): bubblewrap namespaces, a filesystem view holding only what
  Python and numpy need plus the scratch copy of the graded file, and an unprivileged uid
  that no other running worker shares. Needs ``bwrap``, ``setpriv`` and root.
- ``ProcessLayer`` ("reduced"): a plain child process with rlimits. Everywhere else.

``default_layer()`` picks the strongest one that works here (``PROPGRADE_SANDBOX`` forces
one); ``propgrade doctor`` (``doctor.py``) explains the choice.

Both layers start workers for the grader through ``start_worker``: forked from a zygote
that has numpy imported already (``zygote.py``), or, with ``PROPGRADE_ZYGOTE=0`` or where
no zygote can run, as a new interpreter through ``spawn``. Either way the worker ends up
with the same isolation; the zygote only saves the interpreter start.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib
import importlib.util
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from propgrade.errors import WorkerError

# Re-exported: the layers are named by these everywhere (doctor, tests, results).
from propgrade.isolation import FULL as FULL
from propgrade.isolation import REDUCED as REDUCED
from propgrade.sandbox import scratch as scratch_dirs
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Limits

_PASSED_THROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_FILE_SIZE_LIMIT = 16 << 20
_OPEN_FILES_LIMIT = 64
_CPU_SLACK_SECONDS = 10
_EXTRA_PROCESSES = 64
# A sandboxed worker runs under a uid of its own and needs no second process or thread.
# RLIMIT_AS is per process: every extra process would multiply the memory it may hold.
_SANDBOX_PROCESSES = 1
_REAP_SECONDS = 10.0

SANDBOX_ENV = "PROPGRADE_SANDBOX"
UID_BASE_ENV = "PROPGRADE_UID_BASE"
DEFAULT_UID_BASE = 64000
DEFAULT_SLOTS = 256
SANDBOX_TMP_BYTES = 64 << 20
INSTALL_HINT = (
    "install bubblewrap (`apt-get install bubblewrap`; setpriv comes with util-linux) and "
    "run the grader as root, e.g. in a container; `propgrade doctor` shows what is missing"
)

NAMESPACE_FLAGS = (
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
)
# Host directories that, on a merged-/usr system, are symlinks into /usr.
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_PROBE_SECONDS = 30.0
_VANISH_SECONDS = 5.0
_INIT_EXIT_SECONDS = 2.0
_SLOT_LOCK_DIR = "/run/propgrade-slots"
WORKER_MAIN = Path(__file__).parent / "inside" / "worker_main.py"
# Where the full layer's zygote sees the directory holding its workers' scratch dirs.
SANDBOX_SCRATCH = "/scratch"
# The zygote's own /tmp: workers never see it (each mounts a fresh one over it).
_ZYGOTE_TMP_BYTES = 1 << 20
_ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SYS_ADMIN")


class WorkerProcess(Protocol):
    """A running worker as the worker client sees it, however the layer started it."""

    @property
    def pid(self) -> int:
        """The worker's pid in the grader's pid namespace."""
        ...

    @property
    def request_fd(self) -> int: ...

    @property
    def reply_fd(self) -> int: ...

    @property
    def stderr_fd(self) -> int: ...

    @property
    def returncode(self) -> int | None:
        """As ``Popen.returncode``: the exit status, or minus the signal; set by ``stop``."""
        ...

    def exited(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the worker to exit, without reaping it."""
        ...

    def stop(self) -> None:
        """Kill the worker and everything it started that the layer can reach, reap it,
        and free what it held (uid slot, scratch directory). The pipes stay open."""
        ...

    def close_pipes(self) -> None: ...


class Layer(Protocol):
    """An isolation strategy for worker processes."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str:
        """One sentence on what this layer contains and what it does not."""
        ...

    def start_worker(
        self, source: bytes, filename: str, module_name: str, limits: Limits
    ) -> WorkerProcess:
        """Start a worker (``worker_main.serve``) on a fresh scratch copy of ``source``."""
        ...

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` with cwd ``scratch`` and piped stdin, stdout and stderr."""
        ...

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """Stop the process and everything it started that the layer can reach; reap it."""
        ...


class PopenWorker:
    """A worker started as a new interpreter by ``Layer.spawn``."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        kill: Callable[[subprocess.Popen[bytes]], None],
        scratch: Path,
    ) -> None:
        assert popen.stdin and popen.stdout and popen.stderr, "the layer must pipe all three"
        self.popen = popen
        self._kill = kill
        self.scratch = scratch
        self.request_fd = popen.stdin.fileno()
        self.reply_fd = popen.stdout.fileno()
        self.stderr_fd = popen.stderr.fileno()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def exited(self, seconds: float) -> bool:
        # Not reaped, so that the layer can still kill the worker's process group.
        deadline = time.monotonic() + seconds
        while True:
            try:
                done = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if done is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def stop(self) -> None:
        try:
            self._kill(self.popen)
        finally:
            scratch_dirs.remove(self.scratch)

    def close_pipes(self) -> None:
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def start_by_exec(
    layer: Layer, source: bytes, filename: str, module_name: str, limits: Limits
) -> PopenWorker:
    """Start a worker as ``python -I -B worker_main.py`` in a new scratch directory."""
    scratch = scratch_dirs.make("worker")
    try:
        graded = scratch / filename
        graded.write_bytes(source)
        argv = [sys.executable, "-I", "-B", str(WORKER_MAIN), str(graded), module_name]
        argv.append(",".join(limits.imports))
        popen = layer.spawn(argv, scratch=scratch, limits=limits)
    except BaseException:
        scratch_dirs.remove(scratch)
        raise
    return PopenWorker(popen, layer.kill, scratch)


def _rlimit_list(table: dict[int, tuple[int, int]]) -> list[list[int]]:
    return [[which, soft, hard] for which, (soft, hard) in table.items()]


def _from_zygote(
    key: tuple[object, ...],
    launch: Callable[[], zygote.Launch],
    fork: Callable[[zygote.Zygote], WorkerProcess],
) -> tuple[WorkerProcess | None, str | None]:
    """(a worker forked by this process's zygote for ``key``, None), or (None, why not).

    A zygote that died is replaced, transparently; one that cannot start at all leaves
    the caller to start workers by exec, which isolates them just as well.
    """
    for _ in range(2):
        try:
            found = zygote.shared(key, launch)
        except WorkerError as exc:
            return None, exc.message
        try:
            return fork(found), None
        except zygote.ZygoteGone:
            zygote.discard(found)
    # Twice in a row, between a liveness check and a reply: a bug, not bad luck.
    raise WorkerError("the zygote died twice while starting a worker")


def worker_env(scratch: Path) -> dict[str, str]:
    """The whole environment a worker sees: nothing of the grader's leaks through."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for key in _PASSED_THROUGH_ENV:
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def rlimits(
    limits: Limits,
    *,
    is_root: bool,
    user_processes: int,
    extra_processes: int = _EXTRA_PROCESSES,
) -> dict[int, tuple[int, int]]:
    """The rlimits a worker runs under, keyed by ``resource.RLIMIT_*``."""
    memory = limits.memory_mb << 20
    cpu = int(limits.submission_seconds) + _CPU_SLACK_SECONDS
    table = {
        resource.RLIMIT_AS: (memory, memory),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_FSIZE: (_FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT),
        resource.RLIMIT_NOFILE: (_OPEN_FILES_LIMIT, _OPEN_FILES_LIMIT),
        # The soft limit sends SIGXCPU, the hard one SIGKILL a second later.
        resource.RLIMIT_CPU: (cpu, cpu + 1),
    }
    if not is_root:
        # RLIMIT_NPROC counts every process of the real uid, not just the worker's, and
        # root ignores it; so it only bounds fork bombs for an unprivileged grader.
        nproc = user_processes + extra_processes
        table[resource.RLIMIT_NPROC] = (nproc, nproc)
    return table


def count_user_processes(uid: int) -> int:
    """Processes (and threads' owners) currently run by ``uid``, from /proc."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        count += 1
    return count


def processes_of_uid(uid: int) -> list[int]:
    """Pids of every process whose real, effective, saved or fs uid is ``uid``."""
    try:
        pids = [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return []
    return processes_of_uid_among(pids, uid)


def processes_of_uid_among(pids: Iterable[int], uid: int) -> list[int]:
    """Those of ``pids`` that run with ``uid`` as any of their uids.

    Reads ``/proc/<pid>/status`` rather than the owner of ``/proc/<pid>``: a process that
    makes itself non-dumpable shows up there as owned by root.
    """
    wanted = str(uid)
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(b"Uid:"):
                if wanted in line.decode("ascii", "replace").split()[1:]:
                    found.append(pid)
                break
    return found


def _zygote_enabled(choice: bool | None) -> bool:
    # For the layers, whose ``zygote`` parameter shadows the module.
    return zygote.enabled(choice)


def _apply_rlimits(table: dict[int, tuple[int, int]]) -> Callable[[], None]:
    def apply() -> None:
        for which, (soft, hard) in table.items():
            resource.setrlimit(which, (soft, hard))

    return apply


class _ZygoteStarts:
    """Starting a worker: forked from the layer's zygote, or by exec when that is off or
    cannot work (``zygote_problem`` says why)."""

    use_zygote: bool
    zygote_problem: str | None

    def start_worker(
        self, source: bytes, filename: str, module_name: str, limits: Limits
    ) -> WorkerProcess:
        if self.use_zygote and self.zygote_problem is None:
            worker, self.zygote_problem = _from_zygote(
                self._zygote_key(limits),
                lambda: self._zygote_launch(limits),
                lambda found: self._fork(found, source, filename, module_name, limits),
            )
            if worker is not None:
                return worker
        return start_by_exec(cast(Layer, self), source, filename, module_name, limits)

    def _zygote_key(self, limits: Limits) -> tuple[object, ...]:
        raise NotImplementedError

    def _zygote_launch(self, limits: Limits) -> zygote.Launch:
        raise NotImplementedError

    def _fork(
        self,
        found: zygote.Zygote,
        source: bytes,
        filename: str,
        module_name: str,
        limits: Limits,
    ) -> WorkerProcess:
        raise NotImplementedError


class ProcessLayer(_ZygoteStarts):
    """A separate process with rlimits, a scrubbed environment and its own session.

    Contains runaway loops, memory and output; does not stop reading files, network
    access or a ``setsid`` + double-fork child escaping the process-group kill. Workers
    are forked from a zygote running as the grader's user (so a student can kill it; the
    next worker then starts a new one), or started by exec with ``zygote=False``.
    """

    name = REDUCED

    def __init__(self, *, zygote: bool | None = None) -> None:
        self.use_zygote = _zygote_enabled(zygote)
        self.zygote_problem: str | None = None  # why workers start by exec after all

    def describe(self) -> str:
        return (
            "reduced: separate process with rlimits (memory, CPU, file size, open files, "
            "no core dumps), scrubbed environment and its own process group. WARNING: file "
            "reads are NOT prevented (student code can read anything the grader's user can, "
            "including solutions/ and graders/), nor network access or setsid escapees"
        )

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        uid = os.getuid()
        is_root = uid == 0
        table = rlimits(
            limits,
            is_root=is_root,
            user_processes=0 if is_root else count_user_processes(uid),
        )
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=worker_env(scratch),
            close_fds=True,
            start_new_session=True,
            # preexec_fn is unsafe only with threads that hold locks across fork; the
            # grader spawns workers from its main thread.
            preexec_fn=_apply_rlimits(table),
        )

    def _zygote_key(self, limits: Limits) -> tuple[object, ...]:
        # One zygote per process for every reduced layer: they are all alike (each child
        # is told which imports its student code may make).
        return (REDUCED, sys.executable, tuple(sorted(worker_env(Path("/")).items())))

    def _zygote_launch(self, limits: Limits) -> zygote.Launch:
        argv = [sys.executable, "-I", "-B", str(zygote.ZYGOTE_MAIN)]
        # Same environment as every worker's, so numpy and OpenBLAS start up the same.
        return zygote.Launch(argv, env=worker_env(Path("/")), config={"mode": REDUCED})

    def _fork(
        self,
        found: zygote.Zygote,
        source: bytes,
        filename: str,
        module_name: str,
        limits: Limits,
    ) -> WorkerProcess:
        scratch = scratch_dirs.make("worker")
        try:
            (scratch / filename).write_bytes(source)
            uid = os.getuid()
            is_root = uid == 0
            table = rlimits(
                limits,
                is_root=is_root,
                user_processes=0 if is_root else count_user_processes(uid),
            )
            request = {
                "cwd": str(scratch),
                "graded": str(scratch / filename),
                "module": module_name,
                "imports": list(limits.imports),
                "env": worker_env(scratch),
                "rlimits": _rlimit_list(table),
            }
            return zygote.spawn_worker(
                found,
                request,
                group_kill=True,
                after_stop=lambda: scratch_dirs.remove(scratch),
            )
        except BaseException:
            scratch_dirs.remove(scratch)
            raise

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        # Only signal the group while the leader is unreaped: its zombie keeps the
        # group id from being reused by an unrelated process.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        # Unkillable only in uninterruptible sleep; nothing more to do from here.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_REAP_SECONDS)


# -- uid slots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """An unprivileged uid held exclusively, through a lock on ``lock_fd``, until released."""

    index: int
    uid: int
    lock_fd: int


class SlotPool:
    """Hands out uids ``uid_base + i`` so that no two live workers on the host share one.

    Exclusivity across grader processes comes from an ``flock`` per slot; the lock belongs
    to the open file, so it is dropped by the kernel if the grader dies. A slot is only
    handed out when no process runs under its uid: that skips a uid some other user has,
    and a sandbox of a crashed grader that is still being torn down.
    """

    def __init__(self, lock_dir: Path, uid_base: int, count: int) -> None:
        if uid_base < 1000 or count < 1:
            raise WorkerError(f"invalid sandbox uid range: uid_base={uid_base}, count={count}")
        self.lock_dir = lock_dir
        self.uid_base = uid_base
        self.count = count
        self._quarantined: list[int] = []

    def acquire(self) -> Slot:
        directory = self._directory()
        for index in range(self.count):
            path = os.path.join(directory, f"slot-{index}.lock")
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise WorkerError(f"cannot open the sandbox slot lock {path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise WorkerError(f"cannot lock the sandbox slot {path}: {exc}") from exc
            uid = self.uid_base + index
            if processes_of_uid(uid):
                os.close(fd)
                continue
            return Slot(index, uid, fd)
        last = self.uid_base + self.count - 1
        raise WorkerError(
            f"all {self.count} sandbox uids ({self.uid_base}-{last}) are in use",
            hint=f"run fewer jobs at once, or pick a free range with {UID_BASE_ENV}",
        )

    def release(self, slot: Slot) -> None:
        with contextlib.suppress(OSError):
            os.close(slot.lock_fd)

    def quarantine(self, slot: Slot) -> None:
        """Keep a slot locked for the rest of this process: its uid still runs something."""
        self._quarantined.append(slot.lock_fd)

    def _directory(self) -> str:
        directory = str(self.lock_dir)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        info = os.lstat(directory)
        # Anyone able to create or replace the lock files could take every slot or make
        # two graders share a uid; so the directory must be ours and closed to others.
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise WorkerError(
                f"the sandbox slot directory {directory} is not a private directory of "
                f"uid {os.geteuid()}",
                hint="remove it; propgrade recreates it with mode 0700",
            )
        return directory


def default_lock_dir() -> Path:
    if os.geteuid() == 0 and os.path.isdir("/run") and os.access("/run", os.W_OK):
        return Path(_SLOT_LOCK_DIR)
    return Path(tempfile.gettempdir()) / f"propgrade-slots-{os.geteuid()}"


def default_uid_base() -> int:
    text = os.environ.get(UID_BASE_ENV, "").strip()
    if not text:
        return DEFAULT_UID_BASE
    try:
        return int(text)
    except ValueError:
        raise WorkerError(
            f"{UID_BASE_ENV}={text!r} is not a number", hint=f"e.g. {UID_BASE_ENV}=64000"
        ) from None


def _kill_pid_of_uid(pid: int, uid: int) -> None:
    # A pidfd pins the process, so the uid check and the kill hit the same process even
    # if the pid is reused in between.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if pid in processes_of_uid_among([pid], uid):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)


def stop_uid(uid: int, seconds: float = _VANISH_SECONDS) -> bool:
    """SIGKILL every process of ``uid`` until none is left; False if some outlived ``seconds``.

    Only for a uid this process holds the slot of: everything running under it is ours.
    """
    deadline = time.monotonic() + seconds
    while True:
        pids = processes_of_uid(uid)
        if not pids:
            return True
        if time.monotonic() >= deadline:
            return False
        for pid in pids:
            _kill_pid_of_uid(pid, uid)
        time.sleep(0.005)


# -- seccomp ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeccompStatus:
    program: bytes | None  # a BPF program for ``bwrap --seccomp``, or None
    detail: str


_SECCOMP: list[SeccompStatus] = []
_ZYGOTE_SECCOMP: list[SeccompStatus] = []

# A user namespace would hand the student a full set of capabilities over namespaces of
# their own: nothing more on the host's files, but far more kernel surface to attack.
_CLONE_NEWUSER = 0x10000000


def seccomp_status() -> SeccompStatus:
    """The syscall filter for the full layer, built once per process with pyseccomp.

    Denies ``socket()`` for every family but AF_UNIX, user-namespace creation
    (``unshare``, ``setns``, ``clone(CLONE_NEWUSER)``; ``clone3`` answers ENOSYS so libc
    falls back to ``clone``), io_uring, which could issue socket operations past the
    filter, and the kernel keyrings, which would carry data from one worker to the next.
    Everything else is allowed: the filter is a second wall, the namespaces and the uid are
    the first.
    """
    if not _SECCOMP:
        _SECCOMP.append(_build_seccomp(for_zygote=False))
    return _SECCOMP[0]


def zygote_seccomp_status() -> SeccompStatus:
    """The filter bwrap puts on the full layer's zygote, under each worker's own filter.

    The same, except that ``unshare`` is allowed without CLONE_NEWUSER: a child needs it
    for its private mount, IPC and network namespaces before it installs the full filter.
    """
    if not _ZYGOTE_SECCOMP:
        _ZYGOTE_SECCOMP.append(_build_seccomp(for_zygote=True))
    return _ZYGOTE_SECCOMP[0]


def _build_seccomp(*, for_zygote: bool) -> SeccompStatus:
    try:
        seccomp: Any = importlib.import_module("pyseccomp")
    except Exception as exc:  # ImportError, or OSError when libseccomp is missing
        return SeccompStatus(None, f"pyseccomp not available ({type(exc).__name__}: {exc})")
    try:
        import socket

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        rules.add_rule(
            seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX)
        )
        newuser = seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER)
        denied = ["setns", "io_uring_setup", "io_uring_enter", "io_uring_register"]
        # Kernel keyrings are not namespaced here: a key added to a slot uid's user keyring
        # would outlive the worker and be readable by the next submission given that uid.
        denied += ["add_key", "request_key", "keyctl"]
        if for_zygote:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "unshare", newuser)
        else:
            denied.append("unshare")
        for name in denied:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", newuser)
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            program = out.read()
    except Exception as exc:
        return SeccompStatus(None, f"pyseccomp could not build the filter ({exc})")
    return SeccompStatus(program, "socket() (except AF_UNIX) and user namespaces denied")


# -- the full layer -----------------------------------------------------------------------


def python_roots(imports: Sequence[str] = ("numpy",)) -> list[str]:
    """Directories the worker's interpreter needs: its prefixes and the site dirs of the
    packages student code may import (numpy always).

    Whole site dirs, not single packages: an allowed package needs its dependencies, which
    installers put next to it, and a dependency missed here would make the full layer
    grade differently from the others. What student code may import is decided by the
    worker's import guard, the same under every layer; nothing in a site dir is secret.
    """
    roots = [sys.base_prefix, sys.prefix, os.path.dirname(sys.executable)]
    for name in dict.fromkeys(["numpy", *imports]):
        roots += _site_dirs_of(name)
    found: list[str] = []
    for root in roots:
        for path in (os.path.abspath(root), os.path.realpath(root)):
            if path not in found:
                found.append(path)
    return found


_SITE_DIR_NAMES = ("site-packages", "dist-packages")


def _site_dirs_of(package: str) -> list[str]:
    """The directories holding ``package`` (found, not imported), e.g. .../site-packages."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations is not None:
        # A package (regular or namespace): the dirs above its own. numpy's also holds
        # numpy.libs.
        found = [os.path.dirname(path) for path in spec.submodule_search_locations]
    else:
        found = [os.path.dirname(spec.origin)] if spec.origin else []
    # Only installers' folders: a name found through the grader's working directory must
    # not bind, say, the course folder with its solutions into the sandbox.
    return [path for path in found if os.path.basename(path) in _SITE_DIR_NAMES]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _View:
    """The bwrap arguments that build the sandbox's filesystem, parents before children."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.bound: list[str] = []  # destinations whose whole content is visible
        self.existing: set[str] = {"/"}  # directories that exist inside

    def visible(self, path: str) -> bool:
        return path in self.existing or any(_under(path, root) for root in self.bound)

    def _parents(self, dest: str) -> None:
        # bwrap creates missing parents with mode 0700, which the dropped uid cannot enter.
        for parent in reversed(Path(dest).parents):
            name = str(parent)
            if not self.visible(name):
                self.args += ["--perms", "0755", "--dir", name]
                self.existing.add(name)

    def mount(self, option: str, dest: str, *, before: Sequence[str] = ()) -> None:
        self._parents(dest)
        self.args += [*before, option, dest]
        self.existing.add(dest)

    def bind(self, src: str, dest: str, *, read_only: bool = True) -> None:
        if self.visible(dest):
            return
        self._parents(dest)
        self.args += ["--ro-bind" if read_only else "--bind", src, dest]
        if os.path.isdir(src):
            self.bound.append(dest)
        self.existing.add(dest)

    def symlink(self, target: str, dest: str) -> None:
        self._parents(dest)
        self.args += ["--symlink", target, dest]
        self.existing.add(dest)


class BwrapLayer(_ZygoteStarts):
    """Bubblewrap namespaces plus an unprivileged uid per worker ("full").

    The worker sees ``/usr``, the Python installation and its scratch directory, all
    read-only, a private size-capped ``/tmp``, fresh ``/proc`` and ``/dev``, no network,
    and none of the grader's environment. It runs as ``uid_base + slot`` with no
    capabilities and ``no_new_privs``, so host files readable only by root (or by the
    grader's users) stay closed even where they are visible, and RLIMIT_NPROC bounds its
    processes. ``kill`` kills the pid namespace's init, which takes every process in the
    namespace down with it, and hands the uid on only once nothing runs under it.

    ``start_worker`` forks workers from a zygote instead (unless ``zygote=False``): one
    bwrap per grading process runs it as root with only CAP_SETUID, CAP_SETGID,
    CAP_SETPCAP and CAP_SYS_ADMIN, and each child takes private mount (a fresh /tmp), IPC
    and network namespaces, drops to its slot's uid with no capabilities at all and
    installs the seccomp filter before any student code (``zygote_main.py``). The pid
    namespace is shared with the grader's other workers, so stopping a worker kills every
    process of its uid before the uid is handed on.
    """

    name = FULL

    def __init__(
        self,
        *,
        bwrap: str | None = None,
        setpriv: str | None = None,
        uid_base: int | None = None,
        slots: int = DEFAULT_SLOTS,
        lock_dir: Path | None = None,
        seccomp: bool = True,
        tmp_bytes: int = SANDBOX_TMP_BYTES,
        zygote: bool | None = None,
        processes: int = _SANDBOX_PROCESSES,
    ) -> None:
        found_bwrap = bwrap or shutil.which("bwrap")
        if not found_bwrap:
            raise WorkerError("bwrap (bubblewrap) was not found on PATH", hint=INSTALL_HINT)
        found_setpriv = setpriv or shutil.which("setpriv")
        if not found_setpriv:
            raise WorkerError("setpriv (util-linux) was not found on PATH", hint=INSTALL_HINT)
        if os.geteuid() != 0:
            # Without root, bwrap can only map the grader's own uid into a user namespace;
            # the worker would then have every file permission the grader has.
            raise WorkerError(
                f"the full sandbox needs root to run workers under their own uid "
                f"(running as uid {os.geteuid()})",
                hint=INSTALL_HINT,
            )
        self.bwrap = found_bwrap
        self.setpriv = found_setpriv
        self.pool = SlotPool(
            lock_dir or default_lock_dir(),
            default_uid_base() if uid_base is None else uid_base,
            slots,
        )
        self.tmp_bytes = tmp_bytes
        self.processes = processes  # RLIMIT_NPROC of the worker's uid
        self.seccomp = seccomp_status() if seccomp else SeccompStatus(None, "disabled")
        self._running: dict[int, Slot] = {}
        self._lock = threading.Lock()
        self.use_zygote = _zygote_enabled(zygote)
        self.zygote_problem: str | None = None  # why workers start by exec after all

    def describe(self) -> str:
        last = self.pool.uid_base + self.pool.count - 1
        if self.seccomp.program is not None:
            network = (
                "no network (a network namespace with only its own loopback; seccomp denies "
                "socket() except AF_UNIX)"
            )
        else:
            network = (
                "no network (a network namespace with only its own loopback; socket() is not "
                f"filtered: {self.seccomp.detail})"
            )
        if self.use_zygote and self.zygote_problem is None:
            namespaces = (
                "forked from a zygote in bubblewrap: its own network, IPC and mount "
                "namespaces, pid and UTS namespaces shared only with this grader's workers"
            )
        else:
            namespaces = "bubblewrap with its own pid, network, IPC and UTS namespaces"
        return (
            f"full: {namespaces}; sees only "
            "/usr, the Python installation and its scratch copy (read-only) and a private "
            f"{self.tmp_bytes >> 20} MiB /tmp; runs as an unprivileged uid of its own "
            f"({self.pool.uid_base}-{last}) without capabilities, with rlimits on memory, "
            f"CPU, files and processes; {network}; killing it stops every process it started"
        )

    def uid_of(self, process: subprocess.Popen[bytes]) -> int | None:
        """The uid the worker behind ``process`` runs as, while it holds its slot."""
        with self._lock:
            slot = self._running.get(process.pid)
        return None if slot is None else slot.uid

    def command(
        self,
        argv: Sequence[str],
        *,
        scratch: Path,
        uid: int,
        seccomp_fd: int | None = None,
        imports: Sequence[str] = ("numpy",),
    ) -> list[str]:
        """The bwrap command line that runs ``argv`` as ``uid`` with ``scratch`` as cwd."""
        scratch_path = os.path.abspath(scratch)
        command = self._sandbox(
            argv,
            binds=[(scratch_path, scratch_path)],
            chdir=scratch_path,
            tmp=("1777", self.tmp_bytes),
            imports=imports,
        )
        if seccomp_fd is not None:
            command += ["--seccomp", str(seccomp_fd)]
        command += [
            "--",
            self.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            *argv,
        ]
        return command

    def zygote_command(
        self,
        argv: Sequence[str],
        *,
        scratch_root: Path,
        seccomp_fd: int | None = None,
        imports: Sequence[str] = ("numpy",),
    ) -> list[str]:
        """The bwrap command line that runs the zygote ``argv`` as root with few capabilities.

        ``scratch_root`` appears read-only at ``SANDBOX_SCRATCH``; the zygote's own /tmp is
        tiny and closed, since each worker mounts a fresh one of ``tmp_bytes`` over it.
        """
        command = self._sandbox(
            argv,
            binds=[(os.path.abspath(scratch_root), SANDBOX_SCRATCH)],
            chdir="/",
            tmp=("0755", _ZYGOTE_TMP_BYTES),
            files=[str(WORKER_MAIN)],
            imports=imports,
        )
        # As real root, bwrap otherwise leaves every capability to the sandboxed process.
        command += ["--cap-drop", "ALL"]
        for cap in _ZYGOTE_CAPS:
            command += ["--cap-add", cap]
        if seccomp_fd is not None:
            command += ["--seccomp", str(seccomp_fd)]
        return [*command, "--", *argv]

    def _sandbox(
        self,
        argv: Sequence[str],
        *,
        binds: Sequence[tuple[str, str]],
        chdir: str,
        tmp: tuple[str, int],
        files: Sequence[str] = (),
        imports: Sequence[str] = ("numpy",),
    ) -> list[str]:
        """bwrap, its namespaces, the environment and the filesystem view, up to the caps."""
        home = binds[0][1] if binds else "/"
        command = [self.bwrap, *NAMESPACE_FLAGS, "--clearenv"]
        for key, value in worker_env(Path(home)).items():
            command += ["--setenv", key, value]
        view = _View()
        view.bind("/usr", "/usr")
        for name in _ROOT_LINKS:
            host = "/" + name
            if os.path.islink(host):
                view.symlink(os.readlink(host), host)
            elif os.path.isdir(host):
                view.bind(host, host)
        if os.path.exists("/etc/ld.so.cache"):
            view.mount("--dir", "/etc", before=("--perms", "0755"))
            view.bind("/etc/ld.so.cache", "/etc/ld.so.cache")
        view.mount("--proc", "/proc")
        view.mount("--dev", "/dev")
        view.mount("--tmpfs", "/tmp", before=("--perms", tmp[0], "--size", str(tmp[1])))
        for root in sorted(python_roots(imports), key=len):
            if os.path.isdir(root):
                view.bind(os.path.realpath(root), root)
        # Programs named in argv (the worker's main script), and ``files``: each file
        # alone, read-only.
        sources = [src for src, _ in binds]
        for arg in [*argv, *files]:
            path = os.path.abspath(arg)
            if (
                os.path.isabs(arg)
                and os.path.isfile(arg)
                and not any(_under(path, src) for src in sources)
            ):
                view.bind(os.path.realpath(arg), path)
        if not view.visible(os.path.abspath(self.setpriv)):
            view.bind(os.path.realpath(self.setpriv), os.path.abspath(self.setpriv))
        # Read-only: the worker needs nothing written there, and writes to a tmpfs with a
        # size cap cannot fill the host's disk.
        for src, dest in binds:
            view.bind(src, dest)
        return [*command, *view.args, "--chdir", chdir]

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        slot = self.pool.acquire()
        seccomp_fd: int | None = None
        try:
            _share_with_group(scratch, slot.uid)
            if self.seccomp.program is not None:
                seccomp_fd = _pipe_holding(self.seccomp.program)
            command = self.command(
                argv, scratch=scratch, uid=slot.uid, seccomp_fd=seccomp_fd, imports=limits.imports
            )
            # bwrap itself runs as root and ignores RLIMIT_NPROC; the limits pass through
            # exec to the worker, where its uid is the only one counted. The count starts
            # at zero because the slot's uid runs nothing else.
            table = rlimits(limits, is_root=False, user_processes=0, extra_processes=self.processes)
            popen = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=scratch,
                env=worker_env(scratch),
                close_fds=True,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
                start_new_session=True,
                # preexec_fn is unsafe only with threads that hold locks across fork; the
                # grader spawns workers from its main thread.
                preexec_fn=_apply_rlimits(table),
            )
        except BaseException:
            self.pool.release(slot)
            raise
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        with self._lock:
            self._running[popen.pid] = slot
        return popen

    def _zygote_key(self, limits: Limits) -> tuple[object, ...]:
        # Layers configured alike share a zygote: default_layer() makes a new instance
        # per call, and a zygote per instance would start one per submission. The view
        # differs only where an allowed package lives outside the Python installation.
        return (
            FULL,
            tuple(python_roots(limits.imports)),
            self.bwrap,
            sys.executable,
            self.pool.uid_base,
            self.pool.count,
            self.tmp_bytes,
            self.seccomp.program,
            tuple(sorted(worker_env(Path(SANDBOX_SCRATCH)).items())),
        )

    def _zygote_launch(self, limits: Limits) -> zygote.Launch:
        root = scratch_dirs.make("zygote")
        seccomp_fd: int | None = None
        try:
            # Workers may pass through to their own directory but not list the others.
            os.chmod(root, 0o711)
            outer = zygote_seccomp_status() if self.seccomp.program is not None else None
            if outer is not None and outer.program is not None:
                seccomp_fd = _pipe_holding(outer.program)
            argv = [sys.executable, "-I", "-B", str(zygote.ZYGOTE_MAIN)]
            command = self.zygote_command(
                argv, scratch_root=root, seccomp_fd=seccomp_fd, imports=limits.imports
            )
        except BaseException:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
            scratch_dirs.remove(root)
            raise
        program = self.seccomp.program
        config = {
            "mode": FULL,
            "uid_min": self.pool.uid_base,
            "uid_max": self.pool.uid_base + self.pool.count - 1,
            "tmp_bytes": self.tmp_bytes,
            "seccomp": None if program is None else program.hex(),
        }
        return zygote.Launch(
            command,
            env=worker_env(Path(SANDBOX_SCRATCH)),
            config=config,
            pass_fds=() if seccomp_fd is None else (seccomp_fd,),
            scratch_root=root,
        )

    def _fork(
        self,
        found: zygote.Zygote,
        source: bytes,
        filename: str,
        module_name: str,
        limits: Limits,
    ) -> WorkerProcess:
        root = found.launch.scratch_root
        assert root is not None, "a full-layer zygote has a scratch root"
        slot = self.pool.acquire()
        scratch: Path | None = None
        try:
            # Created here, by the trusted side, where the zygote's sandbox sees it.
            try:
                scratch = Path(tempfile.mkdtemp(prefix="w-", dir=root))
            except FileNotFoundError:
                # Removed under it (a cleaned temp dir): this zygote can serve no one.
                raise zygote.ZygoteGone(f"the zygote's scratch root {root} is gone") from None
            (scratch / filename).write_bytes(source)
            _share_with_group(scratch, slot.uid)
            inside = f"{SANDBOX_SCRATCH}/{scratch.name}"
            # RLIMIT_NPROC counts the slot's uid only, which runs nothing else yet.
            table = rlimits(limits, is_root=False, user_processes=0, extra_processes=self.processes)
            request = {
                "cwd": inside,
                "graded": f"{inside}/{filename}",
                "module": module_name,
                "imports": list(limits.imports),
                "uid": slot.uid,
                "gid": slot.uid,
                "env": worker_env(Path(inside)),
                "rlimits": _rlimit_list(table),
            }
            made = scratch
            return zygote.spawn_worker(
                found,
                request,
                group_kill=False,
                after_stop=lambda: self._free(slot, made),
            )
        except BaseException:
            if scratch is None:
                self.pool.release(slot)
            else:
                # A child may have been forked, and run, under the slot's uid.
                self._free(slot, scratch)
            raise

    def _free(self, slot: Slot, scratch: Path) -> None:
        # The worker is reaped; whatever else still runs under its uid (a setsid +
        # double-fork escapee) is killed now, before the uid goes to the next worker.
        try:
            if stop_uid(slot.uid):
                self.pool.release(slot)
            else:
                self.pool.quarantine(slot)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.returncode is None:
            # Kill the namespace's init (bwrap's child) first, so that bwrap reaps it and
            # then exits. Killing bwrap first orphans that init to the host's pid 1, which
            # in a container often never reaps it: a zombie per worker.
            for child in _children_of(process.pid):
                _kill_child_of(child, process.pid)
            try:
                process.wait(timeout=_INIT_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_REAP_SECONDS)
        code = process.returncode
        if code is not None and 128 < code < 128 + signal.NSIG:
            # bwrap reports a worker killed by signal N as exit status 128 + N; restore
            # the signal so the failure message can name it (SIGKILL, SIGXCPU, ...).
            process.returncode = 128 - code
        with self._lock:
            slot = self._running.pop(process.pid, None)
        if slot is None:
            return
        # The namespace dies with bwrap, but asynchronously; the uid is handed to the next
        # worker only once nothing runs under it any more.
        if stop_uid(slot.uid):
            self.pool.release(slot)
        else:
            self.pool.quarantine(slot)


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        pass
    # Kernels without CONFIG_PROC_CHILDREN: find them by parent pid.
    children = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and _parent_of(int(entry.name)) == pid:
                children.append(int(entry.name))
    return children


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The command name may hold spaces and parentheses; fields resume after the last ")".
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _kill_child_of(pid: int, parent: int) -> None:
    # The pidfd pins the process: if it is no longer ``parent``'s child, its pid may have
    # been reused, and it is left alone.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _parent_of(pid) == parent:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)


def _share_with_group(scratch: Path, gid: int) -> None:
    """Let the worker's gid, and only it, read the scratch directory and its files."""
    os.chown(scratch, -1, gid)
    os.chmod(scratch, 0o750)
    for entry in os.scandir(scratch):
        if entry.is_file(follow_symlinks=False):
            os.chown(entry.path, -1, gid, follow_symlinks=False)
            os.chmod(entry.path, 0o640)


def _pipe_holding(data: bytes) -> int:
    """A pipe's read end from which ``data`` can be read to EOF without a writer waiting."""
    read_fd, write_fd = os.pipe()
    try:
        if len(data) >= 65536:
            raise WorkerError(f"the seccomp program is too large for a pipe ({len(data)} bytes)")
        os.write(write_fd, data)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return read_fd


# -- choosing a layer ---------------------------------------------------------------------


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
