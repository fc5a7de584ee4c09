"""``propgrade serve`` as students and the instructor use it, over HTTP on loopback.

One real server (a ``propgrade serve`` process with its grading workers) serves a tiny
course whose due date is a day away; the late-policy tests have their own server with a
due date in the past. Grading goes through the full sandbox layer, as in a course.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import needs_full
from serve_helpers import (
    BACKENDS,
    HOSTILE,
    HOSTILE_ID,
    HOSTILE_TEXT,
    REFERENCE_MARKER,
    RIGHT,
    WRONG,
    Server,
    csrf_of,
    database,
    issue_tokens,
    notebook,
    propgrade,
    rows,
    running,
    write_course,
)

from propgrade.serve.tokens import digest

pytestmark = [pytest.mark.sandbox, needs_full]

PER_HOUR = 4


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def course(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    return write_course(tmp_path_factory.mktemp(backend), due=due, per_hour=PER_HOUR)


@pytest.fixture(scope="module")
def db(backend: str, course: Path) -> str:
    (course / "out").mkdir(exist_ok=True)
    return database(backend, course / "out")


@pytest.fixture(scope="module")
def tokens(course: Path, db: str) -> dict[str, str]:
    return issue_tokens(course, course / "out", db)


@pytest.fixture(scope="module")
def server(course: Path, db: str, tokens: dict[str, str]) -> Iterator[Server]:
    with running(Server(course, course / "out", db=db)) as server:
        yield server


def test_roster_stores_only_hashes_and_writes_a_private_mail_merge(
    course: Path, db: str, tokens: dict[str, str]
) -> None:
    assert set(tokens) == {"alice", "bob", "carol", HOSTILE_ID, "instructor"}
    stored = dict(rows(db, "select student, token_sha256 from people"))
    everything = repr(rows(db, "select * from people"))
    for student, token in tokens.items():
        assert stored[student] == digest(token)
        assert token not in everything
    mode = stat.S_IMODE((course / "out" / "tokens.csv").stat().st_mode)
    assert mode == 0o600


def test_a_submission_is_graded_and_shows_visible_checks_before_the_due_date(
    server: Server, tokens: dict[str, str]
) -> None:
    answer = server.submit(tokens["alice"], "double.py", WRONG.encode())
    assert answer.status == 201, answer.body
    view = server.wait_done(tokens["alice"], answer.json()["id"])
    # Before the due date only the visible check counts: 0 of its 1 point.
    assert (view["score"], view["max_score"], view["complete"]) == (0, 1, False)
    alice = server.browser(tokens["alice"])
    feedback = alice.get(view["feedback"])
    assert feedback.status == 200
    assert "doubles" in feedback.body
    assert "available after the due date" in feedback.body  # matches_reference withheld


def test_a_notebook_is_graded_like_the_graded_file(server: Server, tokens: dict[str, str]) -> None:
    answer = server.submit(tokens["bob"], "homework.ipynb", notebook(RIGHT).encode())
    assert answer.status == 201, answer.body
    view = server.wait_done(tokens["bob"], answer.json()["id"])
    assert (view["score"], view["max_score"]) == (1, 1)


def test_the_same_file_twice_is_one_attempt(
    db: str, server: Server, tokens: dict[str, str]
) -> None:
    content = (RIGHT + "# carol\n").encode()
    first = server.submit(tokens["carol"], "double.py", content)
    second = server.submit(tokens["carol"], "double.py", content)
    assert (first.status, second.status) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and second.json()["new"] is False
    count = rows(db, "select count(*) from submissions where student = 'carol'")
    assert count == [(1,)]


@pytest.mark.parametrize(
    ("filename", "content", "status"),
    [
        ("double.py", b"#" * (1024 * 1024 + 1), 413),  # file_kb defaults to 1024
        ("other.py", RIGHT.encode(), 415),
        ("double.py", b"", 400),
    ],
)
def test_the_intake_refuses_before_anything_is_stored(
    course: Path,
    db: str,
    server: Server,
    tokens: dict[str, str],
    filename: str,
    content: bytes,
    status: int,
) -> None:
    before = rows(db, "select count(*) from submissions")
    uploads = (
        sorted((course / "out" / "uploads").iterdir())
        if (course / "out" / "uploads").exists()
        else []
    )
    answer = server.submit(tokens["carol"], filename, content)
    assert answer.status == status, answer.body
    assert rows(db, "select count(*) from submissions") == before
    after = (
        sorted((course / "out" / "uploads").iterdir())
        if (course / "out" / "uploads").exists()
        else []
    )
    assert after == uploads


def test_attempts_per_hour_are_refused_with_retry_after(
    db: str, server: Server, tokens: dict[str, str]
) -> None:
    student = tokens[HOSTILE_ID]
    for n in range(PER_HOUR):
        assert server.submit(student, "double.py", f"{RIGHT}# {n}\n".encode()).status == 201
    refused = server.submit(student, "double.py", f"{RIGHT}# one more\n".encode())
    assert refused.status == 429
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    # An earlier attempt sent again is that attempt, not a new one: never refused.
    assert server.submit(student, "double.py", f"{RIGHT}# 0\n".encode()).status == 200
    query = "select count(*) from submissions where student = :student"
    assert rows(db, query, student=HOSTILE_ID) == [(PER_HOUR,)]


def test_students_see_only_their_own_submissions(server: Server, tokens: dict[str, str]) -> None:
    mine = server.submit(tokens["alice"], "double.py", (RIGHT + "# mine\n").encode()).json()
    server.wait_done(tokens["alice"], mine["id"])
    sid = mine["id"]
    # Another student's token, by id: the same answer as an id that does not exist.
    assert server.get(f"/api/submissions/{sid}", tokens["bob"]).status == 404
    assert server.get("/api/submissions/AAAAAAAAAAAAAAAA", tokens["bob"]).status == 404
    assert sid not in server.get("/api/submissions", tokens["bob"]).body
    # No token, or a made-up one.
    assert server.get(f"/api/submissions/{sid}").status == 401
    assert server.get(f"/api/submissions/{sid}", "x" * 32).status == 401
    # The pages, signed in as bob: guessed URLs of alice's status and feedback.
    bob = server.browser(tokens["bob"])
    for path in (f"/s/{sid}", f"/s/{sid}/feedback"):
        answer = bob.get(path)
        assert answer.status == 404 and "alice" not in answer.body
    assert "alice" not in bob.get("/").body
    # Not signed in: the sign-in page, not the submission.
    anonymous = server.request("GET", f"/s/{sid}/feedback")
    assert "Sign in" in anonymous.body and "doubles" not in anonymous.body
    # A student is not the instructor.
    assert bob.get("/instructor").status == 404
    assert bob.get("/instructor/grades.csv").status == 404
    # The owner and the instructor do see it.
    assert server.browser(tokens["alice"]).get(f"/s/{sid}/feedback").status == 200
    assert server.browser(tokens["instructor"]).get(f"/s/{sid}/feedback").status == 200


def test_forms_without_the_csrf_token_are_refused(
    db: str, server: Server, tokens: dict[str, str]
) -> None:
    alice = server.browser(tokens["alice"])
    before = rows(db, "select count(*) from submissions")
    content = (RIGHT + "# csrf\n").encode()
    assert alice.upload("double.py", content, csrf=None).status == 403
    assert alice.upload("double.py", content, csrf="0" * 32).status == 403
    # Bob's form token does not work in alice's session.
    bob_csrf = csrf_of(server.browser(tokens["bob"]).get("/").body)
    assert alice.upload("double.py", content, csrf=bob_csrf).status == 403
    assert rows(db, "select count(*) from submissions") == before
    instructor = server.browser(tokens["instructor"])
    assert instructor.post_form("/instructor/regrade", {}).status == 403
    # With its own token the same upload goes through.
    ok = alice.upload("double.py", content, csrf=csrf_of(alice.get("/").body))
    assert ok.status == 200 and "Your submission" in ok.body


def test_pages_escape_what_students_control(server: Server, tokens: dict[str, str]) -> None:
    answer = server.submit(tokens["alice"], "double.py", HOSTILE.encode())
    view = server.wait_done(tokens["alice"], answer.json()["id"])
    alice = server.browser(tokens["alice"])
    feedback = alice.get(view["feedback"]).body
    assert "ValueError" in feedback
    assert HOSTILE_TEXT not in feedback and "<script>alert" not in feedback
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in feedback
    instructor = server.browser(tokens["instructor"])
    for path in ("/instructor", "/instructor/class/report.html", "/"):
        body = instructor.get(path).body
        assert HOSTILE_ID not in body and "<img src=x" not in body
    hostile = server.browser(tokens[HOSTILE_ID])
    home = hostile.get("/")
    assert "<img src=x" not in home.body and "&lt;img src=x" in home.body
    assert "script-src" not in home.headers["content-security-policy"]  # no script allowed
    assert "default-src 'none'" in home.headers["content-security-policy"]


def test_the_instructor_dashboard_exports_the_counted_attempts(
    server: Server, tokens: dict[str, str]
) -> None:
    for content in (RIGHT + "# first\n", WRONG + "# then\n"):
        view = server.submit(tokens["bob"], "double.py", content.encode()).json()
        server.wait_done(tokens["bob"], view["id"])
    instructor = server.browser(tokens["instructor"])
    board = instructor.get("/instructor")
    assert board.status == 200 and "Counted (latest)" in board.body
    grades = instructor.get("/instructor/grades.csv")
    table = {row["student"]: row for row in csv.DictReader(io.StringIO(grades.body))}
    # The latest attempt counts (grading.yaml: counts: latest), every check included.
    assert table["bob"]["doubles"] == "0" and table["bob"]["matches_reference"] == "0"
    report = instructor.get("/instructor/class/report.html")
    assert report.status == 200 and "Class report" in report.body
    assert instructor.get("/instructor/class/bob/feedback.html").status == 200


def test_no_response_holds_the_reference_or_a_token(server: Server, tokens: dict[str, str]) -> None:
    # Every way a token travels: the API's header, the sign-in form, the session cookie.
    view = server.submit(tokens["carol"], "double.py", (WRONG + "# leak check\n").encode())
    server.wait_done(tokens["carol"], view.json()["id"])
    carol = server.browser(tokens["carol"])
    carol.get(view.json()["feedback"])
    instructor = server.browser(tokens["instructor"])
    for path in ("/instructor", "/instructor/class/report.html", "/instructor/grades.csv", "/"):
        instructor.get(path)
    for body in server.seen:
        assert REFERENCE_MARKER not in body
    assert server.log is not None
    log = server.log.read_text()
    assert "POST /api/submissions" in log and "POST /login" in log  # the access log is on
    for token in tokens.values():
        assert token not in log


def test_regrade_all_grades_every_submission_again(
    db: str, server: Server, tokens: dict[str, str]
) -> None:
    instructor = server.browser(tokens["instructor"])
    done = rows(db, "select count(*) from submissions where status = 'done'")[0][0]
    board = instructor.get("/instructor")
    assert instructor.post_form("/instructor/regrade", {"csrf": csrf_of(board.body)}).status == 200
    deadline = time.monotonic() + 240
    while rows(db, "select count(*) from submissions where status != 'done'") != [(0,)]:
        assert time.monotonic() < deadline, "the regrade did not finish"
        time.sleep(0.5)
    graded = dict(
        rows(
            db,
            "select submission_id, count(*) from events where kind = 'graded' "
            "group by submission_id",
        )
    )
    assert sum(1 for count in graded.values() if count == 2) == done


def test_release_before_the_due_date_is_refused(server: Server, tokens: dict[str, str]) -> None:
    instructor = server.browser(tokens["instructor"])
    board = instructor.get("/instructor")
    assert "Release is possible after the due date" in board.body
    answer = instructor.post_form("/instructor/release", {"csrf": csrf_of(board.body)})
    assert answer.status == 409


def test_submit_prints_the_score_and_the_page(
    server: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "double.py").write_text(RIGHT + "# from the command line\n")
    done = propgrade(
        "submit",
        "double.py",
        "--server",
        server.url,
        cwd=tmp_path,
        env={"PROPGRADE_TOKEN": tokens["carol"]},
    )
    assert done.returncode == 0, done.stderr
    assert "score: 1 / 1 so far (visible checks only)" in done.stdout
    assert f"feedback: {server.url}/s/" in done.stdout
    (tmp_path / "token").write_text(tokens["carol"] + "\n")
    again = propgrade(
        "submit",
        "double.py",
        "--server",
        server.url,
        "--token-file",
        "token",
        cwd=tmp_path,
        env={"PROPGRADE_TOKEN": ""},
    )
    assert again.returncode == 0 and "submitted before" in again.stderr
    refused = propgrade(
        "submit", "double.py", "--server", server.url, cwd=tmp_path, env={"PROPGRADE_TOKEN": "nope"}
    )
    assert refused.returncode == 2 and "401" in refused.stderr


# -- the due date and the late policy, by the server's receipt time -----------------------


@pytest.fixture(scope="module")
def late_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A day and a half ago: an upload now is 2 started days late, 25% off per day.
    due = (datetime.now(UTC) - timedelta(days=1, hours=12)).isoformat(timespec="seconds")
    return write_course(tmp_path_factory.mktemp("late"), due=due, late=True, counts="best")


def test_late_penalty_by_receipt_time_and_release_after_the_due_date(late_course: Path) -> None:
    tokens = issue_tokens(late_course, late_course / "out")
    with running(Server(late_course, late_course / "out", jobs=1)) as server:
        view = server.submit(tokens["alice"], "double.py", RIGHT.encode()).json()
        view = server.wait_done(tokens["alice"], view["id"])
        # Before release: the visible check alone, and the lateness said.
        assert (view["score"], view["max_score"], view["complete"]) == (1, 1, False)
        assert view["late"] == "2 days late: 50% off"
        instructor = server.browser(tokens["instructor"])
        board = instructor.get("/instructor")
        assert "Counted (best)" in board.body
        assert (
            instructor.post_form("/instructor/release", {"csrf": csrf_of(board.body)}).status == 200
        )
        released = server.get(f"/api/submissions/{view['id']}", tokens["alice"]).json()
        # All 4 points, less 50% for two days late.
        assert (released["score"], released["max_score"], released["complete"]) == (2, 4, True)
        page = server.browser(tokens["alice"]).get(view["feedback"]).body
        assert "available after the due date" not in page and "2 of 2 checks passed" in page
        assert "Late penalty: −2 (2 days late: 50% off)" in page
        grades = instructor.get("/instructor/grades.csv").body
        alice = next(r for r in csv.DictReader(io.StringIO(grades)) if r["student"] == "alice")
        assert alice["late_days"] == "2" and alice["score"] == "2"
        assert os.path.exists(late_course / "out" / "serve.sqlite3-wal")  # WAL mode
