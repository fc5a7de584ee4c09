"""Runs inside the sandbox: the fork server ("zygote") that starts worker processes.

Started as ``python -I -B zygote_main.py`` with a Unix socket to the trusted side on fd 0
(``zygote.py`` holds the other end). It imports numpy and ``worker_main.py`` once, then
forks one worker per request: the child takes the three pipes the trusted side sent,
turns itself into a sandboxed worker and enters the same loop ``python -I worker_main.py``
runs. A worker start then costs a fork instead of an interpreter start plus numpy.

The zygote never reads a submission or anything else a student wrote, so nothing of one
submission can be inherited by the next: every child starts from the same clean state.

Two modes, chosen by the trusted side's first message:

- ``full``: runs as root inside bubblewrap with only CAP_SETUID, CAP_SETGID, CAP_SETPCAP
  and CAP_SYS_ADMIN. Each child gets private mount, IPC and network namespaces with a
  fresh size-capped ``/tmp`` (what a bwrap per worker gave it), drops to the slot uid the
  trusted side allocated (no groups, no capabilities, empty bounding set, no_new_privs),
  installs the seccomp filter and checks all of that in /proc before any student code.
  A student then runs under another uid than the zygote, without capabilities, so it can
  neither signal nor ptrace the zygote.
- ``reduced``: the grader's own uid, as the reduced layer always was. Each child starts a
  session of its own (the trusted side kills its process group) and dies with the zygote.

Standalone like worker_main.py (stdlib and numpy only): propgrade itself is not visible
inside the sandbox. The socket speaks JSON, one request per SOCK_SEQPACKET message, with
file descriptors as SCM_RIGHTS; every request gets exactly one reply, in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import importlib.util
import json
import os
import resource
import signal
import socket
import sys
import traceback
from types import ModuleType
from typing import Any, NoReturn

_NUMPY_LAZY_MODULES = (
    "numpy.random",
    "numpy.linalg",
    "numpy.fft",
    "numpy.polynomial",
    "numpy.ma",
    "numpy.lib.stride_tricks",
    "numpy.lib.recfunctions",
    "numpy.lib.scimath",
    "numpy.ctypeslib",
    "numpy.dtypes",
    "numpy.exceptions",
    "numpy.char",
    "numpy.rec",
    "numpy.strings",
    "numpy.testing",
)

_MAX_MESSAGE = 1 << 16
_MAX_FDS = 8

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
# Each round reaps one generation of what a worker left behind; the process filter keeps
# the tree shallow, so a deeper one is a fork race that the layer's own kill ends.
_SWEEP_ROUNDS = 64
_SECCOMP_MODE_FILTER = 2
_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_TMP_FLAGS = _MS_NOSUID | _MS_NODEV
_CAPABILITY_VERSION_3 = 0x20080522
_STATUS_ZERO_CAPS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
_SETUP_FAILED = 70

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


class _Config:
    """What the trusted side's first message fixes for every child of this zygote."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.full = message["mode"] == "full"
        self.uid_min = int(message.get("uid_min", 0))
        self.uid_max = int(message.get("uid_max", -1))
        self.tmp_options = f"size={int(message.get('tmp_bytes', 0))},mode=1777".encode()
        program = bytes.fromhex(message["seccomp"]) if message.get("seccomp") else b""
        # Built once here: the child only has to hand the kernel a pointer.
        self.seccomp_buffer = ctypes.create_string_buffer(program, len(program))
        self.seccomp = (
            _SockFprog(len(program) // 8, ctypes.cast(self.seccomp_buffer, ctypes.c_void_p))
            if program
            else None
        )


class _Zygote:
    def __init__(self, control: socket.socket, config: _Config, worker: ModuleType) -> None:
        self.control = control
        self.config = config
        self.worker = worker
        self.pid = os.getpid()
        self.children: set[int] = set()

    def serve(self) -> int:
        while True:
            try:
                data, fds, flags, _ = socket.recv_fds(self.control, _MAX_MESSAGE, _MAX_FDS)
            except ConnectionError:
                return 0
            if not data:
                # The trusted side closed its end (or died): so must we. In the full layer
                # bwrap's pid namespace takes every worker down with us.
                for fd in fds:
                    os.close(fd)
                return 0
            reply_fds: list[int] = []
            try:
                if flags & socket.MSG_CTRUNC:
                    raise ValueError("file descriptors were truncated")
                request = json.loads(data)
                if request.get("op") == "spawn":
                    reply, reply_fds = self.spawn(request, fds)
                elif request.get("op") == "reap":
                    reply = self.reap(int(request["pid"]))
                elif request.get("op") == "sweep":
                    reply = self.sweep()
                else:
                    raise ValueError(f"unknown request {request.get('op')!r}")
            except Exception as exc:  # a bad request is answered, never fatal
                reply = {"op": "error", "error": f"{type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    os.close(fd)
            try:
                socket.send_fds(self.control, [json.dumps(reply).encode()], reply_fds)
            except OSError:
                return 0
            finally:
                for fd in reply_fds:
                    os.close(fd)

    def spawn(self, request: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], list[int]]:
        if len(fds) != 3:
            raise ValueError(f"a spawn request needs 3 file descriptors, got {len(fds)}")
        if min(fds) < 3:  # 0-2 are taken here; the child's dup2 onto them must not clash
            raise ValueError(f"received file descriptors {fds} overlap the standard ones")
        uid, gid = int(request.get("uid", -1)), int(request.get("gid", -1))
        # Defence in depth: the trusted side only ever asks for its slot uids; a request
        # for root or any other uid must not become a worker even if one were forged.
        if (self.config.full or uid >= 0) and not (
            self.config.uid_min <= uid <= self.config.uid_max
            and self.config.uid_min <= gid <= self.config.uid_max
        ):
            raise ValueError(f"uid {uid} / gid {gid} is outside the sandbox range")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered here may be written twice
        pid = os.fork()
        if pid == 0:
            self._child(request, fds, uid, gid)
        self.children.add(pid)
        pidfd = os.pidfd_open(pid)
        return {"op": "spawned", "id": request.get("id"), "pid": pid}, [pidfd]

    def reap(self, pid: int) -> dict[str, Any]:
        # Children are reaped only when the trusted side asks, after it has killed what
        # it wants to kill: until then the zombie pins the pid (and in the reduced layer
        # the process group id), so a signal sent by pid can never reach a stranger.
        if pid not in self.children:
            return {"op": "reaped", "pid": pid, "returncode": None, "known": False}
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            return {"op": "reaped", "pid": pid, "returncode": None, "running": True}
        self.children.discard(pid)
        return {"op": "reaped", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)}

    def sweep(self) -> dict[str, Any]:
        """Kill and reap every child this zygote did not fork itself.

        In the reduced layer the zygote is a child subreaper: a process a worker started
        and left behind (a ``setsid`` + double-fork daemon) becomes the zygote's child
        instead of init's once its parent is gone. It is no worker, so it is killed here.

        Killing a stray hands its own children to this zygote as it dies, so the sweep
        goes on until a round finds none: a daemon whose parent was still alive when the
        first round looked is caught by the next.
        """
        killed = 0
        for _ in range(_SWEEP_ROUNDS):
            strays = [pid for pid in _own_children() if pid not in self.children]
            if not strays:
                break
            for pid in strays:
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(pid)
                    try:
                        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    finally:
                        os.close(pidfd)
            for pid in strays:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            killed += len(strays)
        return {"op": "swept", "killed": killed}

    # -- in the child ----------------------------------------------------------------------

    def _child(self, request: dict[str, Any], fds: list[int], uid: int, gid: int) -> NoReturn:
        try:
            graded, module_name = str(request["graded"]), str(request["module"])
            imports = ",".join(str(name) for name in request.get("imports", ["numpy"]))
            self._become_worker(request, fds, uid, gid)
        except BaseException:
            # Before any student code: a failure here is ours, reported on the worker's
            # stderr (or ours, if the pipes were not in place yet).
            try:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(_SETUP_FAILED)
        sys.argv = [self.worker.__file__ or "worker_main.py", graded, module_name, imports]
        self.worker.run_and_exit(lambda: self.worker.serve(graded, module_name, imports))
        os._exit(_SETUP_FAILED)  # not reached: run_and_exit never returns

    def _become_worker(self, request: dict[str, Any], fds: list[int], uid: int, gid: int) -> None:
        config = self.config
        os.setsid()
        # The worker's pipes become fds 0-2, as in a freshly started worker; every other
        # descriptor goes, above all the control socket: a student holding it could ask
        # the zygote for workers of its own.
        self.control.detach()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 1 << 20)
        if config.full:
            _private_namespaces(config)
        os.chdir(str(request["cwd"]))
        env = request["env"]
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        if not config.full and uid >= 0:
            _drop_bounding_set()  # the full layer's zygote dropped it for every child
        if config.full or uid >= 0:
            # The reduced layer as root drops to a slot uid too: one that cannot write
            # the grader's files (results, gradebook) nor signal its processes.
            _drop_to(uid, gid)
        if not config.full:
            # After the drop: a change of credentials clears the parent-death signal.
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.pid:
                raise RuntimeError("the zygote died while the worker started")
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        # The zygote is not dumpable (see main); a worker is, as after an exec, so the
        # student's own processes can inspect it as before.
        _prctl(_PR_SET_DUMPABLE, 1)
        for which, soft, hard in request["rlimits"]:
            resource.setrlimit(int(which), (int(soft), int(hard)))
        if config.seccomp is not None:
            _check(
                _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(config.seccomp)),
                "seccomp",
            )
        if config.full or uid >= 0:
            _verify_dropped(uid, gid, seccomp=config.seccomp is not None)
        # Last, just before the student's file is imported: writes outside the scratch
        # folder and (reduced layer) new processes are closed from here on.
        self.worker.confine(request.get("confine"), str(request["cwd"]))
        # The zygote imported numpy.random (see _NUMPY_LAZY_MODULES): reseed it from fresh
        # entropy, as a new process would be, instead of sharing the zygote's state.
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()


def _private_namespaces(config: _Config) -> None:
    """Fresh /tmp, SysV/POSIX IPC and network for this worker alone: with one zygote
    serving many submissions, these would otherwise be shared and outlive the worker."""
    _check(_libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWNET), "unshare")
    # Private, so the new /tmp is not propagated back into the zygote's mount namespace.
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount /")
    kept = _open_python_dirs_under_tmp()
    tmp = _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _TMP_FLAGS, config.tmp_options)
    _check(tmp, "mount /tmp")
    _bind_back(kept)


def _open_python_dirs_under_tmp() -> list[tuple[str, int]]:
    """The import path's folders under /tmp (a virtualenv in a temporary checkout), each
    with a handle that survives the fresh /tmp mounted over them."""
    found: list[tuple[str, int]] = []
    wanted = {os.path.realpath(p) for p in [sys.prefix, sys.exec_prefix, *sys.path] if p}
    for entry in sorted(wanted):
        if not entry.startswith("/tmp/") or any(entry.startswith(f + "/") for f, _ in found):
            continue
        try:
            found.append((entry, os.open(entry, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
        except OSError:
            continue  # not in this view: nothing to keep
    return found


def _bind_back(kept: list[tuple[str, int]]) -> None:
    """Mount the kept folders again, read-only, at their places in the fresh /tmp: a package
    the assignment allows imports the same under every layer wherever Python lives."""
    for path, fd in kept:
        os.makedirs(path, mode=0o755, exist_ok=True)
        source = f"/proc/self/fd/{fd}".encode()
        _check(_libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), "bind")
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _TMP_FLAGS
        _check(_libc.mount(None, path.encode(), None, flags, None), "remount read-only")
        os.close(fd)


def _self_test(config: _Config) -> None:
    """Fail now, while the trusted side can still fall back to starting workers by exec,
    if a child could not set itself up here (a kernel or bwrap without what it needs)."""
    pid = os.fork()
    if pid == 0:
        try:
            _private_namespaces(config)
            os.close(os.pidfd_open(os.getpid()))
        except BaseException:
            traceback.print_exc()
            os._exit(_SETUP_FAILED)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"a test child could not set itself up (wait status {status})")


def _drop_to(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good: no groups, no capabilities in any set."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    # Leaving uid 0 for a nonzero uid clears the permitted, effective and ambient sets.
    os.setresuid(uid, uid, uid)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")  # the inheritable set too


def _verify_dropped(uid: int, gid: int, *, seccomp: bool) -> None:
    """Refuse to run student code unless /proc confirms the drop: cheap, and exact."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    problems = []
    if fields.get("Uid", "").split() != [str(uid)] * 4:
        problems.append(f"uids {fields.get('Uid', '').split()}")
    if fields.get("Gid", "").split() != [str(gid)] * 4:
        problems.append(f"gids {fields.get('Gid', '').split()}")
    if fields.get("Groups", "").split():
        problems.append(f"groups {fields.get('Groups', '').split()}")
    for name in _STATUS_ZERO_CAPS:
        if int(fields.get(name, "1").strip() or "1", 16) != 0:
            problems.append(f"{name} {fields.get(name, '?').strip()}")
    if fields.get("NoNewPrivs", "").strip() != "1":
        problems.append("no_new_privs is not set")
    if seccomp and fields.get("Seccomp", "").strip() != "2":
        problems.append("the seccomp filter is not active")
    if problems:
        raise RuntimeError("the worker did not drop its privileges: " + ", ".join(problems))


def _drop_bounding_set() -> None:
    # Once, for every child to come: capabilities outside the bounding set can never be
    # regained, not even through an executable with file capabilities.
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _prctl(_PR_CAPBSET_DROP, cap)


def _own_children() -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/children") as f:
                found += [int(pid) for pid in f.read().split()]
    return found


def _threads() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def _load_worker_main() -> ModuleType:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_main.py")
    spec = importlib.util.spec_from_file_location("propgrade_worker_main", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    # fd 0 is the control socket; move it off the standard fds, which children replace.
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    data = control.recv(_MAX_MESSAGE)
    if not data:
        return 0
    config = _Config(json.loads(data))
    # Same uid as the students in the reduced layer: not dumpable means they cannot
    # ptrace it or read its memory. Either way it dies with the grader.
    _prctl(_PR_SET_DUMPABLE, 0)
    if config.full:
        _drop_bounding_set()
    else:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # Whatever a worker leaves behind becomes our child, for ``sweep`` to kill.
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # The whole point: every child inherits these already imported.
    worker = _load_worker_main()
    import numpy

    # numpy loads these on first use. A child mounts a fresh /tmp, which hides numpy when
    # it is installed under /tmp (a virtualenv in a temporary checkout): load them now.
    for name in _NUMPY_LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    del numpy

    # fork() copies only the calling thread: a BLAS thread pool started by the import
    # (its *_NUM_THREADS were not 1) would leave children with locks nobody releases.
    threads = _threads()
    if threads != 1:
        raise RuntimeError(f"the zygote runs {threads} threads after importing numpy")
    if config.full:
        _self_test(config)
    # Keep the imported objects out of future collections: children then share the
    # pages instead of copying them when a collection touches the objects' headers.
    gc.collect()
    gc.freeze()
    # With a pidfd of itself: the trusted side checks that it can name our children.
    pidfd = os.pidfd_open(os.getpid())
    ready = json.dumps({"op": "ready", "pid": os.getpid()}).encode()
    socket.send_fds(control, [ready], [pidfd])
    os.close(pidfd)
    return _Zygote(control, config, worker).serve()


if __name__ == "__main__":
    sys.exit(main())
