"""The trusted side of the worker boundary: start a worker, send calls, read replies.

The worker process imports the graded file and runs calls into it (``worker_main.py``).
This module never imports student code and reads the worker's pipes only through capped,
deadline-bound, non-blocking reads, so a hostile submission can waste its own time budget
but cannot hang, flood or fool the grader.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import selectors
import signal
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import replace
from enum import Enum
from pathlib import Path
from types import TracebackType

import numpy as np

from propgrade.engine.traced import confirm, untraced_twins
from propgrade.errors import WorkerError
from propgrade.sandbox import wire
from propgrade.sandbox.budgets import HEADER_BYTES, describe_size, reply_budget
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    ImportReport,
    Limits,
    StudentFailure,
    Value,
)
from propgrade.sandbox.layer_choice import default_layer
from propgrade.sandbox.layers import Layer, WorkerProcess
from propgrade.sandbox.sent_batches import EncodedBatch, SentBatches

# Names through which Python code can switch tracing off or look at it: a graded file that
# mentions any of them gets no trusted Python-event count (see Worker.run).
_TRACING_NAMES = re.compile(rb"settrace|setprofile|gettrace|getprofile|f_trace|monitoring")

# Whether a traced call's value is right, judged in the trusted process (by the reference).
Witness = Callable[[Call, Value], bool]

# A worker's start (python + numpy, or a fork from the zygote); exceeding it is our problem,
# not the student's.
STARTUP_SECONDS = 60.0
_READ_CHUNK = 1 << 18
_WRITE_CHUNK = 1 << 16
_EXIT_GRACE_SECONDS = 0.5
_DRAIN_READS = 16

_SIGNAL_HINTS = {
    "SIGKILL": " (out of memory?)",
    "SIGXCPU": " (CPU time limit)",
    "SIGSEGV": " (segmentation fault)",
}


class _Stop(Enum):
    TIMEOUT = "timeout"
    CLOSED = "closed"


class _OutputBuffer:
    """Keeps the first ``cap`` bytes of the worker's output and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.discarded = 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.discarded += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.discarded:
            text += f"\n[... {self.discarded} more bytes of output discarded]\n"
        return text


class _Process:
    """One running worker process: its pipes, its frame reader and how it ended."""

    def __init__(
        self,
        handle: WorkerProcess,
        output: _OutputBuffer,
        max_frame_bytes: int,
    ) -> None:
        self.handle = handle
        self.output = output
        self.reader = wire.FrameReader(max_frame_bytes=max_frame_bytes)
        self.request_fd = handle.request_fd
        self.reply_fd = handle.reply_fd
        self.stderr_fd = handle.stderr_fd
        for fd in (self.request_fd, self.reply_fd, self.stderr_fd):
            os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.reply_fd, selectors.EVENT_READ)
        self.selector.register(self.stderr_fd, selectors.EVENT_READ)
        self.outgoing = memoryview(b"")
        self.reply_eof = False
        self.stderr_eof = False
        self.killed = False
        self.pipes_closed = False
        self.exited_by_itself = False

    @property
    def pid(self) -> int:
        return self.handle.pid

    def send(self, data: bytes) -> None:
        """Queue a request; it is written while waiting for replies, never blocking."""
        self.outgoing = memoryview(data)
        # Most requests fit in the pipe buffer: write now and skip the selector round trip.
        self._write_request(registered=False)
        if self.outgoing:
            self.selector.register(self.request_fd, selectors.EVENT_WRITE)

    def next_frame(self, deadline: float) -> wire.Frame | _Stop:
        """The next reply frame, or why there is none before ``deadline``.

        Raises ``wire.WireError`` when the worker's bytes break the wire format.
        """
        while True:
            frame = self.reader.next_frame()
            if frame is not None:
                return frame
            if self.reply_eof:
                return _Stop.CLOSED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Stop.TIMEOUT
            for key, _ in self.selector.select(remaining):
                if key.fd == self.reply_fd:
                    self._read_reply()
                elif key.fd == self.stderr_fd:
                    self.read_stderr()
                else:
                    self._write_request()

    def _read_reply(self) -> None:
        try:
            chunk = os.read(self.reply_fd, _READ_CHUNK)
        except BlockingIOError:
            return
        if chunk:
            self.reader.feed(chunk)
        else:
            self.reply_eof = True
            self.selector.unregister(self.reply_fd)

    def read_stderr(self) -> bool:
        """Move one chunk of the worker's output into the capped buffer, if there is one."""
        try:
            chunk = os.read(self.stderr_fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        if chunk:
            self.output.add(chunk)
            return True
        self.stderr_eof = True
        self.selector.unregister(self.stderr_fd)
        return False

    def _write_request(self, *, registered: bool = True) -> None:
        while self.outgoing:
            try:
                written = os.write(self.request_fd, self.outgoing[:_WRITE_CHUNK])
            except BlockingIOError:
                return
            except OSError:
                # The worker is gone or closed its end; the reply pipe's EOF will say so.
                written = len(self.outgoing)
            self.outgoing = self.outgoing[written:]
        if registered:
            self.selector.unregister(self.request_fd)

    def kill(self) -> None:
        if self.killed:
            return
        self.killed = True
        if self.reply_eof:
            # Waits without reaping, so the layer can still kill the worker's group.
            self.exited_by_itself = self.handle.exited(_EXIT_GRACE_SECONDS)
        self.handle.stop()
        # Whatever reached the stderr pipe before the kill is the most useful output.
        self.drain_stderr()
        self.pipes_closed = True
        self.selector.close()
        self.handle.close_pipes()

    def drain_stderr(self) -> None:
        """Take what the worker has written so far, without waiting for more."""
        # Bounded: a process that escaped the group kill may keep the pipe full forever.
        for _ in range(_DRAIN_READS):
            if self.pipes_closed or self.stderr_eof or not self.read_stderr():
                return

    def death(self) -> str:
        """How the worker ended, for a failure message; call after ``kill``."""
        if not self.exited_by_itself:
            return "the worker closed its reply channel and was stopped"
        code = self.handle.returncode
        if code is None:
            return "the worker stopped replying"
        if code >= 0:
            return f"the worker exited with status {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker was killed by {name}{_SIGNAL_HINTS.get(name, '')}"


# Batches already encoded, for the next submissions this process grades (sent_batches.py).
SENT = SentBatches()


class Worker:
    """A warm worker process for one submission's graded file.

    Use as a context manager; ``close()`` kills the worker and everything it started that
    the layer can reach, and removes its scratch directory. ``run`` answers every call
    with a ``CallOutcome`` and raises ``WorkerError`` only when the grading side itself is
    at fault.
    """

    def __init__(
        self,
        graded_file: Path,
        limits: Limits,
        layer: Layer | None = None,
        module_name: str = "submission",
        *,
        max_frame_bytes: int = wire.DEFAULT_FRAME_LIMIT,
    ) -> None:
        self.graded_file = Path(graded_file)
        self.limits = limits
        self.layer: Layer = layer if layer is not None else default_layer()
        self.module_name = module_name
        self.max_frame_bytes = max_frame_bytes
        try:
            # Read once: later edits to the original cannot change what a respawn imports.
            self._source = self.graded_file.read_bytes()
            self._touches_tracing = bool(_TRACING_NAMES.search(self._source))
        except OSError as exc:
            raise WorkerError(f"cannot read graded file {self.graded_file}: {exc}") from exc
        self._output = _OutputBuffer(limits.output_bytes)
        self._process: _Process | None = None
        self._report: ImportReport | None = None
        self._budget_deadline = math.inf
        self._spent = 0.0
        self._excused = 0.0  # grader time inside the metered span (starting workers)
        self._failures: Counter[str] = Counter()
        self._next_id = 0
        self._closed = False

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The running worker's pid, if one is running."""
        return None if self._process is None else self._process.pid

    def start(self) -> ImportReport:
        """Start the worker and import the graded file (a no-op once done)."""
        if self._closed:
            raise WorkerError("the worker was closed")
        if self._report is None:
            with self._metered():
                self._report = self._spawn()
        return self._report

    @property
    def seconds_used(self) -> float:
        """Time charged to the submission's budget so far (starting workers is not)."""
        return self._spent

    @contextlib.contextmanager
    def _metered(self) -> Iterator[None]:
        # Only time spent waiting on the worker is charged: the grader's own work between
        # runs (generating examples, shrinking) must not use up the student's budget.
        entered = time.monotonic()
        remaining = max(0.0, self.limits.submission_seconds - self._spent)
        self._budget_deadline = entered + remaining
        self._excused = 0.0
        try:
            yield
        finally:
            self._spent += time.monotonic() - entered - self._excused

    def _excuse_since(self, started: float) -> None:
        # Starting a worker, until it says "ready", runs no student code: on a busy machine
        # it can take a good part of a second, which must not decide the student's grade.
        seconds = time.monotonic() - started
        self._excused += seconds
        self._budget_deadline += seconds

    def output(self) -> str:
        """The student's stdout and stderr so far (capped)."""
        if self._process is not None:
            self._process.drain_stderr()
        return self._output.text()

    def close(self) -> None:
        self._closed = True
        self._stop_process()

    def run(
        self,
        calls: Sequence[Call],
        *,
        witness: Witness | None = None,
        keys: Sequence[Hashable] | None = None,
    ) -> list[CallOutcome]:
        """Answer every call, in order; starts the worker first if needed.

        ``keys``, the calls' ``call_key``s, let a batch sent before (to this or another
        submission) be sent again as it was encoded then (``SENT``).

        A traced call that succeeds stands if ``witness`` (the reference, in the trusted
        process) says its value is right; otherwise it is run again untraced on the same
        arguments in a fresh worker process, and stands only if both runs return the same
        value (see ``propgrade.engine.traced``). A fresh process, because a function that
        remembers what it returned while counted could otherwise replay it.
        """
        answered = self._run_once(calls, keys)
        confirmable = [
            i
            for i, o in enumerate(answered)
            if calls[i].trace and o.ok and not (witness is not None and witness(calls[i], o.value))
        ]
        if confirmable:
            twins = untraced_twins([calls[i] for i in confirmable])
            self._stop_process()
            for index, plain in zip(confirmable, self._run_once(twins), strict=True):
                answered[index] = confirm(calls[index], answered[index], plain)
        return answered

    def _run_once(
        self, calls: Sequence[Call], keys: Sequence[Hashable] | None = None
    ) -> list[CallOutcome]:
        report = self.start()
        outcomes: list[CallOutcome | None] = [None] * len(calls)
        encoded = self._encoded(calls, keys, outcomes)
        with self._metered():
            self._run(calls, report, encoded, outcomes)
        answered = [outcome if outcome is not None else _unanswered() for outcome in outcomes]
        if self._touches_tracing:
            # The count is taken inside the student's process: a file that handles the
            # tracing machinery itself could switch it off around a loop. Such a count is
            # not trusted (reported as -1, "could not be measured"). A file that does so
            # through names built from strings, or forges the reply, is not caught here:
            # the rerun in ``run`` catches answers that change under tracing, and a forged
            # count is a known hole (README, "What the loop check is worth").
            answered = [
                replace(outcome, trace_events=-1) if outcome.trace_events is not None else outcome
                for outcome in answered
            ]
        return answered

    def _run(
        self,
        calls: Sequence[Call],
        report: ImportReport,
        encoded: EncodedBatch,
        outcomes: list[CallOutcome | None],
    ) -> None:
        pending = [index for index, outcome in enumerate(outcomes) if outcome is None]
        while pending:
            if not report.ok:
                reason = report.failure.message if report.failure else "import failed"
                self._fill(outcomes, pending, FailureKind.MISSING, f"not run: {reason}")
                break
            if time.monotonic() >= self._budget_deadline:
                self._fill(outcomes, pending, FailureKind.BUDGET, self._budget_message())
                break
            runnable = []
            for index in pending:
                name = calls[index].function
                if self._failures[name] >= self.limits.max_failures_per_function:
                    message = (
                        f"not run: {name}() already timed out or crashed "
                        f"{self._failures[name]} times"
                    )
                    outcomes[index] = _failed(FailureKind.SKIPPED, message)
                else:
                    runnable.append(index)
            if not runnable:
                break
            if self._process is None:
                restart = self._spawn()
                if not restart.ok:
                    failure = restart.failure
                    kind = FailureKind.BUDGET if _is_budget(failure) else FailureKind.CRASH
                    detail = failure.message if failure else "unknown reason"
                    message = f"not run: the worker could not be restarted: {detail}"
                    self._fill(outcomes, runnable, kind, message)
                    break
            pending = self._run_batch(calls, runnable, encoded, outcomes)

    # -- batches -----------------------------------------------------------------------

    def _encoded(
        self,
        calls: Sequence[Call],
        keys: Sequence[Hashable] | None,
        outcomes: list[CallOutcome | None],
    ) -> EncodedBatch:
        """The batch in wire form: as remembered when its keys were sent before."""
        if keys is None:
            encoded = self._encode(calls)
        else:
            # The limits set every call's reply budget, written into the frame.
            key = (self.limits, self.max_frame_bytes, tuple(keys))
            found = SENT.find(key)
            if found is None:
                encoded = self._encode(calls)
                SENT.keep(key, encoded)
            else:
                encoded = found
        for index, failure in encoded.unsendable.items():
            outcomes[index] = failure
        return encoded

    @staticmethod
    def _encode(calls: Sequence[Call]) -> EncodedBatch:
        """Encode every call; one whose arguments cannot be sent is answered at once.

        That is the grader's mistake, not the student's, and it concerns that call alone:
        the rest of the batch still runs (FailureKind.UNSENDABLE).
        """
        table = wire.BlobTable()
        args: list[dict[str, object] | None] = []
        unsendable: dict[int, CallOutcome] = {}
        for index, call in enumerate(calls):
            try:
                args.append(wire.encode_call_fields(call, table))
            except wire.UnsendableValue as exc:
                args.append(None)
                message = f"the grader cannot call {call.label}(): {exc}"
                unsendable[index] = _failed(FailureKind.UNSENDABLE, message)
        return EncodedBatch(args, table.blobs, unsendable)

    def _run_batch(
        self,
        calls: Sequence[Call],
        runnable: list[int],
        encoded: EncodedBatch,
        outcomes: list[CallOutcome | None],
    ) -> list[int]:
        """Run ``runnable`` in one request; return the calls left after a fatal failure."""
        process = self._process
        assert process is not None
        first_id = self._next_id
        self._next_id += len(runnable)
        where = (first_id, tuple(runnable))
        made = encoded.frames.get(where)
        if made is None:
            made = self._request(calls, runnable, encoded, first_id)
            SENT.keep_frame(encoded, where, *made)
        frame, budgets = made
        process.send(frame)
        sent = previous = time.monotonic()
        for position, index in enumerate(runnable):
            call = calls[index]
            call_deadline = previous + self.limits.call_seconds
            # The frame's sizes are checked against the call's budget as soon as its header
            # arrives, before its body is read or stored.
            process.reader.max_frame_bytes = budgets[position]
            process.reader.max_header_bytes = HEADER_BYTES
            try:
                event = process.next_frame(min(call_deadline, self._budget_deadline))
                now = time.monotonic()
                if isinstance(event, wire.Frame):
                    expected = first_id + position
                    outcome = wire.parse_result(event, call, expected, now - sent, now - previous)
                    outcomes[index] = _sharing_unchanged(call, outcome)
                    previous = now
                    continue
            except wire.OverBudget as exc:
                # The worker itself refuses to send such a reply: this one was forged, or
                # the header alone is too large. Its body is never read.
                message = (
                    f"a reply of {describe_size(exc.announced)}, where this call may return "
                    f"at most {describe_size(exc.budget)}"
                )
                outcomes[index] = _failed(
                    FailureKind.TOO_LARGE, message, time.monotonic() - previous
                )
                self._stop_process()
                return runnable[position + 1 :]
            except wire.WireError as exc:
                message = f"the reply to {call.label}() was not valid data: {exc}"
                outcomes[index] = _failed(
                    FailureKind.PROTOCOL, message, time.monotonic() - previous
                )
                self._stop_process()
                return runnable[position + 1 :]
            elapsed = now - previous
            if event is _Stop.TIMEOUT and self._budget_deadline <= call_deadline:
                outcomes[index] = _failed(FailureKind.BUDGET, self._budget_message(), elapsed)
            elif event is _Stop.TIMEOUT:
                message = (
                    f"{call.label}() did not return within {self.limits.call_seconds:g} s; "
                    "the worker was stopped"
                )
                outcomes[index] = _failed(FailureKind.TIMEOUT, message, elapsed)
                self._failures[call.function] += 1
            else:
                process.kill()
                message = f"{process.death()} during {call.label}()"
                outcomes[index] = _failed(FailureKind.CRASH, message, elapsed)
                self._failures[call.function] += 1
            self._stop_process()
            return runnable[position + 1 :]
        return []

    def _request(
        self, calls: Sequence[Call], runnable: list[int], encoded: EncodedBatch, first_id: int
    ) -> tuple[bytes, list[int]]:
        """The request frame running ``runnable``, and each call's reply budget."""
        requests = []
        budgets = [min(reply_budget(calls[i], self.limits), self.max_frame_bytes) for i in runnable]
        for position, index in enumerate(runnable):
            call_args = encoded.args[index]
            assert call_args is not None  # unsendable calls were answered before
            requests.append(
                {
                    "id": first_id + position,
                    "function": calls[index].function,
                    **call_args,
                    "trace": calls[index].trace,
                    "echo_args": calls[index].echo_args,
                    "max_reply_bytes": budgets[position],
                }
            )
        frame = wire.request_frame(requests, encoded.blobs, max_reply_bytes=self.max_frame_bytes)
        return frame, budgets

    def _budget_message(self) -> str:
        return f"the submission's time budget of {self.limits.submission_seconds:g} s ran out"

    @staticmethod
    def _fill(
        outcomes: list[CallOutcome | None],
        indices: list[int],
        kind: FailureKind,
        message: str,
    ) -> None:
        for index in indices:
            if outcomes[index] is None:
                outcomes[index] = _failed(kind, message)

    # -- process lifecycle -------------------------------------------------------------

    def _spawn(self) -> ImportReport:
        """Start a fresh worker in a fresh scratch dir and import the graded file."""
        self._stop_process()
        # The layer makes a new scratch directory per process: a previous process may
        # have edited its copy.
        started = time.monotonic()
        try:
            handle = self.layer.start_worker(
                self._source, self.graded_file.name, self.module_name, self.limits
            )
        except OSError as exc:
            raise WorkerError(f"cannot start the worker ({self.layer.name}): {exc}") from exc
        process = _Process(handle, self._output, self.max_frame_bytes)
        self._process = process
        self._await_ready(process)
        self._excuse_since(started)
        name = self.graded_file.name
        deadline = time.monotonic() + self.limits.call_seconds
        try:
            event = process.next_frame(min(deadline, self._budget_deadline))
            if isinstance(event, wire.Frame):
                report = wire.parse_import(event, name)
                if not report.ok:
                    self._stop_process()
                return report
        except wire.WireError as exc:
            self._stop_process()
            return _failed_import(
                FailureKind.PROTOCOL, f"importing {name} sent invalid data: {exc}"
            )
        if event is _Stop.TIMEOUT and self._budget_deadline <= deadline:
            self._stop_process()
            return _failed_import(FailureKind.BUDGET, self._budget_message())
        if event is _Stop.TIMEOUT:
            self._stop_process()
            seconds = self.limits.call_seconds
            message = f"importing {name} took longer than {seconds:g} s"
            return _failed_import(FailureKind.TIMEOUT, message)
        process.kill()
        message = f"{process.death()} while importing {name}"
        self._stop_process()
        return _failed_import(FailureKind.CRASH, message)

    def _await_ready(self, process: _Process) -> None:
        # Until "ready" no student code has run, so any failure here is ours.
        try:
            event = process.next_frame(time.monotonic() + STARTUP_SECONDS)
        except wire.WireError as exc:
            event = None
            problem = str(exc)
        if isinstance(event, wire.Frame):
            if event.header == {"op": "ready", "blobs": []}:
                return
            problem = "its first message was not 'ready'"
        elif event is _Stop.TIMEOUT:
            problem = f"not ready within {STARTUP_SECONDS:g} s"
        elif event is _Stop.CLOSED:
            process.kill()
            problem = process.death()
        self._stop_process()
        tail = self._output.text()[-2000:]
        raise WorkerError(
            f"the worker ({self.layer.name}) failed to start: {problem}\n{tail}".rstrip(),
            hint="check that numpy imports in `python -I` with the configured memory limit",
        )

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None


# -- outcomes -------------------------------------------------------------------------------


def _sharing_unchanged(call: Call, outcome: CallOutcome) -> CallOutcome:
    """``outcome``, its echoed arguments that came back unchanged replaced by those sent.

    Replies are kept in the submission's call cache: an unchanged argument (the usual
    case) then costs no memory of its own, since the arguments are the drawn cases every
    check and student share.
    """
    if outcome.args_after is None or len(outcome.args_after) != len(call.args):
        return outcome
    shared = tuple(
        _same_or(sent, back) for sent, back in zip(call.args, outcome.args_after, strict=True)
    )
    return replace(outcome, args_after=shared)


def _same_or(sent: Value, back: Value) -> Value:
    if isinstance(sent, np.ndarray) and isinstance(back, np.ndarray):
        same = sent.dtype == back.dtype and sent.shape == back.shape
        return sent if same and sent.tobytes() == back.tobytes() else back
    if isinstance(sent, tuple | list) and isinstance(back, tuple) and len(sent) == len(back):
        items = tuple(_same_or(a, b) for a, b in zip(sent, back, strict=True))
        return items
    if isinstance(sent, dict) and isinstance(back, dict) and list(sent) == list(back):
        return {key: _same_or(sent[key], back[key]) for key in back}
    return back


def _failed(kind: FailureKind, message: str, seconds: float = 0.0) -> CallOutcome:
    return CallOutcome(failure=StudentFailure(kind, message), seconds=seconds)


def _failed_import(kind: FailureKind, message: str) -> ImportReport:
    return ImportReport(ok=False, failure=StudentFailure(kind, message))


def _unanswered() -> CallOutcome:
    return _failed(FailureKind.SKIPPED, "not run")


def _is_budget(failure: StudentFailure | None) -> bool:
    return failure is not None and failure.kind is FailureKind.BUDGET
