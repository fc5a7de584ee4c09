"""The trusted side of the zygote: one fork server per grading process and sandbox layer.

Starting a worker as a new interpreter costs ~100 ms, most of it importing numpy and site.
A zygote (``zygote_main.py``) pays that once and then forks a worker per request, in a few
milliseconds. The layers (``bwrap_layer.py``, ``process_layer.py``) decide how a zygote is
started (bubblewrap or a plain process) and what each child must become; this module runs
the conversation:

- the trusted side creates each worker's three pipes and sends the child's ends over a
  Unix socket (SCM_RIGHTS) with a small JSON request; the zygote answers with the child's
  pid and a pidfd, which names the child for good (kills can never hit a reused pid);
- the child stays a zombie until the trusted side has stopped it and asks for its exit
  status, so the worker's crash messages keep saying how it ended;
- a zygote belongs to the process that started it: a forked child (``batch.py``'s pool)
  lets go of its parent's zygote and starts its own; every zygote is closed at exit, and
  dies by itself when its grader does (EOF on the socket, bubblewrap's --die-with-parent).

``PROPGRADE_ZYGOTE=0`` turns the zygote off: every worker is then started by exec again.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from propgrade.errors import WorkerError
from propgrade.sandbox import scratch as scratch_dirs

ZYGOTE_ENV = "PROPGRADE_ZYGOTE"
ZYGOTE_MAIN = Path(__file__).parent / "inside" / "zygote_main.py"
START_SECONDS = 60.0  # bwrap + python + numpy, once per grading process
REPLY_SECONDS = 30.0  # a fork and a reply; only a wedged zygote takes this long
_CLOSE_SECONDS = 10.0
_MAX_MESSAGE = 1 << 16
_LOG_TAIL = 2000


def enabled(choice: bool | None = None) -> bool:
    """Whether workers start from a zygote: ``choice``, else ``PROPGRADE_ZYGOTE`` (on)."""
    if choice is not None:
        return choice
    return os.environ.get(ZYGOTE_ENV, "").strip().lower() not in ("0", "false", "no", "off")


class ZygoteGone(WorkerError):
    """The zygote died or stopped answering; a new one can take over."""


@dataclass
class Launch:
    """How to start a zygote: its command line, its first message, what it owns."""

    argv: list[str]
    env: dict[str, str]
    config: dict[str, Any]
    cwd: str = "/"
    pass_fds: tuple[int, ...] = ()  # handed to the zygote's process, closed here after start
    scratch_root: Path | None = None  # holds the workers' scratch dirs; removed with the zygote


class Zygote:
    """A running zygote process and the socket to it. Thread-safe; one request at a time."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.creator = os.getpid()
        self.closed = False
        self._broken = False
        self._lock = threading.Lock()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Its stderr goes to a file: a pipe nobody reads could block it; read on failure.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the zygote)
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(
                launch.argv,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                cwd=launch.cwd,
                env=launch.env,
                close_fds=True,
                pass_fds=launch.pass_fds,
                # Out of the grader's process group: a Ctrl-C reaches the grader, which then
                # closes the zygote, instead of killing the zygote under running workers.
                start_new_session=True,
            )
        except BaseException:
            self._sock.close()
            self._log.close()
            raise
        finally:
            theirs.close()
            for fd in launch.pass_fds:
                os.close(fd)
        try:
            self._sock.settimeout(START_SECONDS)
            self._sock.send(json.dumps(launch.config).encode())
            ready, fds, _, _ = socket.recv_fds(self._sock, _MAX_MESSAGE, 1)
            if not ready or json.loads(ready).get("op") != "ready" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                raise ConnectionError("the zygote exited before it was ready")
            try:
                # Its children are named the same way: by a pidfd, resolved to a pid here.
                self.zygote_pid = host_pid(fds[0])
            finally:
                os.close(fds[0])
            self._sock.settimeout(REPLY_SECONDS)
        except (OSError, ValueError, WorkerError) as exc:
            self._stop()
            tail = self.log_tail()  # once it has exited: its last words are all there
            self.close()
            raise WorkerError(
                f"the zygote failed to start: {exc}\n{tail}".rstrip(),
                hint=f"set {ZYGOTE_ENV}=0 to start every worker as a new process",
            ) from exc

    @property
    def pid(self) -> int:
        """Pid of the zygote's process as started (bwrap's in the full layer).

        ``zygote_pid`` is the zygote's own, the parent of every worker."""
        pid: int = self.process.pid
        return pid

    def alive(self) -> bool:
        return not self.closed and not self._broken and self.process.poll() is None

    def log_tail(self) -> str:
        """The end of what the zygote wrote to stderr (a traceback, if it crashed)."""
        with contextlib.suppress(OSError, ValueError):
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - _LOG_TAIL))
            return self._log.read().decode("utf-8", "replace")
        return ""

    def spawn(self, request: dict[str, Any], fds: Sequence[int]) -> tuple[int, int]:
        """Fork a worker with ``fds`` as its fds 0-2: (its pid in the zygote, a pidfd)."""
        reply, reply_fds = self._ask({"op": "spawn", **request}, fds)
        if reply.get("op") != "spawned" or len(reply_fds) != 1:
            for fd in reply_fds:
                os.close(fd)
            raise WorkerError(f"the zygote could not start a worker: {reply.get('error', reply)}")
        return int(reply["pid"]), reply_fds[0]

    def reap(self, pid: int) -> int | None:
        """Reap an exited child: its exit status as Popen.returncode has it, else None."""
        reply, fds = self._ask({"op": "reap", "pid": pid}, ())
        for fd in fds:
            os.close(fd)
        code = reply.get("returncode")
        return code if isinstance(code, int) else None

    def sweep(self) -> int:
        """Kill the processes that workers left behind as the zygote's children (reduced
        layer, where the zygote is a child subreaper): how many there were."""
        reply, fds = self._ask({"op": "sweep"}, ())
        for fd in fds:
            os.close(fd)
        killed = reply.get("killed")
        return killed if isinstance(killed, int) else 0

    def _ask(self, request: dict[str, Any], fds: Sequence[int]) -> tuple[dict[str, Any], list[int]]:
        with self._lock:
            if self.closed or self._broken or os.getpid() != self.creator:
                raise ZygoteGone("the zygote is gone")
            reply_fds: list[int] = []
            try:
                socket.send_fds(self._sock, [json.dumps(request).encode()], list(fds))
                data, reply_fds, _, _ = socket.recv_fds(self._sock, _MAX_MESSAGE, 4)
                if not data:
                    raise ConnectionError("the zygote closed its socket")
                reply: dict[str, Any] = json.loads(data)
            except (OSError, ValueError) as exc:
                for fd in reply_fds:
                    os.close(fd)
                self._broken = True
                raise ZygoteGone(f"the zygote stopped answering: {exc}") from exc
        return reply, reply_fds

    def close(self) -> None:
        """Stop the zygote (and with it every worker it still has) and reap it."""
        if self.closed:
            return
        self.closed = True
        if os.getpid() != self.creator:
            # A copy inherited through fork: only let go of this process's descriptors,
            # so the parent's zygote stays untouched and still sees EOF when the parent
            # closes its own end.
            self._sock.close()
            self._log.close()
            return
        self._stop()
        if self.launch.scratch_root is not None:
            scratch_dirs.remove(self.launch.scratch_root)
        self._log.close()

    def _stop(self) -> None:
        # EOF on its socket makes the zygote exit; in the full layer its pid namespace,
        # and with it every worker, goes down when it does.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        try:
            self.process.wait(timeout=_CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            # Killing bwrap kills its pid namespace's init (--die-with-parent), and so
            # every process in the namespace.
            self.process.kill()
            self.process.wait()


class ZygoteWorker:
    """A worker forked by a zygote; satisfies ``sandbox.WorkerProcess``.

    ``group_kill`` (reduced layer) also kills the worker's process group, which is safe
    because the zygote keeps the leader's zombie, and so its group id, until ``stop`` has
    asked for its exit status. ``after_stop`` runs once the worker is gone (the full layer
    kills everything of the worker's uid there and hands the uid on).
    """

    def __init__(
        self,
        zygote: Zygote,
        zygote_pid: int,
        pidfd: int,
        pipes: tuple[int, int, int],
        *,
        group_kill: bool,
        after_stop: Callable[[], None],
    ) -> None:
        self.zygote = zygote
        self.zygote_pid = zygote_pid
        self.pidfd = pidfd
        self.request_fd, self.reply_fd, self.stderr_fd = pipes
        self.group_kill = group_kill
        self.after_stop = after_stop
        self.returncode: int | None = None
        self.pid = host_pid(pidfd)
        self._stopped = False
        self._pipes_closed = False

    def exited(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the worker to exit, without reaping it."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(max(0, int(seconds * 1000))))

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.group_kill and self.zygote.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            # Unkillable only in uninterruptible sleep; then there is no status to get.
            if self.exited(_CLOSE_SECONDS):
                with contextlib.suppress(ZygoteGone):
                    self.returncode = self.zygote.reap(self.zygote_pid)
        finally:
            os.close(self.pidfd)
            self.after_stop()

    def close_pipes(self) -> None:
        if not self._pipes_closed:
            self._pipes_closed = True
            for fd in (self.request_fd, self.reply_fd, self.stderr_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)


def host_pid(pidfd: int) -> int:
    """The pid, in this process's pid namespace, of the process ``pidfd`` refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    raise WorkerError("the zygote's child has no pid here (kernel without pidfd fdinfo?)")


def spawn_worker(
    zygote: Zygote,
    request: dict[str, Any],
    *,
    group_kill: bool,
    after_stop: Callable[[], None],
) -> ZygoteWorker:
    """Create a worker's pipes, have ``zygote`` fork it, and wrap the result.

    ``after_stop`` runs when the handle is stopped; if this raises, there is no handle and
    the caller frees what it prepared for the worker itself.
    """
    # Trusted ends stay here; the child's ends go to the zygote and are closed here at
    # once, so only the worker holds them and its exit shows as EOF.
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    theirs = (request_r, reply_w, stderr_w)
    ours = (request_w, reply_r, stderr_r)
    try:
        zygote_pid, pidfd = zygote.spawn(request, theirs)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    try:
        return ZygoteWorker(
            zygote, zygote_pid, pidfd, ours, group_kill=group_kill, after_stop=after_stop
        )
    except BaseException:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        select.select([pidfd], [], [], _CLOSE_SECONDS)  # readable once it has exited
        with contextlib.suppress(WorkerError):
            zygote.reap(zygote_pid)
        os.close(pidfd)
        for fd in ours:
            os.close(fd)
        raise  # the caller frees what the worker held: it never gets a handle to stop


# -- one zygote per process and key ---------------------------------------------------------

_ZYGOTES: dict[Hashable, Zygote] = {}
# Why a zygote could not start, per key: not tried again in this process, or every worker
# of a machine where it cannot run would first pay for a failed zygote start.
_FAILED: dict[Hashable, str] = {}
# Zygotes inherited through fork: kept referenced so their Popen objects are never
# collected here (that would warn about a "still running" process that is not ours).
_INHERITED: list[Zygote] = []
_REGISTRY_LOCK = threading.Lock()
_EXIT_HOOKS_PID: list[int] = []


def shared(key: Hashable, launch: Callable[[], Launch]) -> Zygote:
    """This process's live zygote for ``key``; a new one if there is none or it died."""
    with _REGISTRY_LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is not None and zygote.creator == os.getpid() and zygote.alive():
            return zygote
        if zygote is not None:
            del _ZYGOTES[key]
            zygote.close()
        if key in _FAILED:
            raise WorkerError(_FAILED[key])
        _install_exit_hooks()
        try:
            zygote = Zygote(launch())
        except WorkerError as exc:
            _FAILED[key] = exc.message
            raise
        _ZYGOTES[key] = zygote
        return zygote


def discard(zygote: Zygote) -> None:
    """Close ``zygote`` (found broken) so that the next ``shared`` call starts a new one."""
    with _REGISTRY_LOCK:
        for key, value in list(_ZYGOTES.items()):
            if value is zygote:
                del _ZYGOTES[key]
    zygote.close()


def running() -> list[Zygote]:
    """The zygotes this process started and has not closed."""
    with _REGISTRY_LOCK:
        return [z for z in _ZYGOTES.values() if z.creator == os.getpid() and not z.closed]


def close_all() -> None:
    """Close every zygote of this process (at exit, or by a test)."""
    with _REGISTRY_LOCK:
        zygotes = list(_ZYGOTES.values())
        _ZYGOTES.clear()
    for zygote in zygotes:
        zygote.close()


def _install_exit_hooks() -> None:
    if _EXIT_HOOKS_PID and _EXIT_HOOKS_PID[0] == os.getpid():
        return
    _EXIT_HOOKS_PID[:] = [os.getpid()]
    atexit.register(close_all)
    # multiprocessing's children (batch.py's pool) leave through os._exit, which skips
    # atexit but runs multiprocessing's own exit finalizers first.
    import multiprocessing.util

    multiprocessing.util.Finalize(None, close_all, exitpriority=0)


def _after_fork_in_child() -> None:
    # The lock may have been held by another thread at fork time; this child has only
    # the forking thread, so a fresh lock is correct.
    global _REGISTRY_LOCK
    _REGISTRY_LOCK = threading.Lock()
    for zygote in _ZYGOTES.values():
        zygote.close()  # only releases this process's copies of its descriptors
        _INHERITED.append(zygote)
    _ZYGOTES.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
