"""What the service's routes share: the assignment and database (``Service``), which
score and checks an audience may see, and how an upload is read within the intake's
limits and stored."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse

from propgrade.config import AssignmentConfig
from propgrade.engine.results import SubmissionResult, format_points
from propgrade.engine.standing import Standing, standing_of
from propgrade.intake.late import assess
from propgrade.intake.student_ids import id_problem
from propgrade.reports.visibility import INSTRUCTOR, RELEASED, STUDENT, Disclosure, disclosure
from propgrade.serve import pages, store, tokens

RELEASED_KEY = "released"
# Multipart framing around the file: boundaries, headers, the CSRF field.
UPLOAD_OVERHEAD = 16 * 1024


class Refused(Exception):
    """An upload the intake does not take: the status and why."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Service:
    engine: sa.Engine
    out: Path
    assignment: AssignmentConfig

    @property
    def max_bytes(self) -> int:
        return self.assignment.limits.file_bytes

    def released(self) -> bool:
        due = self.assignment.due
        return (
            due is not None
            and store.now() >= due
            and store.setting(self.engine, RELEASED_KEY) == "yes"
        )

    def audience(self, person: tokens.Person) -> str:
        if person.role == tokens.INSTRUCTOR:
            return INSTRUCTOR
        return RELEASED if self.released() else STUDENT

    def standing(self, stored: store.Stored, result: SubmissionResult) -> Standing:
        # Late by the server's own receipt time: the one timestamp a student cannot set.
        lateness = assess(stored.received_at, self.assignment.due, self.assignment.late_policy)
        return standing_of(result, lateness)

    def shown_score(self, stored: store.Stored, audience: str) -> tuple[str, dict[str, Any]]:
        """The score this audience may see, as text and as JSON fields."""
        result = stored.result()
        if result is None:
            return "", {}
        standing = self.standing(stored, result)
        later = [c for c in result.checks if disclosure(c, audience) is not Disclosure.SHOWN]
        if later:
            shown = [c for c in result.checks if disclosure(c, audience) is Disclosure.SHOWN]
            score = sum(c.points for c in shown)
            maximum = sum(c.max_points for c in shown)
            text = pages.points_text(score, maximum, so_far=True)
            return text, {
                "score": format_points(score),
                "max_score": format_points(maximum),
                "complete": False,
            }
        text = pages.points_text(standing.final, standing.max_score, so_far=False)
        return text, {
            "score": format_points(standing.final),
            "max_score": format_points(standing.max_score),
            "complete": True,
        }

    def late_text(self, stored: store.Stored) -> str:
        if self.assignment.due is None:
            return ""
        lateness = assess(stored.received_at, self.assignment.due, self.assignment.late_policy)
        return "" if lateness.days_late == 0 else lateness.describe()

    def attempt(self, stored: store.Stored, audience: str) -> pages.Attempt:
        return pages.Attempt(
            stored.public_id,
            stored.received_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            stored.status,
            self.shown_score(stored, audience)[0],
            self.late_text(stored),
        )

    def accepted_name(self, filename: str) -> str:
        """The name the upload is stored under, or ``Refused`` (415)."""
        name = Path(filename.replace("\\", "/")).name
        graded = self.assignment.graded_file
        if name == graded or (name.endswith(".ipynb") and id_problem(name) is None):
            return name
        raise Refused(
            415, f"submit {graded} or a notebook (.ipynb), not {name or 'a nameless file'}"
        )


def html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=headers)


async def _read_capped(request: Request, cap: int) -> bytes:
    """The request body, refused (413) past ``cap`` bytes before any more is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Refused(413, f"the upload is larger than the {cap // 1024} KiB allowed")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise Refused(413, f"the upload is larger than the {cap // 1024} KiB allowed")
    return bytes(body)


async def read_upload(service: Service, request: Request) -> tuple[str, bytes, dict[str, str]]:
    """(stored name, bytes, other form fields) of a multipart upload, within the limits."""
    cap = service.max_bytes + UPLOAD_OVERHEAD
    body = await _read_capped(request, cap)
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
    except Exception as exc:  # the multipart parser's errors have no common base
        raise Refused(400, "not a file upload (multipart/form-data with a 'file' field)") from exc
    upload = form.get("file")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not isinstance(upload, UploadFile):
        raise Refused(400, "no file in the upload (the form field is named 'file')")
    data = await upload.read()
    await form.close()
    name = service.accepted_name(upload.filename or "")
    if len(data) > service.max_bytes:
        raise Refused(413, f"the file is larger than the {service.max_bytes // 1024} KiB allowed")
    if not data:
        raise Refused(400, "the file is empty")
    return name, data, fields


async def receive_upload(
    service: Service, person: tokens.Person, name: str, data: bytes
) -> tuple[store.Stored, bool]:
    """Store an upload off the event loop: ``Refused`` (429) beyond the hourly limit."""

    def work() -> tuple[store.Stored, bool]:
        a = service.assignment
        try:
            return store.receive(
                service.engine,
                service.out,
                person.student,
                a.name,
                name,
                data,
                a.serve.attempts_per_hour,
            )
        except store.RateLimited as limited:
            raise Refused(429, str(limited), {"Retry-After": str(limited.retry_after)}) from None

    return await asyncio.to_thread(work)


def owns(person: tokens.Person, stored: store.Stored | None) -> bool:
    """Whether ``person`` may see ``stored``: its student, or the instructor."""
    return stored is not None and (
        person.role == tokens.INSTRUCTOR or stored.student == person.student
    )
