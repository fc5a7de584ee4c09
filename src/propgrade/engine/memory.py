"""The grading process's own memory limit, while it grades one submission.

Reply budgets (sandbox/budgets.py) bound what one call brings into the grading process;
this is the backstop behind them. While a submission is graded, the soft ``RLIMIT_AS``
of the process doing it (the batch's own process, a ``--jobs`` pool process, a Dask
worker) is lowered to the address space it has when grading starts plus
``limits.grader_memory_mb``. Counting from the start, not from zero, keeps the limit
meaningful in a process that already holds a course's graders and reference, threads
and their stacks, or a test session. Growing past it raises ``MemoryError`` in this
process, which ``grade_submission`` turns into that student's 0 with the reason; the soft
limit is set back afterwards (the hard limit is never touched, so it can be).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int] | None = None


def address_space_bytes() -> int | None:
    """This process's address space now, or None where /proc cannot say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def grading_memory_limit(extra_mb: int) -> Iterator[int | None]:
    """Allow the process ``extra_mb`` MiB more address space than it has now, until exit.

    Yields the limit set in bytes (None when none could be). Nested or concurrent uses in
    one process (threads of a Dask worker) share the first one's limit, and the last to
    leave restores the original.
    """
    global _depth, _saved
    with _lock:
        _depth += 1
        if _depth == 1:
            _saved = _lower(extra_mb)
        limit = None if _saved is None else resource.getrlimit(resource.RLIMIT_AS)[0]
    try:
        yield limit
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(resource.RLIMIT_AS, _saved)
                _saved = None


def _lower(extra_mb: int) -> tuple[int, int] | None:
    now = address_space_bytes()
    if now is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = now + (extra_mb << 20)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        return None  # already as low: leave it
    try:
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ValueError, OSError):
        return None
    return soft, hard
