"""Every read and write of submissions, in one place, so the rules hold everywhere:

- an upload is on disk (fsynced) and in the database before it is acknowledged;
- the same bytes from the same student are one attempt;
- a submission is claimed by one worker at a time, under a lease that the worker renews;
  a result is written only by the worker that holds the claim, so no submission is
  graded twice, and one whose worker died is claimed again once its lease runs out.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from propgrade.engine.results import SubmissionResult
from propgrade.serve.db import (
    DONE,
    GRADING,
    QUEUED,
    events,
    is_sqlite,
    people,
    reader,
    settings,
    submissions,
)

UPLOADS = "uploads"
MAX_TRIES = 3  # a submission whose grading killed its worker this often is not retried


@dataclass(frozen=True)
class Stored:
    id: int
    public_id: str
    student: str
    assignment: str
    filename: str
    received_at: datetime
    status: str
    score: float | None
    max_score: float | None
    tries: int
    result_json: str | None

    def result(self) -> SubmissionResult | None:
        if self.result_json is None:
            return None
        return SubmissionResult.from_dict(json.loads(self.result_json))


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one stored here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stored(row: Any) -> Stored:
    return Stored(
        row.id,
        row.public_id,
        row.student,
        row.assignment,
        row.filename,
        aware(row.received_at),
        row.status,
        row.score,
        row.max_score,
        row.tries,
        row.result_json,
    )


def folder_of(out: Path, public_id: str) -> Path:
    return out / UPLOADS / public_id


def _log(conn: sa.Connection, submission_id: int, kind: str, worker: str = "") -> None:
    conn.execute(
        sa.insert(events).values(submission_id=submission_id, kind=kind, worker=worker, at=now())
    )


def find_same(engine: sa.Engine, student: str, assignment: str, sha256: str) -> Stored | None:
    with reader(engine).connect() as conn:
        row = conn.execute(
            sa.select(submissions).where(
                submissions.c.student == student,
                submissions.c.assignment == assignment,
                submissions.c.sha256 == sha256,
            )
        ).first()
    return None if row is None else _stored(row)


class RateLimited(Exception):
    """Too many attempts in the last hour: retry after ``retry_after`` seconds."""

    def __init__(self, per_hour: int, retry_after: int):
        super().__init__(f"at most {per_hour} attempts per hour: try again in {retry_after} s")
        self.per_hour = per_hour
        self.retry_after = retry_after


HOUR = timedelta(hours=1)


def receive(
    engine: sa.Engine,
    out: Path,
    student: str,
    assignment: str,
    filename: str,
    data: bytes,
    per_hour: int | None = None,
) -> tuple[Stored, bool]:
    """Store an upload; (its row, whether it is new). The same bytes again are the
    earlier attempt, never refused. A new attempt beyond ``per_hour`` in the last hour
    raises ``RateLimited``. ``filename`` is already checked against the intake's rules.

    One transaction per student at a time (SQLite: the database's write lock;
    PostgreSQL: the student's row, locked), so concurrent uploads cannot both slip under
    the limit."""
    sha256 = hashlib.sha256(data).hexdigest()
    same = find_same(engine, student, assignment, sha256)
    if same is not None:
        return same, False
    public_id = secrets.token_urlsafe(12)
    try:
        with engine.begin() as conn:
            if not is_sqlite(engine.url.render_as_string()):
                conn.execute(
                    sa.select(people.c.id).where(people.c.student == student).with_for_update()
                )
            same_row = conn.execute(
                sa.select(submissions.c.public_id).where(
                    submissions.c.student == student,
                    submissions.c.assignment == assignment,
                    submissions.c.sha256 == sha256,
                )
            ).first()
            if same_row is not None:
                public_id = same_row.public_id
                raise _AlreadyThere
            moment = now()
            if per_hour is not None:
                _check_rate(conn, student, assignment, per_hour, moment)
            folder = folder_of(out, public_id)
            folder.mkdir(parents=True)
            _write_durably(folder / filename, data)
            row_id = conn.execute(
                sa.insert(submissions)
                .values(
                    public_id=public_id,
                    student=student,
                    assignment=assignment,
                    sha256=sha256,
                    filename=filename,
                    received_at=moment,
                    status=QUEUED,
                    tries=0,
                )
                .returning(submissions.c.id)
            ).scalar_one()
            _log(conn, row_id, "received")
    except _AlreadyThere:
        stored = get(engine, public_id)
        assert stored is not None
        return stored, False
    except sa.exc.IntegrityError:
        # The same bytes raced in through another request: that one is the attempt.
        same = find_same(engine, student, assignment, sha256)
        if same is None:
            raise
        return same, False
    stored = get(engine, public_id)
    assert stored is not None
    return stored, True


class _AlreadyThere(Exception):
    pass


def _check_rate(
    conn: sa.Connection, student: str, assignment: str, per_hour: int, moment: datetime
) -> None:
    recent = [
        aware(r.received_at)
        for r in conn.execute(
            sa.select(submissions.c.received_at)
            .where(
                submissions.c.student == student,
                submissions.c.assignment == assignment,
                submissions.c.received_at > moment - HOUR,
            )
            .order_by(submissions.c.received_at)
        )
    ]
    if len(recent) < per_hour:
        return
    # The oldest attempt that still counts leaves the window first.
    free_at = recent[len(recent) - per_hour] + HOUR
    raise RateLimited(per_hour, max(1, math.ceil((free_at - moment).total_seconds())))


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def get(engine: sa.Engine, public_id: str) -> Stored | None:
    with reader(engine).connect() as conn:
        row = conn.execute(
            sa.select(submissions).where(submissions.c.public_id == public_id)
        ).first()
    return None if row is None else _stored(row)


def history(engine: sa.Engine, student: str, assignment: str) -> list[Stored]:
    """A student's attempts, newest first."""
    with reader(engine).connect() as conn:
        rows = conn.execute(
            sa.select(submissions)
            .where(submissions.c.student == student, submissions.c.assignment == assignment)
            .order_by(submissions.c.received_at.desc(), submissions.c.id.desc())
        ).all()
    return [_stored(r) for r in rows]


def everyone(engine: sa.Engine, assignment: str) -> list[Stored]:
    with reader(engine).connect() as conn:
        rows = conn.execute(
            sa.select(submissions)
            .where(submissions.c.assignment == assignment)
            .order_by(submissions.c.student, submissions.c.received_at, submissions.c.id)
        ).all()
    return [_stored(r) for r in rows]


def claim(engine: sa.Engine, assignment: str, worker: str, lease: float) -> Stored | None:
    """Take the oldest queued submission (or one whose worker's lease ran out) for
    ``worker``, or None. Two workers never get the same row: PostgreSQL locks it with
    SKIP LOCKED, SQLite's BEGIN IMMEDIATE lets one writer in at a time."""
    moment = now()
    claimable = sa.or_(
        submissions.c.status == QUEUED,
        sa.and_(submissions.c.status == GRADING, submissions.c.lease_until < moment),
    )
    query = (
        sa.select(submissions)
        .where(submissions.c.assignment == assignment, claimable)
        .order_by(submissions.c.received_at, submissions.c.id)
        .limit(1)
    )
    if not is_sqlite(engine.url.render_as_string()):
        query = query.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        row = conn.execute(query).first()
        if row is None:
            return None
        if row.status == GRADING:
            _log(conn, row.id, "requeued", row.claimed_by or "")
        conn.execute(
            sa.update(submissions)
            .where(submissions.c.id == row.id)
            .values(
                status=GRADING,
                claimed_by=worker,
                lease_until=moment + timedelta(seconds=lease),
                tries=submissions.c.tries + 1,
            )
        )
        _log(conn, row.id, "claimed", worker)
    return get(engine, row.public_id)


def renew(engine: sa.Engine, submission_id: int, worker: str, lease: float) -> bool:
    """Extend ``worker``'s lease; False when the claim is no longer its own."""
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(submissions)
            .where(
                submissions.c.id == submission_id,
                submissions.c.status == GRADING,
                submissions.c.claimed_by == worker,
            )
            .values(lease_until=now() + timedelta(seconds=lease))
        ).rowcount
    return bool(changed)


def finish(engine: sa.Engine, submission_id: int, worker: str, result: SubmissionResult) -> bool:
    """Store the result if ``worker`` still holds the claim; False (and nothing written)
    when another worker took it over."""
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(submissions)
            .where(
                submissions.c.id == submission_id,
                submissions.c.status == GRADING,
                submissions.c.claimed_by == worker,
            )
            .values(
                status=DONE,
                lease_until=None,
                graded_at=now(),
                score=result.score,
                max_score=result.max_score,
                result_json=json.dumps(result.to_dict()),
            )
        ).rowcount
        if changed:
            _log(conn, submission_id, "graded", worker)
    return bool(changed)


def release_claims(engine: sa.Engine, assignment: str) -> int:
    """Queue again what any worker was grading: only for a database no other server
    uses (SQLite under the server's lock), at start, when no worker of ours runs yet."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(submissions.c.id, submissions.c.claimed_by).where(
                submissions.c.assignment == assignment, submissions.c.status == GRADING
            )
        ).all()
        for row in rows:
            _log(conn, row.id, "requeued", row.claimed_by or "")
        conn.execute(
            sa.update(submissions)
            .where(submissions.c.assignment == assignment, submissions.c.status == GRADING)
            .values(status=QUEUED, claimed_by=None, lease_until=None)
        )
    return len(rows)


def regrade_all(engine: sa.Engine, assignment: str) -> int:
    """Queue every finished submission again (after a grader change)."""
    with engine.begin() as conn:
        ids = [
            r.id
            for r in conn.execute(
                sa.select(submissions.c.id).where(
                    submissions.c.assignment == assignment, submissions.c.status == DONE
                )
            )
        ]
        for submission_id in ids:
            _log(conn, submission_id, "regrade")
        conn.execute(
            sa.update(submissions)
            .where(submissions.c.id.in_(ids))
            .values(status=QUEUED, claimed_by=None, lease_until=None, tries=0)
        )
    return len(ids)


def event_counts(engine: sa.Engine, kind: str) -> dict[int, int]:
    """How many events of ``kind`` each submission has (e.g. "graded")."""
    with reader(engine).connect() as conn:
        rows = conn.execute(
            sa.select(events.c.submission_id, sa.func.count())
            .where(events.c.kind == kind)
            .group_by(events.c.submission_id)
        ).all()
    return {int(r[0]): int(r[1]) for r in rows}


def setting(engine: sa.Engine, key: str) -> str | None:
    with reader(engine).connect() as conn:
        return conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()


def set_setting(engine: sa.Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(settings).where(settings.c.key == key))
        conn.execute(sa.insert(settings).values(key=key, value=value))
