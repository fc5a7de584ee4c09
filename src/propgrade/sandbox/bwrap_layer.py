"""The full layer: bubblewrap namespaces plus an unprivileged uid per worker."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from propgrade.errors import WorkerError
from propgrade.sandbox import scratch as scratch_dirs
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.landlock import describe_writes
from propgrade.sandbox.layers import FULL, WORKER_MAIN, WorkerProcess, ZygoteStarts, zygote_enabled
from propgrade.sandbox.limits import (
    SANDBOX_PROCESSES,
    apply_rlimits,
    rlimit_list,
    rlimits,
    worker_env,
)
from propgrade.sandbox.process_layer import REAP_SECONDS
from propgrade.sandbox.processes import children_of, kill_child_of, stop_uid
from propgrade.sandbox.seccomp import SeccompStatus, seccomp_status, zygote_seccomp_status
from propgrade.sandbox.uid_slots import (
    DEFAULT_SLOTS,
    Slot,
    SlotPool,
    default_lock_dir,
    default_uid_base,
    share_with_group,
)
from propgrade.sandbox.view import View, is_under, python_roots

INSTALL_HINT = (
    "install bubblewrap (`apt-get install bubblewrap`; setpriv comes with util-linux) and "
    "run the grader as root, e.g. in a container; `propgrade doctor` shows what is missing"
)

SANDBOX_TMP_BYTES = 64 << 20
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
_INIT_EXIT_SECONDS = 2.0
# Where the full layer's zygote sees the directory holding its workers' scratch dirs.
SANDBOX_SCRATCH = "/scratch"
# The zygote's own /tmp: workers never see it (each mounts a fresh one over it).
_ZYGOTE_TMP_BYTES = 1 << 20
_ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SYS_ADMIN")


class BwrapLayer(ZygoteStarts):
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
        processes: int = SANDBOX_PROCESSES,
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
        self.use_zygote = zygote_enabled(zygote)
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
            f"CPU, files and processes; {network}; {describe_writes()}; killing it stops "
            "every process it started"
        )

    def worker_confinement(self) -> dict[str, object]:
        # The view is read-only but for the private /tmp; Landlock says the same again
        # from inside, and bwrap's own filter stands for the seccomp one.
        return {"seccomp": None, "write": ["/tmp"]}

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
        view = View()
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
                and not any(is_under(path, src) for src in sources)
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
            share_with_group(scratch, slot.uid)
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
                preexec_fn=apply_rlimits(table),
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
            share_with_group(scratch, slot.uid)
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
                "rlimits": rlimit_list(table),
                "confine": self.worker_confinement(),
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
            for child in children_of(process.pid):
                kill_child_of(child, process.pid)
            try:
                process.wait(timeout=_INIT_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=REAP_SECONDS)
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
