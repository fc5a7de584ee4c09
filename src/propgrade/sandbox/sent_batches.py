"""Batches of calls in wire form, remembered across the submissions one process grades.

Every student of an assignment is sent the same first round of calls (the drawn cases),
and the first rounds of a stage are mostly the same too: in the 42-student bench class,
78% of the calls were in a request frame byte-identical to one sent to an earlier
student. Encoding those calls and writing their frames again was about a tenth of the
grader's own CPU.

A batch is found by its calls' keys (``engine.proxies.call_key``: the function, its
tracing, and a digest of every argument's content and aliasing) together with the
worker's limits, which set each call's reply budget. What a remembered batch holds is a
function of exactly that: the calls' wire form, which calls could not be sent, and each
request frame built from it, per first call id and set of calls run. Nothing here comes
from a student: requests only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from propgrade.sandbox.calls import CallOutcome

# At most this many bytes of arrays and frames are remembered per process; the oldest
# batches go first. The batches that come back (first rounds) take a few MiB.
MAX_BYTES = 16 << 20
# Batches sent once are only noted (by hash), up to this many, before the note starts over.
MAX_SIGHTED = 1 << 14

FrameKey = tuple[int, tuple[int, ...]]  # the first call id, and the calls it runs


@dataclass
class EncodedBatch:
    """A batch's arguments in wire form, encoded once and reusable after a respawn."""

    args: list[dict[str, object] | None]  # args, kwargs, instance; None: could not be sent
    blobs: list[bytes]
    # The answers of the calls that could not be sent (the grader's mistake), by index.
    unsendable: dict[int, CallOutcome] = field(default_factory=dict)
    # Request frames built from this batch, each with its calls' reply budgets.
    frames: dict[FrameKey, tuple[bytes, list[int]]] = field(default_factory=dict)
    key: Hashable | None = None  # set while the batch is remembered

    @property
    def size(self) -> int:
        return sum(map(len, self.blobs)) + sum(len(f) for f, _ in self.frames.values())


class SentBatches:
    """Encoded batches by key, the most recently used kept within ``max_bytes``.

    A batch is kept from its second sending on. Most batches (a student's own shrinking,
    later rounds that depend on answers) are sent once; keeping those held thousands of
    containers that every full garbage collection walked again, which cost more than the
    encoding saved. A batch that does come back is encoded once more, then remembered.
    """

    def __init__(self, max_bytes: int = MAX_BYTES, max_sighted: int = MAX_SIGHTED) -> None:
        self.max_bytes = max_bytes
        self.max_sighted = max_sighted
        self._batches: OrderedDict[Hashable, EncodedBatch] = OrderedDict()
        self._bytes = 0
        self._sighted: set[int] = set()
        # Workers may run on several threads of one process (as layers allow).
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def find(self, key: Hashable) -> EncodedBatch | None:
        with self._lock:
            batch = self._batches.get(key)
            if batch is not None:
                self._batches.move_to_end(key)
            return batch

    def keep(self, key: Hashable, batch: EncodedBatch) -> None:
        """Remember ``batch`` if its key was sent before; otherwise note that it was."""
        sighting = hash(key)
        with self._lock:
            if key in self._batches:
                return
            if sighting not in self._sighted:
                if len(self._sighted) >= self.max_sighted:
                    self._sighted.clear()
                self._sighted.add(sighting)
                return
            batch.key = key
            self._batches[key] = batch
            self._grew(batch.size)

    def keep_frame(
        self, batch: EncodedBatch, where: FrameKey, frame: bytes, budgets: list[int]
    ) -> None:
        """Remember a frame built from ``batch``, if the batch itself is remembered."""
        with self._lock:
            if batch.key is None or self._batches.get(batch.key) is not batch:
                return
            batch.frames[where] = (frame, budgets)
            self._grew(len(frame))

    def _grew(self, added: int) -> None:
        self._bytes += added
        while self._bytes > self.max_bytes and self._batches:
            _, oldest = self._batches.popitem(last=False)
            self._bytes -= oldest.size
            oldest.key = None
