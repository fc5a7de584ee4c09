"""Nothing is lost: a server killed mid-grade, or a grading worker killed mid-grade.

Real processes and real signals: ``propgrade serve`` is SIGKILLed while its workers grade
slow submissions (each call sleeps a second), then started again on the same folder; or
its workers are SIGKILLed while the server lives. Every submission is then graded, and
graded exactly once: the events table has one ``graded`` per submission.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import needs_full
from serve_helpers import (
    BACKENDS,
    DEADLINE,
    SLOW,
    Server,
    database,
    issue_tokens,
    rows,
    running,
    write_course,
)

pytestmark = [pytest.mark.sandbox, needs_full]

STUDENTS = ("alice", "bob", "carol")


# PostgreSQL has no start-up lock: a dead server's claims are taken over when their
# lease runs out, so its servers here hold short leases.
LEASE = {"sqlite": 30.0, "postgresql": 5.0}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def submit_slow(server: Server, tokens: dict[str, str], count: int) -> list[str]:
    ids = []
    for n in range(count):
        student = STUDENTS[n % len(STUDENTS)]
        answer = server.submit(tokens[student], "double.py", f"{SLOW}# {n}\n".encode())
        assert answer.status == 201, answer.body
        ids.append(answer.json()["id"])
    return ids


def graded_once(db: str, count: int) -> None:
    assert rows(db, "select count(*), min(status), max(status) from submissions") == [
        (count, "done", "done")
    ]
    graded = rows(
        db,
        "select s.public_id, count(e.id) from submissions s left join events e "
        "on e.submission_id = s.id and e.kind = 'graded' group by s.id",
    )
    assert sorted(n for _, n in graded) == [1] * count, graded


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent, the killed server, never reaped it).
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_server_killed_mid_grade_grades_its_unfinished_work_once_on_restart(
    tmp_path: Path, backend: str
) -> None:
    course = write_course(tmp_path)
    out = course / "out"
    db = database(backend, out)
    tokens = issue_tokens(course, out, db)
    count = 4
    first = Server(course, out, db=db, jobs=2, lease=LEASE[backend]).start()
    try:
        submit_slow(first, tokens, count)
        wait_for(
            lambda: rows(db, "select count(*) from events where kind = 'claimed'")[0][0],
            "a claim",
        )
        workers = first.worker_pids()
        assert workers
        first.kill()
        # Its workers die with it, mid-grade: nothing was finished.
        wait_for(lambda: not any(alive(pid) for pid in workers), "the workers died")
    finally:
        first.stop()
    unfinished = rows(db, "select count(*) from submissions where status != 'done'")[0][0]
    assert unfinished > 0
    assert rows(db, "select count(*) from submissions where status = 'grading'")[0][0] > 0
    with running(Server(course, out, db=db, jobs=2, lease=LEASE[backend])) as second:
        for sid, student in rows(db, "select public_id, student from submissions"):
            second.wait_done(tokens[str(student)], str(sid))
    graded_once(db, count)
    assert rows(db, "select count(*) from events where kind = 'requeued'")[0][0] > 0


def test_a_worker_killed_mid_grade_is_replaced_and_its_work_graded_once(
    tmp_path: Path, backend: str
) -> None:
    course = write_course(tmp_path)
    out = course / "out"
    db = database(backend, out)
    tokens = issue_tokens(course, out, db)
    count = 3
    with running(Server(course, out, db=db, jobs=1, lease=LEASE[backend])) as server:
        ids = submit_slow(server, tokens, count)
        wait_for(
            lambda: rows(db, "select count(*) from submissions where status = 'grading'")[0][0],
            "a grade is in flight",
        )
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        for n, sid in enumerate(ids):
            server.wait_done(tokens[STUDENTS[n % len(STUDENTS)]], sid)
        assert worker not in server.worker_pids() and len(server.worker_pids()) == 1
    graded_once(db, count)
    requeued = rows(db, "select count(*) from events where kind = 'requeued'")[0][0]
    assert requeued == 1
