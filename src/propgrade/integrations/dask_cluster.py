"""Grading a class on a Dask cluster: ``propgrade grade --dask ADDRESS`` (or ``local:N``).

The client (this process) stays the only trusted writer: it reads each submission with
the same hostile-folder intake as a local run, sends the graded file's bytes to the
cluster, and stores every result record that comes back through ``grade_batch``, which
resumes, reports and exits exactly as with ``--jobs``. Workers grade in propgrade's own
sandbox on their machine (``dask_tasks``) and answer with JSON text.

Dask itself pickles between this client and its workers; both are trusted propgrade
processes. Nothing a student process produced is ever unpickled: the sandbox answers the
worker with data (``sandbox/wire.py``) and the worker answers here with JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from propgrade.batch import Submission, internal_error_result
from propgrade.engine.grading import Plan
from propgrade.engine.results import SubmissionResult
from propgrade.errors import PropgradeError, SubmissionProblem, WorkerError
from propgrade.intake.notebook_lines import CellLines, in_notebook_terms
from propgrade.intake.submission import problem_result, take_in
from propgrade.integrations.dask_tasks import (
    CourseRef,
    grade_bytes,
    identify,
    plan_fingerprint,
)
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.layer_choice import SANDBOX_ENV
from propgrade.sandbox.layers import FULL, REDUCED

LOCAL = "local:"
INSTALL = "pip install 'propgrade[dask]'"
CONNECT_SECONDS = 30.0
# A cluster whose workers are all gone (a Slurm allocation that ended) is waited for this
# long before the client stops; a LocalCluster's nanny restarts a killed worker in seconds.
NO_WORKER_SECONDS = 120.0
_POLL_SECONDS = 1.0


class ClusterError(PropgradeError):
    """The Dask cluster is not installed, cannot be reached, or went away."""


class WorkerRefused(ClusterError):
    """A worker that must not grade: it would grade differently from this client, or
    without the sandbox layer this client asked for. ``detail`` is that worker's report
    (``propgrade doctor`` there, or a traceback), for the instructor."""

    def __init__(self, message: str, *, hint: str | None = None, detail: str = "") -> None:
        super().__init__(message, hint=hint)
        self.detail = detail


@dataclass(frozen=True)
class WorkerInfo:
    address: str
    host: str
    versions: dict[str, str]
    layer: str = ""
    layer_description: str = ""
    fingerprint: dict[str, Any] | None = None
    refused: dict[str, str] | None = None


def sandbox_choice() -> str:
    """The layer the workers must use: the reduced one only when asked for by name (as
    ``PROPGRADE_SANDBOX=reduced`` asks a local run), else the full one."""
    choice = os.environ.get(SANDBOX_ENV, "").strip().lower()
    if choice not in ("", "auto", FULL, REDUCED):
        raise WorkerError(
            f"{SANDBOX_ENV}={choice!r} is not a sandbox layer",
            hint=f"set {SANDBOX_ENV} to {FULL}, {REDUCED} or auto, or leave it unset",
        )
    return REDUCED if choice == REDUCED else FULL


def course_ref(plan: Plan, sandbox: str) -> CourseRef:
    expected = tuple(plan_fingerprint(plan).items())
    source = str(Path(plan.assignment.source).resolve())
    return CourseRef(source, plan.assignment.name, sandbox, expected)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "--dask needs the 'distributed' package, which is not installed here",
            hint=INSTALL,
        ) from None
    return distributed


def _key(student: str) -> str:
    # Readable on the dashboard, unique per run (a rerun must not meet an old result).
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", student)[:40]
    return f"propgrade-{safe}-{uuid.uuid4().hex[:12]}"


class DaskCluster:
    """A connection to a Dask scheduler, or a LocalCluster it started (``local:N``)."""

    def __init__(
        self,
        address: str,
        *,
        connect_seconds: float = CONNECT_SECONDS,
        memory_mb: int = Limits().grader_memory_mb,
    ) -> None:
        self.address = address
        # A local worker process's memory limit. Grading one submission may grow it by
        # limits.grader_memory_mb (engine/memory.py); twice that leaves room for the worker
        # itself, and the nanny restarts a worker that still goes past it.
        self.memory_mb = memory_mb
        self.connect_seconds = connect_seconds
        self.sandbox = sandbox_choice()
        self.workers: list[WorkerInfo] = []
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> DaskCluster:
        distributed = _distributed()
        if self.address.startswith(LOCAL):
            count = self.address[len(LOCAL) :]
            if not count.isdigit() or int(count) < 1:
                raise ClusterError(
                    f"--dask {self.address}: expected local:N with N >= 1 worker processes",
                    hint="e.g. --dask local:2, or a scheduler address like tcp://10.0.0.5:8786",
                )
            # One thread per worker process: a worker grades one submission at a time, as
            # a --jobs child does. The scheduler listens on loopback only, no dashboard.
            self._cluster = distributed.LocalCluster(
                n_workers=int(count),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                memory_limit=f"{2 * self.memory_mb}MiB",
                silence_logs=50,
            )
            self._client = distributed.Client(self._cluster)
            return self
        try:
            self._client = distributed.Client(self.address, timeout=self.connect_seconds)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self.address}: {exc}",
                hint="start it (`dask scheduler`) and check the address; it must be "
                "reachable from here, and only from the graders' private network",
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for closable in (self._client, self._cluster):
            if closable is not None:
                # A scheduler already gone has nothing left to close.
                with contextlib.suppress(Exception):
                    closable.close()

    @property
    def scheduler_address(self) -> str:
        """Where other processes reach this cluster (a ``local:N`` one's own scheduler)."""
        return str(self.client.scheduler.address)

    def grade_one(self, plan: Plan, submission: Submission) -> SubmissionResult:
        """Grade one submission on the cluster and wait for its result."""
        return next(iter(self.grade(plan, [submission])))

    @property
    def client(self) -> Any:
        if self._client is None:
            raise ClusterError("the Dask cluster is not connected")
        return self._client

    def check_workers(self, plan: Plan | None = None) -> list[WorkerInfo]:
        """Ask every worker for its layer and fingerprint (building and caching ``plan``
        there); ``WorkerRefused`` when one must not grade."""
        infos = self.identify_workers(plan)
        refused = [w for w in infos if w.refused is not None]
        if refused:
            raise _refusal(refused[0], others=len(refused) - 1)
        self.workers = infos
        return infos

    def identify_workers(self, plan: Plan | None = None) -> list[WorkerInfo]:
        client = self.client
        try:
            client.wait_for_workers(1, timeout=self.connect_seconds)
        except TimeoutError:
            raise ClusterError(
                f"no Dask worker joined the scheduler at {self.address} within "
                f"{self.connect_seconds:g}s",
                hint="start workers with `dask worker ADDRESS --nthreads 1 --nworkers N`",
            ) from None
        ref = None if plan is None else course_ref(plan, self.sandbox)
        addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
        # Pinned to each worker, in its task threads: building a plan takes a second and
        # must not block the worker's event loop as client.run would.
        futures = [
            client.submit(
                identify,
                ref,
                self.sandbox,
                key=_key("identify"),
                workers=[address],
                allow_other_workers=False,
                pure=False,
            )
            for address in addresses
        ]
        try:
            answers = client.gather(futures)
        except CancelledError:
            raise _lost(self.address) from None
        infos = []
        for address, text in zip(addresses, answers, strict=True):
            data = json.loads(text)
            infos.append(
                WorkerInfo(
                    address=address,
                    host=str(data.get("host", "")),
                    versions=dict(data.get("versions", {})),
                    layer=str(data.get("layer", "")),
                    layer_description=str(data.get("layer_description", "")),
                    fingerprint=data.get("fingerprint"),
                    refused=data.get("refused"),
                )
            )
        return infos

    def describe(self) -> str:
        """The sandbox the workers grade in, for the class report and the progress log."""
        layers = sorted({w.layer_description for w in self.workers if w.layer_description})
        where = f"Dask cluster {self.address}, {len(self.workers)} worker(s)"
        return f"{where}; " + " | ".join(layers) if layers else where

    def window(self) -> int:
        """Submissions in flight at once: enough to keep every thread busy while results
        travel back, few enough that a huge class never sits whole on the scheduler."""
        threads = sum(self.client.nthreads().values()) or 1
        return 2 * threads + 4

    def grade(self, plan: Plan, submissions: Sequence[Submission]) -> Iterator[SubmissionResult]:
        """Grade ``submissions`` on the cluster, yielding each result once as it arrives.

        The grader for ``grade_batch``: it stores each result as it comes, so a client
        that stops (a lost scheduler, a refused worker) loses nothing already graded.
        """
        distributed = _distributed()
        ref = course_ref(plan, self.sandbox)
        queue = iter(submissions)
        in_flight: dict[Any, tuple[Submission, dict[str, Any], CellLines | None]] = {}
        no_workers_since: float | None = None
        # Asked of the scheduler again only while waiting: workers come and go.
        window = self.window()
        try:
            while True:
                while len(in_flight) < window:
                    submission = next(queue, None)
                    if submission is None:
                        break
                    sent = self._send(plan, ref, submission)
                    if isinstance(sent, SubmissionResult):
                        yield sent  # nothing to grade: refused on intake, here
                    else:
                        in_flight[sent[0]] = (submission, sent[1], sent[2])
                if not in_flight:
                    return
                try:
                    done, _ = distributed.wait(
                        list(in_flight), timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED"
                    )
                except TimeoutError:
                    no_workers_since = self._watch(no_workers_since)
                    window = self.window()
                    continue
                except CancelledError:
                    # Cancelled by the client itself once it lost the scheduler.
                    raise _lost(self.address) from None
                for future in done:
                    submission, meta, cells = in_flight.pop(future)
                    yield self._collect(plan, future, submission, meta, cells)
        finally:
            if in_flight:
                # The scheduler may be the thing that is gone.
                with contextlib.suppress(Exception):
                    self.client.cancel(list(in_flight))

    def _send(
        self, plan: Plan, ref: CourseRef, submission: Submission
    ) -> SubmissionResult | tuple[Any, dict[str, Any], CellLines | None]:
        """Read the graded file here, with the trusted intake, and submit its bytes."""
        with tempfile.TemporaryDirectory(prefix="propgrade-intake-") as tmp:
            try:
                intake = take_in(
                    submission.folder,
                    plan.assignment.graded_file,
                    Path(tmp),
                    plan.limits.file_bytes,
                    plan.assignment.functions,
                    plan.limits.imports,
                    plan.assignment.stub_sha256,
                )
            except SubmissionProblem as exc:
                return problem_result(plan, submission.student, exc.message)
            except Exception:
                detail = traceback.format_exc(limit=20)
                return internal_error_result(plan, submission.student, detail)
            data = (intake.folder / plan.assignment.graded_file).read_bytes()
        # The same meta as grade_upload adds after a local grading.
        meta: dict[str, Any] = {"graded_from": intake.origin}
        if intake.notes:
            meta["intake_notes"] = intake.notes
        future = self.client.submit(
            grade_bytes, ref, submission.student, data, key=_key(submission.student), pure=False
        )
        return future, meta, intake.cells

    def _collect(
        self,
        plan: Plan,
        future: Any,
        submission: Submission,
        meta: dict[str, Any],
        cells: CellLines | None,
    ) -> SubmissionResult:
        distributed = _distributed()
        try:
            text = future.result()
        except CancelledError:
            raise _lost(self.address) from None
        except distributed.KilledWorker as exc:
            # Dask already tried it on other workers (distributed.scheduler.allowed-failures)
            detail = f"the Dask workers grading this submission died, each time: {exc}"
            return internal_error_result(plan, submission.student, detail)
        except Exception:
            if self.client.status != "running":
                raise _lost(self.address) from None
            detail = traceback.format_exc(limit=20)
            return internal_error_result(plan, submission.student, detail)
        data = json.loads(text)
        if "refused" in data:
            info = WorkerInfo(
                address=str(data.get("worker", "?")),
                host="",
                versions={},
                refused=data["refused"],
            )
            raise _refusal(info)
        result = SubmissionResult.from_dict(data["result"]).with_meta(**meta)
        if cells is not None:
            # As grade_upload does: a notebook's student wrote cells, not the graded file.
            in_notebook_terms(result, cells, plan.assignment.graded_file)
        return result

    def _watch(self, since: float | None) -> float | None:
        """Between results: stop when the scheduler is gone, or has had no worker for long."""
        if self.client.status not in ("running", "connecting"):
            raise _lost(self.address)
        try:
            workers = len(self.client.scheduler_info(n_workers=-1)["workers"])
        except Exception:
            return since
        if workers:
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since > NO_WORKER_SECONDS:
            raise ClusterError(
                f"the Dask scheduler at {self.address} has had no worker for "
                f"{NO_WORKER_SECONDS:g}s",
                hint="start workers again and rerun the same command: every submission "
                "graded so far is stored and kept",
            )
        return since


def _lost(address: str) -> ClusterError:
    return ClusterError(
        f"lost the connection to the Dask scheduler at {address}",
        hint="every submission graded so far is stored; once the scheduler is back, rerun "
        "the same command and it resumes from there",
    )


def _refusal(worker: WorkerInfo, others: int = 0) -> WorkerRefused:
    refused = worker.refused or {}
    more = f" (and {others} other worker(s))" if others else ""
    return WorkerRefused(
        f"Dask worker {worker.address}{more} refused to grade: {refused.get('message', '')}",
        hint=refused.get("hint") or None,
        detail=refused.get("detail", ""),
    )


def render_workers(
    address: str,
    sandbox: str,
    plans: Sequence[Plan],
    reports: Sequence[Sequence[WorkerInfo]],
) -> tuple[str, bool]:
    """``propgrade doctor --dask``: each worker's layer, versions and, per assignment of
    ``plans``, whether its fingerprint is this client's. True when every worker would
    grade as this client does."""
    ok = True
    first = reports[0] if reports else []
    lines = [f"Dask scheduler {address}: {len(first)} worker(s); required layer: {sandbox}"]
    for index, worker in enumerate(first):
        lines.append(f"worker {worker.address} on {worker.host}")
        lines.append(f"  sandbox layer: {worker.layer or 'none'}")
        if worker.layer_description:
            lines.append(f"    {worker.layer_description}")
        versions = ", ".join(f"{k} {v}" for k, v in worker.versions.items())
        lines.append(f"  versions: {versions}")
        for plan, report in zip(plans, reports, strict=True):
            seen = report[index] if index < len(report) else None
            name = plan.assignment.name
            if seen is None or seen.fingerprint is None:
                continue
            mine = plan_fingerprint(plan)
            differ = [
                f"{k}={seen.fingerprint.get(k)!r} (here {v!r})"
                for k, v in mine.items()
                if seen.fingerprint.get(k) != v
            ]
            if differ:
                ok = False
                lines.append(f"  [FAIL] {name}: fingerprint differs: {'; '.join(differ)}")
            else:
                fingerprint = ", ".join(f"{k}={v}" for k, v in mine.items())
                lines.append(f"  [ok]   {name}: fingerprint equals this client's ({fingerprint})")
        refusals = set()
        for report in reports:
            refused = report[index].refused if index < len(report) else None
            if refused is not None:
                refusals.add(refused.get("message", ""))
        for message in sorted(refusals):
            ok = False
            lines.append(f"  [FAIL] refuses to grade: {message}")
    if not first:
        ok = False
    return "\n".join(lines) + "\n", ok
