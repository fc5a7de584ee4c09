"""How a worker process is started and stopped.

A ``Layer`` owns both ends of a worker's life, so a stronger isolation can replace another
without touching the worker client. Two layers exist:

- ``BwrapLayer`` ("full", ``bwrap_layer.py``): bubblewrap namespaces, a filesystem view
  holding only what Python and numpy need plus the scratch copy of the graded file, and an
  unprivileged uid that no other running worker shares. Needs ``bwrap``, ``setpriv`` and
  root.
- ``ProcessLayer`` ("reduced", ``process_layer.py``): a plain child process with rlimits.
  Everywhere else.

``layer_choice.default_layer()`` picks the strongest one that works here
(``PROPGRADE_SANDBOX`` forces one); ``propgrade doctor`` (``doctor.py``) explains the choice.

Both layers start workers for the grader through ``start_worker``: forked from a zygote
that has numpy imported already (``zygote.py``), or, with ``PROPGRADE_ZYGOTE=0`` or where
no zygote can run, as a new interpreter through ``spawn``. Either way the worker ends up
with the same isolation; the zygote only saves the interpreter start.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, cast

from propgrade.errors import WorkerError

# Re-exported: the layers are named by these everywhere (doctor, tests, results).
from propgrade.isolation import FULL as FULL
from propgrade.isolation import REDUCED as REDUCED
from propgrade.sandbox import scratch as scratch_dirs
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Limits

WORKER_MAIN = Path(__file__).parent / "inside" / "worker_main.py"


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
    layer: Layer,
    source: bytes,
    filename: str,
    module_name: str,
    limits: Limits,
    confine: dict[str, object] | None = None,
) -> PopenWorker:
    """Start a worker as ``python -I -B worker_main.py`` in a new scratch directory.

    ``confine`` is what the worker closes itself to before the student's file is imported
    (``worker_main.confine``)."""
    scratch = scratch_dirs.make("worker")
    try:
        graded = scratch / filename
        graded.write_bytes(source)
        argv = [sys.executable, "-I", "-B", str(WORKER_MAIN), str(graded), module_name]
        argv.append(",".join(limits.imports))
        if confine is not None:
            argv.append(json.dumps(confine))
        popen = layer.spawn(argv, scratch=scratch, limits=limits)
    except BaseException:
        scratch_dirs.remove(scratch)
        raise
    return PopenWorker(popen, layer.kill, scratch)


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


def zygote_enabled(choice: bool | None) -> bool:
    # For the layers, whose ``zygote`` parameter shadows the module.
    return zygote.enabled(choice)


class ZygoteStarts:
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
        return start_by_exec(
            cast(Layer, self), source, filename, module_name, limits, self.worker_confinement()
        )

    def worker_confinement(self) -> dict[str, object]:
        """What each worker closes itself to before student code (``worker_main.confine``)."""
        raise NotImplementedError

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
