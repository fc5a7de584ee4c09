"""The grading processes of ``propgrade serve``, and the supervisor that keeps them up.

Each worker is a separate trusted process (``python -m propgrade.serve.workers``) that
prepares the assignment once, then claims submissions from the database and grades them
with ``grade_upload``, the batch's own route, so student code runs in the same sandboxed
workers. Nothing is graded on the server's event loop, and since work is claimed from the
database, two servers on one PostgreSQL database share it.

A worker renews its claim's lease while it grades. When a worker dies, the supervisor
queues its claim again at once; when a whole server dies, its claims are queued again by
the next server to start (SQLite) or once their lease runs out (PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from propgrade.batch import Submission, internal_error_result
from propgrade.config import load_course
from propgrade.engine.grading import Plan, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.intake.submission import grade_upload
from propgrade.integrations.dask_cluster import ClusterError
from propgrade.serve import store
from propgrade.serve.db import GRADING, QUEUED, open_engine, submissions

DB_ENV = "PROPGRADE_DB"
POLL_SECONDS = 0.25  # an idle worker looks for work this often
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A worker whose server was killed stops too: its claim is queued again on restart,
    rather than finished by a process nobody supervises."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Lease:
    """Renews a claim's lease from a thread while the worker grades."""

    def __init__(self, engine: sa.Engine, submission_id: int, worker: str, lease: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(engine, submission_id, worker, lease), daemon=True
        )

    def _run(self, engine: sa.Engine, submission_id: int, worker: str, lease: float) -> None:
        while not self._stop.wait(lease / 3):
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                store.renew(engine, submission_id, worker, lease)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


Grader = Callable[[Plan, str, Path], SubmissionResult]


def grade_one(
    plan: Plan,
    engine: sa.Engine,
    out: Path,
    worker: str,
    lease: float,
    grader: Grader = grade_upload,
) -> bool:
    """Claim and grade one submission; False when there was nothing to claim."""
    claimed = store.claim(engine, plan.assignment.name, worker, lease)
    if claimed is None:
        return False
    if claimed.tries > store.MAX_TRIES:
        # Its grading killed the worker every time: the instructor looks at it by hand.
        result = internal_error_result(
            plan, claimed.student, f"grading stopped its worker {claimed.tries - 1} times"
        )
    else:
        with _Lease(engine, claimed.id, worker, lease):
            try:
                result = grader(plan, claimed.student, store.folder_of(out, claimed.public_id))
            except ClusterError:
                # The cluster is gone or refuses: not this submission's fault. The worker
                # stops, and the supervisor queues the claim again for the next one.
                raise
            except Exception:
                result = internal_error_result(
                    plan, claimed.student, traceback.format_exc(limit=20)
                )
    store.finish(engine, claimed.id, worker, result)
    return True


def work(
    config: Path,
    assignment: str,
    db_url: str,
    out: Path,
    worker: str,
    lease: float,
    parent: int,
    dask: str | None = None,
) -> None:
    """A worker's life: prepare once, then grade whatever is queued, until killed or
    until ``parent``, the server, is gone. With ``dask`` (a scheduler's address), each
    submission is graded on that cluster instead of in this machine's sandbox."""
    _die_with_parent()
    if os.getppid() != parent:
        return  # the server died while this process was starting
    plan = prepare(load_course(config).assignment(assignment))
    engine = open_engine(db_url)
    with contextlib.ExitStack() as stack:
        grader: Grader = grade_upload
        if dask is not None:
            from propgrade.integrations.dask_cluster import DaskCluster

            cluster = stack.enter_context(DaskCluster(dask))

            def grader(plan: Plan, student: str, folder: Path) -> SubmissionResult:
                return cluster.grade_one(plan, Submission(student, folder))

        print(f"ready {worker}", flush=True)
        while os.getppid() == parent:
            try:
                busy = grade_one(plan, engine, out, worker, lease, grader)
            except sa.exc.OperationalError:
                busy = False  # the database is busy or restarting: try again shortly
            if not busy:
                time.sleep(POLL_SECONDS)


def release_worker(engine: sa.Engine, worker: str) -> int:
    """Queue again what the dead ``worker`` was grading."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(submissions.c.id).where(
                submissions.c.status == GRADING, submissions.c.claimed_by == worker
            )
        ).all()
        for row in rows:
            store._log(conn, row.id, "requeued", worker)
        conn.execute(
            sa.update(submissions)
            .where(submissions.c.status == GRADING, submissions.c.claimed_by == worker)
            .values(status=QUEUED, claimed_by=None, lease_until=None)
        )
    return len(rows)


@dataclass
class Supervisor:
    """Keeps ``jobs`` worker processes running; a dead one's claim is queued again and
    a new worker takes its place."""

    config: Path
    assignment: str
    db_url: str
    out: Path
    jobs: int
    lease: float
    dask: str | None = None  # a scheduler's address: grade on that cluster
    _engine: sa.Engine | None = None
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _spawned: int = 0

    def start(self) -> None:
        self._engine = open_engine(self.db_url)
        for _ in range(self.jobs):
            self._spawn()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        self._spawned += 1
        name = f"{socket.gethostname()}:{os.getpid()}:{self._spawned}"
        command = [
            sys.executable,
            "-m",
            "propgrade.serve.workers",
            "--config",
            str(self.config),
            "--assignment",
            self.assignment,
            "--out",
            str(self.out),
            "--name",
            name,
            "--lease",
            str(self.lease),
            "--parent",
            str(os.getpid()),
        ]
        if self.dask is not None:
            command += ["--dask", self.dask]
        # The URL goes by the environment: a password in it stays out of `ps`.
        env = {**os.environ, DB_ENV: self.db_url}
        self._procs[name] = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values()]

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for name, proc in list(self._procs.items()):
                if proc.poll() is None or self._stop.is_set():
                    continue
                del self._procs[name]
                assert self._engine is not None
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    release_worker(self._engine, name)
                self._spawn()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._engine is not None:
            for name in self._procs:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    release_worker(self._engine, name)
            self._engine.dispose()
        self._procs.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m propgrade.serve.workers")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--db", default=os.environ.get(DB_ENV))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--parent", type=int, default=os.getppid(), help="the server's pid")
    parser.add_argument("--dask", help="a Dask scheduler's address to grade on")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db or ${DB_ENV} is needed")
    work(
        args.config,
        args.assignment,
        args.db,
        args.out,
        args.name,
        args.lease,
        args.parent,
        args.dask,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
