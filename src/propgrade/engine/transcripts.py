"""Property runs remembered across students: the same answers end the same way.

A property is a deterministic function of its case and of the answers its calls get (the
engine relies on that already: fibers and replaying give the same grades). So when every
call of a run on a drawn case gets exactly the answers an earlier student's run of that
case got, call for call, the run asks the same next calls and ends the same way: its body
need not run again. In the 42-student bench class, graded by one process, 79% of the runs
on drawn cases had answers identical to an earlier student's; not running their bodies
takes about a quarter off the grader's own CPU.

A run is remembered as a path in a tree per (check, case): each node holds the calls one
fetch of the body asked for, and leads, by the digests of their answers, to the next
fetch, or to how the run ended (``Ended``). ``Replay`` walks that tree for a new student.
As long as the answers are known ones it asks the same calls, in the same rounds, as the
body would; at the first unknown answer it stops, and the engine runs the body for real
(it fetches the answers it already has again and goes on from there), then adds the new
path. Only drawn cases are remembered (a shrunk case is a student's own), and only runs
that ended without a grader fault, whose error is the student's doing.

What an answer's digest covers is all a property can read of it, except ``seconds``: the
returned value with its types, the arrays' bytes, dtypes and shapes, the arguments after
the call, the traced event count, and a failure's kind, message and traceback. A verdict
that depends on how long a call took would differ between two runs of one submission and
is not supported. Nothing here is unpickled or imported from a student: answers are
reduced to digests, and what is kept (calls, errors) was made in this process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from propgrade.engine.proxies import CallKey
from propgrade.sandbox.calls import Call, CallOutcome, call_values

# At most this many bytes (arrays the kept calls and errors hold, plus an estimate per
# node) per process; past it, runs already kept are still replayed, new ones are not kept.
MAX_BYTES = 32 << 20
_NODE_BYTES = 400  # a node's containers, roughly
_CALL_BYTES = 250  # a kept call and its key, besides its arrays

Answers = tuple[bytes, ...]  # the digests of one fetch's answers, in the fetch's order


@dataclass(frozen=True)
class Ended:
    """How a run ended: the error it failed with (None: it held), or skipped (the case
    did not apply)."""

    error: BaseException | None
    skipped: bool


@dataclass
class _Fetch:
    """One fetch of a body: the calls it asked for, and what followed each set of answers."""

    keys: tuple[CallKey, ...]
    calls: tuple[Call, ...]
    after: dict[Answers, _Fetch | Ended] = field(default_factory=dict)


Node = _Fetch | Ended
Step = tuple[Sequence[CallKey], Sequence[Call]]  # a fetch as a fiber logs it


class AnswerDigests:
    """The digest of each answer of one submission's cache, computed once per key."""

    def __init__(self, cache: dict[CallKey, CallOutcome]) -> None:
        self._cache = cache
        self._digests: dict[CallKey, bytes] = {}

    def of(self, keys: Sequence[CallKey]) -> Answers | None:
        """The digests of the answers to ``keys``, or None while one is not in the cache."""
        digests = self._digests
        out = []
        for key in keys:
            digest = digests.get(key)
            if digest is None:
                outcome = self._cache.get(key)
                if outcome is None:
                    return None
                digest = digests[key] = answer_digest(outcome)
            out.append(digest)
        return tuple(out)


def answer_digest(outcome: CallOutcome) -> bytes:
    """A digest of everything a property can read of ``outcome`` but its ``seconds``."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, outcome.value)
    h.update(b"|t" + repr(outcome.trace_events).encode())
    if outcome.args_after is not None:
        h.update(b"|a")
        _feed(h, outcome.args_after)
    failure = outcome.failure
    if failure is not None:
        h.update(b"|f" + repr((failure.kind.value, failure.message, failure.traceback)).encode())
    return h.digest()


def _feed(h: Any, value: Any) -> None:
    kind = type(value)
    if isinstance(value, np.ndarray):
        # A subclass (np.matrix) arrives as SubclassArray, with its name: both are seen.
        name = getattr(value, "type_name", "") if kind is not np.ndarray else ""
        h.update(b"A" + name.encode() + value.dtype.str.encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif kind is tuple or kind is list:
        h.update(b"%s%d(" % (kind.__name__.encode(), len(value)))
        for item in value:
            _feed(h, item)
        h.update(b")")
    elif kind is dict:
        h.update(b"D%d{" % len(value))
        for key, item in value.items():
            _feed(h, key)
            _feed(h, item)
        h.update(b"}")
    else:
        # Numbers, str, None, Unsupported: the type and repr tell them apart (-0.0, nan).
        h.update(b"S" + kind.__qualname__.encode() + b":" + repr(value).encode() + b";")


class Replay:
    """One run of a drawn case, walked along the kept paths instead of running its body."""

    def __init__(self, node: Node, digests: AnswerDigests) -> None:
        self._node = node
        self._digests = digests
        self.waiting: dict[CallKey, Call] = {}
        self.ended: Ended | None = None
        self.diverged = False

    def resume(self, cache: dict[CallKey, CallOutcome]) -> None:
        """Walk on while the answers are in the cache and known: stop at a missing answer
        (``waiting``), at the end (``ended``), or at an answer no kept run got
        (``diverged``: the body must run)."""
        node = self._node
        while isinstance(node, _Fetch):
            answers = self._digests.of(node.keys)
            if answers is None:
                self.waiting = {}
                for key, call in zip(node.keys, node.calls, strict=True):
                    if key not in cache:
                        self.waiting.setdefault(key, call)
                self._node = node
                return
            following = node.after.get(answers)
            if following is None:
                self.diverged = True
                self._node = node
                return
            node = following
        self._node = node
        self.ended = node


class Transcripts:
    """The kept runs of one plan's drawn cases, by (check id, case index)."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        # The case each root was kept for, with it: a plan copied with other cases
        # (``dataclasses.replace``) shares this object, and must not replay these runs.
        self._roots: dict[tuple[str, int], tuple[Any, Node]] = {}
        # Runs whose body asked other calls after the same answers: never replayed.
        self._unstable: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._held: set[int] = set()  # ids of the arrays counted, kept alive by the nodes
        self.max_bytes = max_bytes
        self.size = 0
        self.replayed = 0  # runs that ended without running their body

    def replay(self, check_id: str, index: int, case: Any, digests: AnswerDigests) -> Replay | None:
        root = self._roots.get((check_id, index))
        if root is None or root[0] is not case:
            return None
        return Replay(root[1], digests)

    def keep(
        self,
        check_id: str,
        index: int,
        case: Any,
        steps: Sequence[Step],
        digests: AnswerDigests,
        ended: Ended,
    ) -> None:
        """Add a run's path: each fetch with its answers (all in the cache by now), then
        how it ended. A path that contradicts a kept one marks the case as not replayable."""
        where = (check_id, index)
        with self._lock:
            if where in self._unstable or self.size >= self.max_bytes:
                return
            root = self._roots.get(where)
            if root is not None and root[0] is not case:
                return
            if root is None:
                # The case's own arrays live as long as the plan: they cost nothing more.
                self._arrays(_fields(case))
            path: list[tuple[tuple[CallKey, ...], tuple[Call, ...], Answers]] = []
            for keys, calls in steps:
                answers = digests.of(keys)
                if answers is None:
                    return  # not answered after all (cannot happen for a finished run)
                path.append((tuple(keys), tuple(calls), answers))
            self._add(where, case, path, _bare(ended))

    def _add(
        self,
        where: tuple[str, int],
        case: Any,
        path: list[tuple[tuple[CallKey, ...], tuple[Call, ...], Answers]],
        ended: Ended,
    ) -> None:
        root = self._roots.get(where)
        node: Node | None = None if root is None else root[1]
        parent: _Fetch | None = None
        answers: Answers = ()
        for keys, calls, got in path:
            if node is None:
                node = _Fetch(keys, calls)
                self._attach(where, case, parent, answers, node)
                self.size += _NODE_BYTES + len(calls) * _CALL_BYTES + self._arrays(calls)
            elif not isinstance(node, _Fetch) or node.keys != keys:
                self._forget(where)
                return
            parent, answers = node, got
            node = node.after.get(got)
        if node is None:
            self._attach(where, case, parent, answers, ended)
            self.size += _NODE_BYTES + self._arrays(_error_values(ended.error))
        elif not _same_end(node, ended):
            self._forget(where)

    def _attach(
        self,
        where: tuple[str, int],
        case: Any,
        parent: _Fetch | None,
        answers: Answers,
        node: Node,
    ) -> None:
        if parent is None:
            self._roots[where] = (case, node)
        else:
            parent.after[answers] = node

    def _forget(self, where: tuple[str, int]) -> None:
        self._roots.pop(where, None)
        self._unstable.add(where)

    def _arrays(self, values: Any) -> int:
        """The bytes of the arrays in ``values`` not counted yet."""
        total = 0
        stack = [values]
        while stack:
            value = stack.pop()
            if isinstance(value, np.ndarray):
                if id(value) not in self._held:
                    self._held.add(id(value))
                    total += value.nbytes
            elif isinstance(value, tuple | list):
                stack.extend(value)
            elif isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, Call):
                stack.extend(call_values(value))
        return total


def _bare(ended: Ended) -> Ended:
    """``ended`` without the error's traceback and context, which hold the first run's
    frames (its case, its answers) alive for as long as the error is kept."""
    error = ended.error
    if error is not None:
        error.__traceback__ = None
        error.__context__ = None
        error.__cause__ = None
    return ended


def _fields(case: Any) -> tuple[Any, ...]:
    try:
        return tuple(vars(case).values())
    except TypeError:  # a case without a __dict__ (a tuple, a number)
        return (case,)


def _error_values(error: BaseException | None) -> tuple[Any, ...]:
    return (getattr(error, "expected", None), getattr(error, "got", None))


def _same_end(a: Node, b: Ended) -> bool:
    """Whether a kept end and a new one say the same (errors compared by type and text)."""
    if not isinstance(a, Ended) or a.skipped != b.skipped:
        return False
    if a.error is None or b.error is None:
        return a.error is b.error
    return type(a.error) is type(b.error) and str(a.error) == str(b.error)
