"""Two ``propgrade serve`` processes on one PostgreSQL database share the grading.

Both take uploads, into one shared folder, and their workers claim submissions with
``SELECT ... FOR UPDATE SKIP LOCKED``: every submission is graded exactly once, and both
servers grade some.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import needs_full
from serve_helpers import SLOW, Server, database, issue_tokens, rows, running, write_course

pytestmark = [pytest.mark.sandbox, needs_full]


def test_two_servers_share_the_work_without_grading_one_twice(tmp_path: Path) -> None:
    course = write_course(tmp_path)
    out = course / "out"
    db = database("postgresql", out)
    tokens = issue_tokens(course, out, db)
    students = ("alice", "bob", "carol")
    count = 8
    with (
        running(Server(course, out, db=db, jobs=1)) as one,
        running(Server(course, out, db=db, jobs=1)) as two,
    ):
        submitted = []
        for n in range(count):
            server = (one, two)[n % 2]
            student = students[n % len(students)]
            answer = server.submit(tokens[student], "double.py", f"{SLOW}# {n}\n".encode())
            assert answer.status == 201, answer.body
            submitted.append((student, answer.json()["id"]))
        for n, (student, sid) in enumerate(submitted):
            # Each server answers for every submission, whichever took it in.
            (two, one)[n % 2].wait_done(tokens[student], sid)
        servers = {one.proc.pid, two.proc.pid}  # type: ignore[union-attr]
    graded = rows(
        db,
        "select submission_id, count(*), min(worker) from events where kind = 'graded' "
        "group by submission_id",
    )
    assert len(graded) == count and all(n == 1 for _, n, _ in graded), graded
    # Worker names are host:server-pid:n: both servers graded some of the work.
    by = {int(str(worker).split(":")[1]) for _, _, worker in graded}
    assert by == servers
