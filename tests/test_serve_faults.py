"""Nothing is lost: a server killed mid-grade, or a grading worker killed mid-grade.

Real processes and real signals: ``propgrade serve`` is SIGKILLed while its workers grade
slow submissions (each call sleeps a second), then started again on the same folder; or
its workers are SIGKILLed while the server lives. Every submission is then graded, and
graded exactly once: the events table has one ``graded`` per submission.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import needs_full
from serve_helpers import DEADLINE, SLOW, Server, issue_tokens, running, write_course

pytestmark = [pytest.mark.sandbox, needs_full]

STUDENTS = ("alice", "bob", "carol")


def query(out: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(out / "serve.sqlite3") as conn:
        return conn.execute(sql).fetchall()


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


def graded_once(out: Path, count: int) -> None:
    assert query(out, "select count(*), min(status), max(status) from submissions") == [
        (count, "done", "done")
    ]
    graded = query(
        out,
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
    tmp_path: Path,
) -> None:
    course = write_course(tmp_path)
    out = course / "out"
    tokens = issue_tokens(course, out)
    count = 4
    first = Server(course, out, jobs=2).start()
    try:
        submit_slow(first, tokens, count)
        wait_for(
            lambda: query(out, "select count(*) from events where kind = 'claimed'")[0][0],
            "a claim",
        )
        workers = first.worker_pids()
        assert workers
        first.kill()
        # Its workers die with it, mid-grade: nothing was finished.
        wait_for(lambda: not any(alive(pid) for pid in workers), "the workers died")
    finally:
        first.stop()
    unfinished = query(out, "select count(*) from submissions where status != 'done'")[0][0]
    assert unfinished > 0
    assert query(out, "select count(*) from submissions where status = 'grading'")[0][0] > 0
    with running(Server(course, out, jobs=2)) as second:
        for sid in [r[0] for r in query(out, "select public_id from submissions")]:
            student = query(out, f"select student from submissions where public_id = '{sid}'")[0][0]
            second.wait_done(tokens[str(student)], str(sid))
    graded_once(out, count)
    assert query(out, "select count(*) from events where kind = 'requeued'")[0][0] > 0


def test_a_worker_killed_mid_grade_is_replaced_and_its_work_graded_once(tmp_path: Path) -> None:
    course = write_course(tmp_path)
    out = course / "out"
    tokens = issue_tokens(course, out)
    count = 3
    with running(Server(course, out, jobs=1)) as server:
        ids = submit_slow(server, tokens, count)
        wait_for(
            lambda: query(out, "select count(*) from submissions where status = 'grading'")[0][0],
            "a grade is in flight",
        )
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        for n, sid in enumerate(ids):
            server.wait_done(tokens[STUDENTS[n % len(STUDENTS)]], sid)
        assert worker not in server.worker_pids() and len(server.worker_pids()) == 1
    graded_once(out, count)
    requeued = query(out, "select count(*) from events where kind = 'requeued'")[0][0]
    assert requeued == 1
