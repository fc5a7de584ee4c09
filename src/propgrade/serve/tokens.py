"""The roster's tokens: one random token per student and one for the instructor.

Only their sha256 is stored. The tokens are written once, to a CSV for a mail merge, and
never again: a lost token is replaced by issuing the roster again for that student.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from propgrade.errors import PropgradeError
from propgrade.serve.db import people, reader

STUDENT = "student"
INSTRUCTOR = "instructor"
INSTRUCTOR_NAME = "instructor"  # the roster's reserved id for the instructor's token
TOKEN_BYTES = 24  # 192 random bits: guessing one is out of reach, and rate limits add more


class RosterError(PropgradeError):
    """The roster file cannot be used."""


@dataclass(frozen=True)
class Person:
    student: str
    role: str


@dataclass(frozen=True)
class Issued:
    student: str
    email: str
    token: str
    role: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def csrf_token(token: str) -> str:
    """The form token bound to a signed-in token: only its holder can compute it."""
    return hmac.new(token.encode(), b"propgrade-csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(token: str, sent: str) -> bool:
    return hmac.compare_digest(csrf_token(token), sent)


def read_roster(path: Path) -> list[tuple[str, str]]:
    """(student, email) rows of a CSV whose header has ``student`` (or ``id``) and
    optionally ``email``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    key = "student" if "student" in fields else "id" if "id" in fields else None
    if key is None:
        raise RosterError(
            f"{path}: the roster needs a 'student' column",
            hint="first line e.g. student,email; then one student per line",
        )
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        student = row.get(key, "")
        if not student:
            continue
        if student == INSTRUCTOR_NAME or "/" in student or student.startswith("."):
            raise RosterError(f"{path}:{number}: {student!r} cannot be a student id")
        if student in seen:
            raise RosterError(f"{path}:{number}: {student!r} is listed twice")
        seen.add(student)
        rows.append((student, row.get("email", "")))
    if not rows:
        raise RosterError(f"{path}: the roster lists no students")
    return rows


def issue(
    engine: sa.Engine, roster: Sequence[tuple[str, str]], *, instructor: bool = True
) -> list[Issued]:
    """A fresh token for every student of ``roster`` (and the instructor): earlier tokens
    of these students stop working."""
    issued = [Issued(s, e, new_token(), STUDENT) for s, e in roster]
    if instructor:
        issued.append(Issued(INSTRUCTOR_NAME, "", new_token(), INSTRUCTOR))
    with engine.begin() as conn:
        for entry in issued:
            conn.execute(sa.delete(people).where(people.c.student == entry.student))
            conn.execute(
                sa.insert(people).values(
                    student=entry.student,
                    role=entry.role,
                    token_sha256=digest(entry.token),
                    email=entry.email,
                )
            )
    return issued


def write_mail_merge(path: Path, issued: Sequence[Issued], server_url: str) -> Path:
    """The CSV a mail merge sends: student, email, token, and where to submit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "email", "role", "token", "server"])
    for entry in issued:
        writer.writerow([entry.student, entry.email, entry.role, entry.token, server_url])
    # It holds every token in clear: readable by its owner only, from the first byte on.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())
    return path


def who(engine: sa.Engine, token: str) -> Person | None:
    """The person a token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    with reader(engine).connect() as conn:
        row = conn.execute(
            sa.select(people.c.student, people.c.role).where(people.c.token_sha256 == digest(token))
        ).first()
    return None if row is None else Person(row.student, row.role)
