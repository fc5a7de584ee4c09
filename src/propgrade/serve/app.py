"""The Starlette application of ``propgrade serve``.

Who is asking comes from a token: the ``Authorization: Bearer`` header (``propgrade
submit``) or the cookie set by signing in (browsers). Tokens travel only in headers and
form bodies, never in a URL, so no access log holds one. Forms signed in by cookie carry
a CSRF token derived from the signed-in token. Every page is built with escaping and
served with a Content-Security-Policy that forbids scripts.

A student sees only their own submissions: any other id answers 404, as an unknown one
does. The instructor's token opens the dashboard and every page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from propgrade.config import AssignmentConfig
from propgrade.engine.results import SubmissionResult, format_points
from propgrade.engine.standing import Standing, standing_of
from propgrade.gradebook import grades_csv_with_late
from propgrade.intake.late import assess
from propgrade.intake.student_ids import id_problem
from propgrade.reports.class_report import render_class_report
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import INSTRUCTOR, RELEASED, STUDENT, Disclosure, disclosure
from propgrade.serve import pages, store, tokens
from propgrade.serve.db import DONE, people, reader

COOKIE = "propgrade_session"
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


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _person(service: Service, token: str) -> tokens.Person | None:
    return await asyncio.to_thread(tokens.who, service.engine, token)


Handler = Callable[[Request], Awaitable[Response]]


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
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


async def _upload(service: Service, request: Request) -> tuple[str, bytes, dict[str, str]]:
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


async def _receive(
    service: Service, person: tokens.Person, name: str, data: bytes
) -> tuple[store.Stored, bool]:
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


def _own(person: tokens.Person, stored: store.Stored | None) -> bool:
    return stored is not None and (
        person.role == tokens.INSTRUCTOR or stored.student == person.student
    )


def build_app(service: Service) -> Any:
    """The application; ``service`` holds the database and the assignment."""

    async def cookie_person(request: Request) -> tuple[tokens.Person | None, str]:
        token = request.cookies.get(COOKIE, "")
        return await _person(service, token), token

    def signed_in(handler: Callable[[Request, tokens.Person, str], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            person, token = await cookie_person(request)
            if person is None:
                if request.method == "GET" and request.url.path == "/":
                    return _html(pages.sign_in())
                return RedirectResponse("/", status_code=303)
            if request.method == "POST" and request.url.path != "/upload":
                form = await request.form(max_files=0, max_fields=4)
                if not tokens.csrf_ok(token, str(form.get("csrf", ""))):
                    return _html(
                        pages.problem("Refused", "the form has expired; reload the page"), 403
                    )
            return await handler(request, person, token)

        return wrapped

    def instructor(
        handler: Callable[[Request, tokens.Person, str], Awaitable[Response]],
    ) -> Handler:
        async def only(request: Request, person: tokens.Person, token: str) -> Response:
            if person.role != tokens.INSTRUCTOR:
                return _html(pages.problem("Not found", "there is no such page"), 404)
            return await handler(request, person, token)

        return signed_in(only)

    async def home(request: Request, person: tokens.Person, token: str) -> Response:
        if person.role == tokens.INSTRUCTOR:
            return RedirectResponse("/instructor", status_code=303)
        a = service.assignment
        attempts = await asyncio.to_thread(store.history, service.engine, person.student, a.name)
        audience = await asyncio.to_thread(service.audience, person)
        rules = []
        if a.due is not None:
            rules.append(f"Due {a.due.isoformat()}; the server's receipt time counts.")
        if a.serve.attempts_per_hour is not None:
            rules.append(f"At most {a.serve.attempts_per_hour} attempts per hour.")
        rules.append(f"The {a.serve.counts} graded attempt counts.")
        accepts = f"{a.graded_file} or notebook (at most {service.max_bytes // 1024} KiB)"
        text = pages.home(
            person.student,
            a.name,
            accepts,
            tokens.csrf_token(token),
            [service.attempt(s, audience) for s in attempts],
            rules,
        )
        return _html(text)

    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=2)
        token = str(form.get("token", "")).strip()
        person = await _person(service, token)
        if person is None:
            return _html(pages.sign_in("That token is not known here."), 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=180 * 24 * 3600,
        )
        return response

    async def logout(request: Request, person: tokens.Person, token: str) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def upload_form(request: Request, person: tokens.Person, token: str) -> Response:
        try:
            name, data, fields = await _upload(service, request)
            if not tokens.csrf_ok(token, fields.get("csrf", "")):
                raise Refused(403, "the form has expired; reload the page")
            stored, new = await _receive(service, person, name, data)
        except Refused as refused:
            return _html(
                pages.problem("Not accepted", refused.message), refused.status, refused.headers
            )
        suffix = "" if new else "?same=1"
        return RedirectResponse(f"/s/{stored.public_id}{suffix}", status_code=303)

    async def status_page(request: Request, person: tokens.Person, token: str) -> Response:
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not _own(person, stored):
            return _html(pages.problem("Not found", "there is no such submission"), 404)
        assert stored is not None
        audience = await asyncio.to_thread(service.audience, person)
        attempt = service.attempt(stored, audience)
        detail = ""
        if stored.status == DONE:
            _, fields = service.shown_score(stored, audience)
            detail = (
                "Every check is counted."
                if fields.get("complete")
                else "Visible checks only: the others are shown after the due date."
            )
        duplicate = request.query_params.get("same") == "1"
        return _html(pages.status(attempt, detail, duplicate))

    async def feedback(request: Request, person: tokens.Person, token: str) -> Response:
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not _own(person, stored):
            return _html(pages.problem("Not found", "there is no such submission"), 404)
        assert stored is not None
        result = stored.result()
        if result is None:
            return RedirectResponse(f"/s/{stored.public_id}", status_code=303)
        audience = await asyncio.to_thread(service.audience, person)
        text = render_student_page(
            result, audience=audience, standing=service.standing(stored, result)
        )
        return _html(text)

    # -- the API of `propgrade submit` -------------------------------------------------

    async def api_person(request: Request) -> tokens.Person | None:
        return await _person(service, _bearer(request))

    def api_view(stored: store.Stored, audience: str, new: bool | None = None) -> dict[str, Any]:
        _, score = service.shown_score(stored, audience)
        view: dict[str, Any] = {
            "id": stored.public_id,
            "status": stored.status,
            "received_at": stored.received_at.isoformat(),
            "page": f"/s/{stored.public_id}",
            "feedback": f"/s/{stored.public_id}/feedback",
            **score,
        }
        late = service.late_text(stored)
        if late:
            view["late"] = late
        if new is not None:
            view["new"] = new
        return view

    async def api_submit(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        try:
            name, data, _ = await _upload(service, request)
            stored, new = await _receive(service, person, name, data)
        except Refused as refused:
            return JSONResponse({"error": refused.message}, refused.status, refused.headers)
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse(api_view(stored, audience, new), 201 if new else 200)

    async def api_status(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not _own(person, stored):
            return JSONResponse({"error": "no such submission"}, 404)
        assert stored is not None
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse(api_view(stored, audience))

    async def api_history(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        attempts = await asyncio.to_thread(
            store.history, service.engine, person.student, service.assignment.name
        )
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse({"submissions": [api_view(s, audience) for s in attempts]})

    # -- the instructor ----------------------------------------------------------------

    def class_state() -> tuple[list[pages.Row], list[tuple[SubmissionResult, Standing]], int]:
        everyone = store.everyone(service.engine, service.assignment.name)
        by_student: dict[str, list[store.Stored]] = {}
        for s in everyone:
            by_student.setdefault(s.student, []).append(s)
        with reader(service.engine).connect() as conn:
            roster = [
                r.student
                for r in conn.execute(
                    sa.select(people.c.student)
                    .where(people.c.role == tokens.STUDENT)
                    .order_by(people.c.student)
                )
            ]
        rows: list[pages.Row] = []
        entries: list[tuple[SubmissionResult, Standing]] = []
        pending = 0
        for student in sorted(set(roster) | set(by_student)):
            attempts = by_student.get(student, [])
            waiting = sum(1 for a in attempts if a.status != DONE)
            pending += waiting
            counted = _counted(service, attempts)
            if counted is None:
                rows.append(pages.Row(student, len(attempts), "", waiting))
                continue
            stored, result, standing = counted
            entries.append((result, standing))
            text = pages.points_text(standing.final, standing.max_score, so_far=False)
            rows.append(pages.Row(student, len(attempts), text, waiting, stored.public_id))
        return rows, entries, pending

    async def dashboard(request: Request, person: tokens.Person, token: str) -> Response:
        rows, _, pending = await asyncio.to_thread(class_state)
        a = service.assignment
        released = await asyncio.to_thread(service.released)
        due = a.due.isoformat() if a.due else "no due date is set"
        return _html(
            pages.dashboard(
                a.name,
                rows,
                tokens.csrf_token(token),
                counts=a.serve.counts,
                released=released,
                due=due,
                can_release=a.due is not None and store.now() >= a.due,
                queued=pending,
            )
        )

    async def class_report(request: Request, person: tokens.Person, token: str) -> Response:
        _, entries, _ = await asyncio.to_thread(class_state)
        results = [r for r, _ in entries]
        standings = {r.student: s for r, s in entries}
        sandbox = results[0].meta.get("sandbox", "") if results else ""
        return _html(render_class_report(results, sandbox=str(sandbox), standings=standings))

    async def class_feedback(request: Request, person: tokens.Person, token: str) -> Response:
        # The class report links each student as <student>/feedback.html beside it.
        _, entries, _ = await asyncio.to_thread(class_state)
        for result, standing in entries:
            if result.student == request.path_params["student"]:
                return _html(render_student_page(result, audience=INSTRUCTOR, standing=standing))
        return _html(pages.problem("Not found", "no graded attempt of this student"), 404)

    async def grades(request: Request, person: tokens.Person, token: str) -> Response:
        _, entries, _ = await asyncio.to_thread(class_state)
        check_ids = [c.id for c in service.assignment.checks]
        return Response(
            grades_csv_with_late(entries, check_ids),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="grades.csv"'},
        )

    async def regrade(request: Request, person: tokens.Person, token: str) -> Response:
        await asyncio.to_thread(store.regrade_all, service.engine, service.assignment.name)
        return RedirectResponse("/instructor", status_code=303)

    async def release(request: Request, person: tokens.Person, token: str) -> Response:
        due = service.assignment.due
        if due is None or store.now() < due:
            return _html(pages.problem("Not yet", "feedback is released after the due date"), 409)
        await asyncio.to_thread(store.set_setting, service.engine, RELEASED_KEY, "yes")
        return RedirectResponse("/instructor", status_code=303)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "assignment": service.assignment.name})

    routes = [
        Route("/", signed_in(home), methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", signed_in(logout), methods=["POST"]),
        Route("/upload", signed_in(upload_form), methods=["POST"]),
        Route("/s/{sid}", signed_in(status_page), methods=["GET"]),
        Route("/s/{sid}/feedback", signed_in(feedback), methods=["GET"]),
        Route("/api/submissions", api_submit, methods=["POST"]),
        Route("/api/submissions", api_history, methods=["GET"]),
        Route("/api/submissions/{sid}", api_status, methods=["GET"]),
        Route("/instructor", instructor(dashboard), methods=["GET"]),
        Route("/instructor/class/report.html", instructor(class_report), methods=["GET"]),
        Route(
            "/instructor/class/{student}/feedback.html", instructor(class_feedback), methods=["GET"]
        ),
        Route("/instructor/grades.csv", instructor(grades), methods=["GET"]),
        Route("/instructor/regrade", instructor(regrade), methods=["POST"]),
        Route("/instructor/release", instructor(release), methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    return _with_headers(app)


def _counted(
    service: Service, attempts: list[store.Stored]
) -> tuple[store.Stored, SubmissionResult, Standing] | None:
    """The attempt that counts (grading.yaml: latest or best, by final score)."""
    graded: list[tuple[store.Stored, SubmissionResult, Standing]] = []
    for stored in attempts:
        result = stored.result()
        if stored.status == DONE and result is not None:
            graded.append((stored, result, service.standing(stored, result)))
    if not graded:
        return None
    if service.assignment.serve.counts == "best":
        # The best final score; of equal ones, the earliest.
        return max(graded, key=lambda g: (g[2].final, -g[0].received_at.timestamp()))
    return max(graded, key=lambda g: (g[0].received_at, g[0].id))


SECURITY_HEADERS = {
    "content-security-policy": pages.CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def _with_headers(app: Starlette) -> Any:
    """The security headers on every response, whatever route made it."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, sending)

    return asgi
